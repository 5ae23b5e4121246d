import pytest
from django.urls import reverse

from consent.models import Consent, ConsentStatus
from procedures.models import Procedure

from .helpers import issue, issue_form_data, ready_to_sign, sign, surgeon_actor

pytestmark = pytest.mark.usefixtures("library")


class TestIssueConsent:
    def test_a_surgeon_picks_a_procedure(self, client, surgeon):
        client.force_login(surgeon)
        page = client.get(reverse("consent_new"))
        assert page.status_code == 200
        assert "Lumbar rhizotomy" in page.text
        assert "Starter content: needs clinical review" in page.text

    def test_a_surgeon_issues_a_consent_and_sees_the_link_once(self, client, surgeon):
        client.force_login(surgeon)
        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        skipped = procedure.items.get(title="Risks of the anaesthetic")
        data = issue_form_data(
            procedure,
            **{
                f"na_{skipped.pk}": "on",
                f"na_reason_{skipped.pk}": "Local anaesthetic only.",
                "extra-0-title": "Your previous back operation",
                "extra-0-explanation": "Scar tissue makes the operation a little harder.",
                "extra-0-severity": "uncommon",
                "extra-0-frequency": "",
                "extra-1-severity": "uncommon",
            },
        )
        response = client.post(reverse("consent_new_for", args=[procedure.slug]), data)
        consent = Consent.objects.get()
        assert response["Location"] == reverse("consent_detail", args=[consent.pk])
        assert consent.patient.full_name == "Grace Hopper"
        assert consent.items.count() == 7
        assert consent.items.get(title="Risks of the anaesthetic").not_applicable

        page = client.get(response["Location"])
        assert "shown only now" in page.text
        assert "http://testserver/p/" in page.text
        assert "<svg" in page.text and "Copy link" in page.text
        link = page.text.split('id="patient-link" type="text" readonly value="')[1].split('"')[0]
        assert client.get(link).status_code == 200  # the link works...
        again = client.get(reverse("consent_detail", args=[consent.pk]))
        assert "shown only now" not in again.text  # ...and is not shown a second time
        assert link not in again.text

    def test_missing_fields_and_reasons_are_explained(self, client, surgeon):
        client.force_login(surgeon)
        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        item = procedure.items.first()
        data = issue_form_data(
            procedure,
            full_name="",
            planned_date="2000-01-01",
            **{
                f"na_{item.pk}": "on",
                "extra-0-title": "Only a title",
                "extra-0-severity": "common",
                "extra-1-severity": "common",
            },
        )
        page = client.post(reverse("consent_new_for", args=[procedure.slug]), data)
        assert page.status_code == 200
        assert "This field is required" in page.text
        assert "cannot be in the past" in page.text
        assert "Give a reason why this risk does not apply" in page.text
        assert "needs both a title and an explanation" in page.text
        assert not Consent.objects.exists()

    def test_a_date_of_birth_in_the_future_is_explained_and_the_form_kept(self, client, surgeon):
        client.force_login(surgeon)
        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        data = issue_form_data(procedure, date_of_birth="2999-01-01")
        page = client.post(reverse("consent_new_for", args=[procedure.slug]), data)
        assert page.status_code == 200
        assert "The date of birth must be in the past." in page.text
        assert 'value="2999-01-01"' in page.text and 'value="H-77"' in page.text
        assert not Consent.objects.exists()

    def test_a_user_who_is_not_a_surgeon_cannot_issue(self, client, plain_user):
        client.force_login(plain_user)
        assert client.get(reverse("consent_new")).status_code == 403

    def test_anonymous_visitors_are_sent_to_sign_in(self, client):
        assert client.get(reverse("consent_new")).status_code == 302


