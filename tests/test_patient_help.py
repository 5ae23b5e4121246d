"""Patients who wait or are stuck get help: who to contact, an email when their questions are
answered; the surgeon learns of a locked link; a new link only after confirming."""

import datetime
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from consent.contact import contact_for
from consent.documents import check_seal
from consent.models import AuditEvent, Team
from consent.services import (
    PatientDetails,
    consent_answer_question,
    consent_ask_question,
    consent_issue,
    link_verify_identity,
)
from procedures.models import Procedure

from .helpers import DOB, issue, pass_checks, patient_actor, ready_to_sign, sign, surgeon_actor
from .test_patient_views import WRONG, link_url, sign_in, visible

ROOT = settings.BASE_DIR
pytestmark = pytest.mark.usefixtures("library")


@pytest.fixture(autouse=True)
def hospital(settings):
    settings.HOSPITAL_NAME = "St Elsewhere"
    settings.HOSPITAL_PHONE = "+44 (0)20 7946 0000"
    settings.HOSPITAL_EMAIL = "surgery@st-elsewhere.example"


@pytest.fixture
def team(surgeon):
    team = Team.objects.create(name="Spine <b>team</b>", phone="020 7946 0999")
    team.members.add(surgeon)
    return team


def issue_for(surgeon, *, team=None, email=""):
    return consent_issue(
        actor=surgeon_actor(surgeon),
        patient=PatientDetails(full_name="Ada Lovelace", date_of_birth=DOB, email=email),
        procedure=Procedure.objects.get(slug="lumbar-rhizotomy"),
        planned_date=timezone.localdate() + datetime.timedelta(days=14),
        team=team,
    )


def actions(consent) -> list[str]:
    return list(AuditEvent.objects.filter(consent=consent).values_list("action", flat=True))


class TestWhoToContact:
    def test_it_is_the_hospital_without_a_team(self, surgeon):
        consent, _ = issue(surgeon)
        contact = contact_for(consent)
        assert contact.name == "St Elsewhere"
        assert contact.phone == "+44 (0)20 7946 0000" and contact.tel == "+4402079460000"
        assert contact.email == "surgery@st-elsewhere.example"

    def test_a_teams_own_details_replace_the_hospitals_one_by_one(self, surgeon, team):
        consent, _ = issue_for(surgeon, team=team)
        contact = contact_for(consent)
        assert contact.name == "Spine <b>team</b> at St Elsewhere"
        assert contact.tel == "02079460999"
        assert contact.email == "surgery@st-elsewhere.example"  # the team has none

    def test_with_nothing_set_it_still_names_someone(self, surgeon, settings):
        settings.HOSPITAL_PHONE = settings.HOSPITAL_EMAIL = ""
        assert contact_for(None).as_text() == "If you need help, contact St Elsewhere."


class TestContactOnPatientPages:
    def test_a_locked_link_shows_the_teams_number_to_dial_escaped(self, client, surgeon, team):
        _, issued = issue_for(surgeon, team=team)
        for _ in range(settings.IDENTITY_MAX_ATTEMPTS):
            response = client.post(link_url(issued), WRONG)
        assert response.status_code == 403
        assert 'href="tel:02079460999"' in response.text
        assert "Spine &lt;b&gt;team&lt;/b&gt; at St Elsewhere" in response.text
        assert "<b>team</b>" not in response.text
        assert 'href="mailto:surgery@st-elsewhere.example"' in response.text

    def test_an_unknown_link_and_an_ended_session_show_the_hospitals(self, client, db):
        for response in (
            client.get(reverse("patient_link", args=["nope"])),
            client.get(reverse("patient_start")),
        ):
            assert response.status_code in (404, 401)
            assert 'href="tel:+4402079460000"' in response.text

    def test_the_done_and_withdraw_pages_show_it(self, client, surgeon, team):
        _, issued = issue_for(surgeon, team=team)
        sign_in(client, issued)
        client.post(reverse("patient_withdraw"), {"reason": ""})
        for url in (reverse("patient_done"), reverse("patient_withdraw")):
            assert 'href="tel:02079460999"' in client.get(url).text, url

    def test_the_error_pages_show_the_hospitals(self, client, db):
        from consent.views.errors import bad_request, server_error

        assert "tel:+4402079460000" in server_error(None).content.decode()
        assert "tel:+4402079460000" in bad_request(None).content.decode()
        assert "tel:+4402079460000" in client.get("/no-such-page/").text

    def test_the_printed_handout_says_who_to_call(self, client, surgeon, team):
        consent, _ = issue_for(surgeon, team=team)
        client.force_login(surgeon)
        page = client.post(
            reverse("consent_reissue", args=[consent.pk]), {"confirm": "on"}, follow=True
        ).text
        handout = page[page.index('<section class="handout"') :]
        assert "call 020 7946 0999" in handout
        assert "Spine &lt;b&gt;team&lt;/b&gt;" in handout


