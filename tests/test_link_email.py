"""Emailing the patient's link: audited as emailed only once the mail server took it; a failure
is audited, told to the surgeon, and can be retried with a new link."""

import socket

import pytest
from django.core import mail
from django.urls import reverse

from consent.models import AuditEvent, Consent
from procedures.models import Procedure

from .helpers import issue_form_data

pytestmark = pytest.mark.usefixtures("library")


@pytest.fixture
def closed_smtp_port(settings):
    """Real SMTP, to a port we hold open without listening: every connection is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = held.getsockname()[1]
        settings.EMAIL_TIMEOUT = 5
        yield


@pytest.fixture
def working_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def issue_with_email(client):
    procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
    data = issue_form_data(
        procedure, email="grace@example.org", email_patient="on", **{"extra-TOTAL_FORMS": "0"}
    )
    response = client.post(reverse("consent_new_for", args=[procedure.slug]), data, follow=True)
    return Consent.objects.get(), response


def actions(consent) -> list[str]:
    return list(consent.audit_events.values_list("action", flat=True))


class TestEmailSent:
    def test_it_is_audited_after_it_went_and_said_so(self, client, surgeon, working_email):
        client.force_login(surgeon)
        consent, response = issue_with_email(client)
        assert "The link was emailed to the patient" in response.text
        assert "could not be emailed" not in response.text
        assert len(mail.outbox) == 1
        assert actions(consent) == ["consent_issued", "link_issued", "link_emailed"]
        event = consent.audit_events.get(action="link_emailed")
        assert event.details == {"link": consent.links.get().pk, "to_domain": "example.org"}


class TestEmailFailed:
    def test_a_failure_is_audited_and_the_surgeon_told(self, client, surgeon, closed_smtp_port):
        client.force_login(surgeon)
        consent, response = issue_with_email(client)
        assert "The link was emailed" not in response.text
        assert "The link could not be emailed to the patient" in response.text
        assert "shown only now" in response.text  # the link is still there to hand over
        assert actions(consent) == ["consent_issued", "link_issued", "link_email_failed"]
        assert not AuditEvent.objects.filter(action="link_emailed").exists()

    def test_the_consent_page_keeps_saying_so_and_offers_a_new_link_by_email(
        self, client, surgeon, closed_smtp_port
    ):
        client.force_login(surgeon)
        consent, _ = issue_with_email(client)
        page = client.get(reverse("consent_detail", args=[consent.pk])).text
        assert 'id="email-failed"' in page
        assert "We keep no copy of the link" in page
        assert "Email a new link" in page
        assert "Emailing the link to the patient failed" in page  # in the timeline too

    def test_a_retry_that_works_sends_a_new_link_and_clears_the_warning(
        self, client, surgeon, closed_smtp_port, settings
    ):
        client.force_login(surgeon)
        consent, _ = issue_with_email(client)
        first_link = consent.links.get()
        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

        response = client.post(
            reverse("consent_reissue", args=[consent.pk]), {"confirm": "on"}, follow=True
        )
        assert "The new link was emailed to the patient" in response.text
        assert 'id="email-failed"' not in response.text
        new_link = consent.links.get(ended_at__isnull=True)
        assert new_link != first_link
        assert len(mail.outbox) == 1 and "/p/" in mail.outbox[0].body
        emailed = consent.audit_events.get(action="link_emailed")
        assert emailed.details["link"] == new_link.pk

    def test_a_retry_that_fails_again_says_so_again(self, client, surgeon, closed_smtp_port):
        client.force_login(surgeon)
        consent, _ = issue_with_email(client)
        response = client.post(
            reverse("consent_reissue", args=[consent.pk]), {"confirm": "on"}, follow=True
        )
        assert "The new link was emailed" not in response.text
        assert "The link could not be emailed to the patient" in response.text
        assert actions(consent).count("link_email_failed") == 2

    def test_a_colleague_sees_the_warning_without_the_button(
        self, client, surgeon, colleague, closed_smtp_port
    ):
        from consent.models import Team

        team = Team.objects.create(name="Spine")
        team.members.add(surgeon, colleague)
        client.force_login(surgeon)
        consent, _ = issue_with_email(client)
        Consent.objects.filter(pk=consent.pk).update(team=team)
        client.force_login(colleague)
        page = client.get(reverse("consent_detail", args=[consent.pk])).text
        assert "The link could not be emailed" in page
        assert "Email a new link" not in page

    def test_someone_elses_consent_is_a_404(self, client, surgeon, outsider, closed_smtp_port):
        client.force_login(surgeon)
        consent, _ = issue_with_email(client)
        client.force_login(outsider)
        assert client.get(reverse("consent_detail", args=[consent.pk])).status_code == 404
        assert (
            client.post(
                reverse("consent_reissue", args=[consent.pk]), {"confirm": "on"}
            ).status_code
            == 404
        )