class TestConsentPage:
    def test_the_owner_sees_the_consent(self, client, surgeon):
        consent, _ = issue(surgeon)
        client.force_login(surgeon)
        page = client.get(reverse("consent_detail", args=[consent.pk]))
        assert page.status_code == 200
        assert "Ada Lovelace" in page.text
        assert consent.content_sha256 in page.text
        assert "Consent issued by the surgeon" in page.text

    def test_someone_elses_consent_is_a_404(self, client, surgeon, outsider):
        consent, _ = issue(surgeon)
        client.force_login(outsider)
        assert client.get(reverse("consent_detail", args=[consent.pk])).status_code == 404
        assert (
            client.post(
                reverse("consent_reissue", args=[consent.pk]), {"confirm": "on"}
            ).status_code
            == 404
        )
        assert (
            client.post(reverse("consent_revoke", args=[consent.pk]), {"reason": "x"}).status_code
            == 404
        )
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.ISSUED

    def test_the_home_page_lists_only_my_consents(self, client, surgeon, outsider):
        issue(surgeon, full_name="Mine Patient")
        issue(outsider, full_name="Their Patient")
        client.force_login(surgeon)
        page = client.get(reverse("home"))
        assert "Mine Patient" in page.text
        assert "Their Patient" not in page.text

    def test_reissuing_shows_a_new_link_once(self, client, surgeon):
        consent, old = issue(surgeon)
        client.force_login(surgeon)
        response = client.post(
            reverse("consent_reissue", args=[consent.pk]), {"confirm": "on"}, follow=True
        )
        assert "shown only now" in response.text
        assert "The old link no longer works" in response.text
        assert old.token not in response.text
        assert (
            "This link has been replaced"
            in client.get(reverse("patient_link", args=[old.token])).text
        )

    def test_revoking_needs_a_reason_and_then_closes_the_consent(self, client, surgeon):
        consent, _ = issue(surgeon)
        client.force_login(surgeon)
        response = client.post(
            reverse("consent_revoke", args=[consent.pk]), {"reason": ""}, follow=True
        )
        assert "Give a reason" in response.text
        response = client.post(
            reverse("consent_revoke", args=[consent.pk]),
            {"reason": "Surgery cancelled"},
            follow=True,
        )
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.REVOKED
        assert "was revoked" in response.text
        response = client.post(
            reverse("consent_revoke", args=[consent.pk]), {"reason": "again"}, follow=True
        )
        assert "cannot be revoked" in response.text

    def test_revoke_needs_a_post_and_a_get_of_reissue_only_asks(self, client, surgeon):
        consent, _ = issue(surgeon)
        client.force_login(surgeon)
        response = client.get(reverse("consent_reissue", args=[consent.pk]))
        assert response.status_code == 200 and "will stop working" in response.text
        assert consent.links.count() == 1
        assert client.get(reverse("consent_revoke", args=[consent.pk])).status_code == 405


class TestRecordWithdrawal:
    """A signed patient whose link is gone tells the team; the issuing surgeon records it."""

    def signed(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        sign(consent)
        consent.refresh_from_db()
        return consent

    def test_the_surgeon_records_it_and_the_audit_says_who(self, client, surgeon):
        consent = self.signed(surgeon)
        client.force_login(surgeon)
        page = client.get(reverse("consent_detail", args=[consent.pk]))
        assert "Record the patient's withdrawal" in page.text
        response = client.post(
            reverse("consent_record_withdrawal", args=[consent.pk]),
            {"reason": "Phoned the clinic: <b>wants</b> to wait a year."},
        )
        assert response.status_code == 302
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.WITHDRAWN
        assert consent.signatures.exists() and consent.document
        event = consent.audit_events.get(action="consent_withdrawn")
        assert event.actor_type == "surgeon" and event.actor_user == surgeon
        assert event.details["recorded_by_team"] is True
        page = client.get(reverse("consent_detail", args=[consent.pk]))
        assert "&lt;b&gt;wants&lt;/b&gt;" in page.text
        assert "Record the patient" not in page.text

    def test_a_reason_is_required_and_kept_when_refused(self, client, surgeon):
        consent = self.signed(surgeon)
        client.force_login(surgeon)
        response = client.post(
            reverse("consent_record_withdrawal", args=[consent.pk]), {"reason": " "}
        )
        assert response.status_code == 400
        assert "Say how the patient told you" in response.text
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.SIGNED

    def test_not_offered_before_signing_or_to_a_colleague(self, client, surgeon, colleague):
        consent, _ = ready_to_sign(surgeon)
        client.force_login(surgeon)
        assert (
            "Record the patient"
            not in client.get(reverse("consent_detail", args=[consent.pk])).text
        )
        response = client.post(
            reverse("consent_record_withdrawal", args=[consent.pk]), {"reason": "asked"}
        )
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.IN_REVIEW  # the service refuses: not signed
        sign(consent)
        client.force_login(colleague)
        response = client.post(
            reverse("consent_record_withdrawal", args=[consent.pk]), {"reason": "asked"}
        )
        assert response.status_code == 404
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.SIGNED

    def test_the_service_refuses_an_empty_reason_from_the_team(self, surgeon):
        from consent.services import ConsentError, consent_withdraw

        consent = self.signed(surgeon)
        with pytest.raises(ConsentError):
            consent_withdraw(
                consent=consent, reason="", actor=surgeon_actor(surgeon), recorded_by_team=True
            )