class TestWaitingForAnAnswer:
    def ask(self, client, surgeon, email):
        consent, issued = issue_for(surgeon, email=email)
        sign_in(client, issued)
        for item in consent.items.filter(not_applicable=False):
            client.post(reverse("patient_acknowledge", args=[item.pk]), {"acknowledged": "1"})
        pass_checks(consent)
        item = consent.items.first()
        response = client.post(
            reverse("patient_question", args=[item.pk]), {"question": "Will it hurt?"}, follow=True
        )
        return consent, response

    def test_the_patient_with_an_email_is_told_they_will_get_one(self, client, surgeon):
        _, response = self.ask(client, surgeon, "ada@example.org")
        assert "We will email you when there is an answer." in visible(response)
        page = visible(client.get(reverse("patient_review")))
        assert "We will send an email to ada@example.org when there is an answer" in page
        assert "call +44 (0)20 7946 0000" in page

    def test_the_patient_without_one_is_told_to_come_back_or_call(self, client, surgeon):
        _, response = self.ask(client, surgeon, "")
        assert "Open your link again later to see the answer." in visible(response)
        page = visible(client.get(reverse("patient_review")))
        assert "We cannot email you" in page and "call your surgeon's team" in page


class TestAnswerEmail:
    def answer_all(self, consent, surgeon, capture, texts=("Soon.",)):
        questions = [
            consent_ask_question(
                consent=consent, item_id=consent.items.first().pk, text=f"Q{n}?", actor=PATIENT
            )
            for n in range(len(texts))
        ]
        mail.outbox.clear()
        for question, text in zip(questions, texts, strict=True):
            with capture(execute=True):
                consent_answer_question(
                    consent=consent,
                    question_id=question.pk,
                    text=text,
                    actor=surgeon_actor(surgeon),
                )

    def test_the_patient_is_emailed_once_every_question_is_answered(
        self, surgeon, team, django_capture_on_commit_callbacks
    ):
        consent, issued = issue_for(surgeon, team=team, email="ada@example.org")
        link_verify_identity(link=issued.link, date_of_birth=DOB, actor=PATIENT)
        self.answer_all(
            consent, surgeon, django_capture_on_commit_callbacks, ("It is <b>rare</b>.", "No.")
        )
        assert len(mail.outbox) == 1  # not one per answer: when the last one comes
        message = mail.outbox[0]
        assert message.to == ["ada@example.org"]
        assert "has answered your question" in message.body
        assert "rare" not in message.body and "Q0" not in message.body  # no clinical content
        assert "/p/" not in message.body  # the link is never sent again
        assert "Spine <b>team</b> at St Elsewhere: call 020 7946 0999" in message.body
        assert message.alternatives == [] and message.content_subtype == "plain"
        assert actions(consent).count("answer_emailed") == 1

    def test_a_failed_email_is_audited_as_failed(
        self, surgeon, settings, django_capture_on_commit_callbacks
    ):
        settings.EMAIL_BACKEND = "tests.test_patient_help.BrokenBackend"
        consent, issued = issue_for(surgeon, email="ada@example.org")
        link_verify_identity(link=issued.link, date_of_birth=DOB, actor=PATIENT)
        self.answer_all(consent, surgeon, django_capture_on_commit_callbacks)
        assert "answer_email_failed" in actions(consent)
        assert "answer_emailed" not in actions(consent)

    def test_a_patient_without_email_gets_none_and_nothing_is_audited(
        self, surgeon, django_capture_on_commit_callbacks
    ):
        consent, issued = issue_for(surgeon)
        link_verify_identity(link=issued.link, date_of_birth=DOB, actor=PATIENT)
        self.answer_all(consent, surgeon, django_capture_on_commit_callbacks)
        assert mail.outbox == []
        assert not {"answer_emailed", "answer_email_failed"} & set(actions(consent))


PATIENT = patient_actor()


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise OSError("mail server down")


class TestLockedLink:
    def lock(self, client, issued, capture):
        with capture(execute=True):
            for _ in range(settings.IDENTITY_MAX_ATTEMPTS):
                client.post(link_url(issued), WRONG)

    def test_the_surgeon_and_team_are_emailed_and_it_is_audited(
        self, client, surgeon, team, django_capture_on_commit_callbacks
    ):
        team.email = "spine@st-elsewhere.example"
        team.save()
        consent, issued = issue_for(surgeon, team=team)
        mail.outbox.clear()
        self.lock(client, issued, django_capture_on_commit_callbacks)
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.to == ["owner@example.org", "spine@st-elsewhere.example"]
        assert "locked" in message.subject
        assert f"{settings.SITE_URL}/consents/{consent.pk}/" in message.body
        assert "Ada" not in message.body  # no patient details in an email
        assert actions(consent).count("lock_emailed") == 1

    def test_the_dashboard_and_consent_page_say_locked_with_the_way_out(
        self, client, surgeon, django_capture_on_commit_callbacks
    ):
        consent, issued = issue(surgeon)
        self.lock(client.__class__(), issued, django_capture_on_commit_callbacks)
        client.force_login(surgeon)
        reissue = reverse("consent_reissue", args=[consent.pk])
        dashboard = client.get(reverse("home")).text
        row = dashboard[dashboard.index("Ada Lovelace") :]
        row = row[: row.index("</tr>")]
        assert "Locked" in row and f'href="{reissue}"' in row
        page = client.get(reverse("consent_detail", args=[consent.pk])).text
        assert "link is locked" in page and f'href="{reissue}"' in page

    def test_an_unlocked_consent_is_not_said_to_be_locked(self, client, surgeon):
        issue(surgeon)
        client.force_login(surgeon)
        assert "Locked" not in client.get(reverse("home")).text

    def test_the_dashboard_query_count_does_not_grow_with_locked_rows(
        self, client, surgeon, django_capture_on_commit_callbacks
    ):
        client.force_login(surgeon)

        def count():
            with CaptureQueriesContext(connection) as queries:
                assert client.get(reverse("home")).status_code == 200
            return len(queries)

        _, issued = issue(surgeon)
        self.lock(client.__class__(), issued, django_capture_on_commit_callbacks)
        one = count()
        for _ in range(4):
            _, issued = issue(surgeon)
            self.lock(client.__class__(), issued, django_capture_on_commit_callbacks)
        assert count() == one


class TestNewLinkIsConfirmed:
    def test_without_the_box_ticked_nothing_changes(self, client, surgeon):
        consent, issued = issue(surgeon)
        client.force_login(surgeon)
        response = client.post(reverse("consent_reissue", args=[consent.pk]), {})
        assert response.status_code == 400
        assert "Tick the box to confirm" in response.text
        assert consent.links.count() == 1
        assert client.get(link_url(issued)).status_code == 200  # the old link still works

    def test_the_consent_page_asks_before_it_makes_one(self, client, surgeon):
        consent, _ = issue(surgeon)
        client.force_login(surgeon)
        page = client.get(reverse("consent_detail", args=[consent.pk])).text
        reissue = reverse("consent_reissue", args=[consent.pk])
        assert f'href="{reissue}"' in page and f'action="{reissue}"' not in page

    def test_a_signed_consent_is_not_offered_one_and_a_post_is_refused(self, client, surgeon):
        consent, _ = ready_to_sign(surgeon)
        sign(consent)
        client.force_login(surgeon)
        reissue = reverse("consent_reissue", args=[consent.pk])
        assert reissue not in client.get(reverse("consent_detail", args=[consent.pk])).text
        page = client.get(reissue)
        assert "this consent is signed" in page.text and "confirm" not in page.text
        response = client.post(reissue, {"confirm": "on"}, follow=True)
        assert "A new link cannot be made: this consent is signed." in response.text
        assert consent.links.count() == 1

    def test_someone_elses_consent_is_a_404(self, client, surgeon, outsider):
        consent, _ = issue(surgeon)
        client.force_login(outsider)
        assert client.get(reverse("consent_reissue", args=[consent.pk])).status_code == 404

    def test_a_colleague_is_told_only_the_issuing_surgeon_can(
        self, client, surgeon, colleague, team
    ):
        team.members.add(colleague)
        consent, _ = issue_for(surgeon, team=team)
        client.force_login(colleague)
        page = client.get(reverse("consent_reissue", args=[consent.pk])).text
        assert "Only the issuing surgeon can make a new link." in page


def test_an_unreadable_pdf_gets_plain_words_not_an_exception_name():
    check = check_seal(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog")
    assert not check.valid
    assert check.reason == "the file cannot be read as a PDF: it may be incomplete or damaged"


def site_url(**env) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in {"SITE_URL", "PORT"}}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import "
            "settings; print(settings.SITE_URL)",
        ],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DOTENV_FILE": "",
            "DEBUG": "1",
            **env,
        },
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_site_url_follows_the_port_unless_it_is_set():
    assert site_url() == "http://127.0.0.1:8000"
    assert site_url(PORT="8110") == "http://127.0.0.1:8110"
    assert site_url(PORT="8110", SITE_URL="https://consent.example.org") == (
        "https://consent.example.org"
    )


def test_make_run_passes_the_port_and_sends_the_demos_emails_to_files():
    # make from the PATH, as a developer runs it
    command = ["make", "-n", "run", "PORT=8110"]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout  # noqa: S603
    assert "runserver 127.0.0.1:8110" in out
    makefile = (ROOT / "Makefile").read_text()
    assert "run: export SITE_URL ?= http://$(HOST):$(PORT)" in makefile
    assert "run: export EMAIL_FILE_PATH ?= $(CURDIR)/var/run/mail" in makefile
    # The sign-in line comes last: ensure_demo_surgeon prints after seed_demo.
    assert out.rindex("ensure_demo_surgeon\n") > out.index("seed_demo")
