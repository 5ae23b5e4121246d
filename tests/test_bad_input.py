"""Bad input gets a clear message, never a server error; what people typed is kept.

The first class holds the five causes of the server errors the fuzzer found (issue: 102 in
10,000 fuzzed requests); each was reproduced on PostgreSQL as a 500 before it was fixed.
"""

import datetime

import pytest
import time_machine
from axes.models import AccessAttempt
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from consent.actors import Actor, client_ip
from consent.forms import NUL_MESSAGE, UNEXPECTED_MESSAGE, DateOfBirthForm
from consent.models import AuditEvent, Consent, Question
from consent.services import ConsentError, PatientDetails, consent_ask_question, consent_issue
from procedures.models import Procedure

from .conftest import PASSWORD
from .helpers import DOB, issue, issue_form_data, patient_actor, surgeon_actor
from .test_patient_views import RIGHT, link_url, sign_in, visible

pytestmark = pytest.mark.usefixtures("library")

SUPERSCRIPT_AND_CIRCLED = ["²", "①"]
# Digits that int() reads as numbers but that are not 0-9: Arabic-Indic, fullwidth, Devanagari.
OTHER_DIGITS = ["\u0661\u0669\u0666\u0664", "\uff11\uff19\uff16\uff14", "\u0967\u096f\u096c\u096a"]


@pytest.fixture
def web():
    """A test client that returns a 500 instead of raising it, as a browser would see it."""
    return Client(raise_request_exception=False)


@pytest.fixture
def rhizotomy():
    return Procedure.objects.get(slug="lumbar-rhizotomy")


def issue_data(procedure, **overrides):
    return issue_form_data(
        procedure, **{"extra-0-severity": "uncommon", "extra-1-severity": "uncommon", **overrides}
    )


def patient_in_review(client, surgeon):
    consent, issued = issue(surgeon)
    sign_in(client, issued)
    return consent


class TestTheFiveCausesFromTheIssue:
    def test_a_300_character_username_is_refused_at_login(self, web, surgeon):
        response = web.post(reverse("login"), {"username": "u" * 300, "password": PASSWORD})
        assert response.status_code == 200
        assert "Usernames have at most 150 characters" in response.text

    def test_superscript_digits_in_the_ticks_form_are_refused(self, web, surgeon):
        patient_in_review(web, surgeon)
        response = web.post(reverse("patient_risks"), {"shown": ["²"], "acknowledged": ["①"]})
        assert response.status_code == 400
        assert UNEXPECTED_MESSAGE in response.text

    def test_a_nul_byte_in_a_question_is_refused(self, web, surgeon):
        consent = patient_in_review(web, surgeon)
        item = consent.items.first()
        response = web.post(
            reverse("patient_question", args=[item.pk]), {"question": "Will it\x00 hurt?"}
        )
        assert response.status_code == 400
        assert "invisible character" in response.text

    def test_a_nul_byte_in_an_admin_filter_is_refused(self, web, admin_user, surgeon):
        issue(surgeon)
        web.force_login(admin_user)
        url = reverse("admin:consent_consent_changelist")
        for name in ("procedure_name__exact", "status__exact"):
            response = web.get(url, {name: "a\x00b"})
            assert response.status_code == 400

    def test_a_planned_date_of_9999_12_31_is_refused(self, web, surgeon, rhizotomy):
        web.force_login(surgeon)
        response = web.post(
            reverse("consent_new_for", args=[rhizotomy.slug]),
            issue_data(rhizotomy, planned_date="9999-12-31"),
        )
        assert response.status_code == 200
        assert "must be within one year from today" in response.text
        assert not Consent.objects.exists()


class TestTheIssueForm:
    def test_more_than_twenty_patient_specific_risks_are_refused(self, web, surgeon, rhizotomy):
        extra = {"extra-TOTAL_FORMS": "60"}
        for n in range(60):
            extra |= {
                f"extra-{n}-title": f"Risk {n}",
                f"extra-{n}-explanation": "Explained.",
                f"extra-{n}-severity": "uncommon",
            }
        web.force_login(surgeon)
        response = web.post(
            reverse("consent_new_for", args=[rhizotomy.slug]), issue_data(rhizotomy, **extra)
        )
        assert response.status_code == 200
        assert "Add 20 patient-specific risks or fewer" in response.text
        assert not Consent.objects.exists()

    def post(self, client, surgeon, procedure, **overrides):
        client.force_login(surgeon)
        return client.post(
            reverse("consent_new_for", args=[procedure.slug]), issue_data(procedure, **overrides)
        )

    @time_machine.travel(datetime.datetime(2026, 3, 10, 12, tzinfo=datetime.UTC))
    def test_the_planned_date_may_be_one_year_ahead_and_no_more(self, client, surgeon, rhizotomy):
        response = self.post(client, surgeon, rhizotomy, planned_date="2027-03-11")
        assert "within one year from today (on or before 10 March 2027)" in visible(response)
        assert not Consent.objects.exists()
        response = self.post(client, surgeon, rhizotomy, planned_date="2027-03-10")
        assert response.status_code == 302
        assert Consent.objects.get().planned_date == datetime.date(2027, 3, 10)

    @time_machine.travel(datetime.datetime(2026, 3, 10, 12, tzinfo=datetime.UTC))
    def test_a_patient_over_120_years_old_is_refused(self, client, surgeon, rhizotomy):
        for too_old in ("1900-01-01", "1906-03-09"):
            response = self.post(client, surgeon, rhizotomy, date_of_birth=too_old)
            assert "over 120 years old" in visible(response)
            assert "on or after 10 March 1906" in visible(response)
            assert not Consent.objects.exists()
        response = self.post(client, surgeon, rhizotomy, date_of_birth="1906-03-10")
        assert response.status_code == 302

    @time_machine.travel(datetime.datetime(2026, 3, 10, 12, tzinfo=datetime.UTC))
    def test_a_patient_issued_near_the_age_bound_can_still_confirm_later(self, surgeon, rhizotomy):
        form = DateOfBirthForm({"day": "10", "month": "3", "year": "1906"})
        with time_machine.travel(datetime.datetime(2026, 4, 1, 12, tzinfo=datetime.UTC)):
            assert form.is_valid()

    def test_severity_is_asked_for_only_when_an_extra_risk_is_given(
        self, client, surgeon, rhizotomy
    ):
        response = self.post(
            client,
            surgeon,
            rhizotomy,
            **{"extra-0-severity": "", "extra-1-severity": ""},
        )
        assert response.status_code == 302  # empty optional blocks: no severity needed
        response = self.post(
            client,
            surgeon,
            rhizotomy,
            **{"extra-0-title": "Heart", "extra-0-explanation": "Why.", "extra-0-severity": ""},
        )
        assert response.status_code == 200
        assert "Choose how serious this risk is." in visible(response)
        assert 'value="Heart"' in response.text  # what was typed is kept
        assert Consent.objects.count() == 1

    def test_severity_is_not_marked_required_in_the_optional_block(
        self, client, surgeon, rhizotomy
    ):
        client.force_login(surgeon)
        page = client.get(reverse("consent_new_for", args=[rhizotomy.slug])).text
        block = page[page.index("Risks specific to this patient") :]
        assert "asteriskField" not in block and "required" not in block
        assert "Needed if you add this risk." in block

    @pytest.mark.parametrize("digits", OTHER_DIGITS)
    def test_a_date_in_other_digits_is_refused(self, client, surgeon, rhizotomy, digits):
        response = self.post(client, surgeon, rhizotomy, date_of_birth=f"{digits}-03-27")
        assert "with the digits 0 to 9" in visible(response)
        assert not Consent.objects.exists()

    def test_a_nul_in_the_name_is_refused_and_everything_typed_is_kept(
        self, client, surgeon, rhizotomy
    ):
        response = self.post(
            client, surgeon, rhizotomy, full_name="Grace\x00 Hopper", hospital_number="H-77-XY"
        )
        assert response.status_code == 200
        assert "invisible character" in response.text
        assert 'value="H-77-XY"' in response.text
        assert "Grace" in response.context["form"]["full_name"].value()
        assert not Consent.objects.exists()

    def test_overlong_values_are_refused_with_their_length(self, client, surgeon, rhizotomy):
        response = self.post(
            client,
            surgeon,
            rhizotomy,
            full_name="A" * 201,
            email=("e" * 250) + "@example.org",
            **{"extra-0-title": "Heart", "extra-0-explanation": "x" * 2001},
        )
        text = visible(response)
        assert "Please keep this to 200 characters or fewer (it has 201)" in text
        assert "Please keep this to 254 characters or fewer" in text
        assert "Please keep this to 2000 characters or fewer (it has 2001)" in text
        assert not Consent.objects.exists()

    def test_the_service_refuses_dates_out_of_range_too(self, surgeon, rhizotomy):
        today = timezone.localdate()
        cases = [
            (today + datetime.timedelta(days=367), DOB, "within one year"),
            (today + datetime.timedelta(days=10), datetime.date(1899, 12, 31), "last 120 years"),
        ]
        for planned, born, message in cases:
            with pytest.raises(ConsentError, match=message):
                consent_issue(
                    actor=surgeon_actor(surgeon),
                    patient=PatientDetails(full_name="Ada", date_of_birth=born),
                    procedure=rhizotomy,
                    planned_date=planned,
                )
        assert not Consent.objects.exists()


class TestTheDateOfBirthCheck:
    @pytest.mark.parametrize("digits", OTHER_DIGITS + SUPERSCRIPT_AND_CIRCLED)
    def test_digits_other_than_0_to_9_are_refused_and_not_counted(self, client, surgeon, digits):
        _, issued = issue(surgeon)
        response = client.post(link_url(issued), {**RIGHT, "year": digits})
        assert response.status_code == 400
        assert "in numbers (0 to 9)" in response.text
        assert f'value="{digits}"' in response.text  # what the patient typed is kept
        issued.link.refresh_from_db()
        assert issued.link.failed_attempts == 0

    def test_a_year_before_1900_is_refused(self):
        form = DateOfBirthForm({"day": "1", "month": "1", "year": "1899"})
        assert not form.is_valid()
        assert "on or after 1 January 1900" in form.non_field_errors()[0]
        assert DateOfBirthForm({"day": "1", "month": "1", "year": "1900"}).is_valid()

    def test_a_nul_is_refused_in_plain_words(self, client, surgeon):
        _, issued = issue(surgeon)
        response = client.post(link_url(issued), {**RIGHT, "day": "2\x00"})
        assert response.status_code == 400
        assert NUL_MESSAGE in response.text


class TestThePatientsForms:
    def test_a_refused_ticks_form_saves_nothing_and_shows_the_ticks_as_sent(self, client, surgeon):
        consent = patient_in_review(client, surgeon)
        first, second = consent.items.all()[:2]
        before = AuditEvent.objects.count()
        response = client.post(
            reverse("patient_risks"),
            {"shown": [first.pk, second.pk, "²"], "acknowledged": [first.pk]},
        )
        assert response.status_code == 400
        assert UNEXPECTED_MESSAGE in response.text
        assert f'id="ack-{first.pk}" checked' in response.text
        assert f'id="ack-{second.pk}" checked' not in response.text
        assert AuditEvent.objects.count() == before
        assert not consent.items.filter(acknowledged_at__isnull=False).exists()

    def test_a_risk_of_another_consent_is_refused(self, client, surgeon):
        consent = patient_in_review(client, surgeon)
        other, _ = issue(surgeon, full_name="Someone Else")
        theirs = other.items.first().pk
        response = client.post(reverse("patient_risks"), {"shown": theirs, "acknowledged": theirs})
        assert response.status_code == 400
        assert not other.items.filter(acknowledged_at__isnull=False).exists()
        assert not consent.items.filter(acknowledged_at__isnull=False).exists()

    def test_an_unknown_button_is_refused(self, client, surgeon):
        patient_in_review(client, surgeon)
        response = client.post(reverse("patient_risks"), {"action": "delete\x00"})
        assert response.status_code == 400

    @pytest.mark.parametrize("value", ["²", "yes please", "\x00", "1" * 5000])
    def test_a_tick_that_is_neither_on_nor_off_is_refused(self, client, surgeon, value):
        consent = patient_in_review(client, surgeon)
        item = consent.items.first()
        response = client.post(
            reverse("patient_acknowledge", args=[item.pk]),
            {"acknowledged": value},
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 400
        assert response.json()["error"] == UNEXPECTED_MESSAGE
        item.refresh_from_db()
        assert item.acknowledged_at is None

    def test_a_question_with_a_nul_keeps_the_text_and_saves_nothing(self, client, surgeon):
        consent = patient_in_review(client, surgeon)
        item = consent.items.first()
        response = client.post(
            reverse("patient_question", args=[item.pk]),
            {"question": "Will the scar\x00 be large?"},
        )
        assert response.status_code == 400
        assert NUL_MESSAGE in response.text
        assert "Will the scar" in response.text and "be large?" in response.text
        assert not Question.objects.exists()

    def test_an_empty_question_says_so(self, client, surgeon):
        consent = patient_in_review(client, surgeon)
        item = consent.items.first()
        response = client.post(reverse("patient_question", args=[item.pk]), {"question": "  "})
        assert response.status_code == 400
        assert "Please write your question." in response.text


class TestTheSurgeonsForms:
    def open_question(self, surgeon):
        consent, issued = issue(surgeon)
        from consent.services import link_verify_identity

        link_verify_identity(link=issued.link, date_of_birth=DOB, actor=patient_actor())
        question = consent_ask_question(
            consent=consent, item_id=consent.items.first().pk, text="Why?", actor=patient_actor()
        )
        return consent, question

    @pytest.mark.parametrize(
        ("answer", "message"),
        [("It will\x00 not.", NUL_MESSAGE), ("Yes. " * 401, "Please keep it under 2000")],
    )
    def test_a_refused_answer_says_why_and_keeps_the_text(self, client, surgeon, answer, message):
        consent, question = self.open_question(surgeon)
        client.force_login(surgeon)
        response = client.post(
            reverse("question_answer", args=[consent.pk, question.pk]), {"answer": answer}
        )
        assert response.status_code == 400
        assert message in response.text
        assert answer.replace("\x00", "")[:20] in response.text.replace("\x00", "")
        question.refresh_from_db()
        assert not question.is_answered

    def test_someone_elses_consent_is_a_404_whatever_the_input(self, client, surgeon, outsider):
        consent, question = self.open_question(surgeon)
        client.force_login(outsider)
        url = reverse("question_answer", args=[consent.pk, question.pk])
        assert client.post(url, {"answer": "x\x00"}).status_code == 404
        revoke = reverse("consent_revoke", args=[consent.pk])
        assert client.post(revoke, {"reason": "y" * 5000}).status_code == 404

    def test_a_refused_revoke_keeps_the_reason(self, client, surgeon):
        consent, _ = issue(surgeon)
        client.force_login(surgeon)
        reason = "Patient moved away. " * 60
        response = client.post(reverse("consent_revoke", args=[consent.pk]), {"reason": reason})
        assert response.status_code == 400
        assert "Please keep this to 1000 characters or fewer" in response.text
        assert reason.strip() in response.text
        consent.refresh_from_db()
        assert consent.is_open

    def test_a_bad_dashboard_filter_leaves_the_others_working(self, client, surgeon):
        issue(surgeon, full_name="Open Patient")
        revoked, _ = issue(surgeon, full_name="Revoked Patient")
        from consent.services import consent_revoke

        consent_revoke(consent=revoked, actor=surgeon_actor(surgeon), reason="Moved")
        client.force_login(surgeon)
        for bad in ({"q": "x\x00"}, {"q": "x" * 500}, {"per_page": "²"}, {"sort": "①"}):
            response = client.get(reverse("home"), {"status": "revoked", **bad})
            assert response.status_code == 200
            assert "Revoked Patient" in response.text
            assert "Open Patient" not in response.text


class TestSignIn:
    @pytest.mark.parametrize(
        ("username", "message"),
        [("u" * 300, "Usernames have at most 150 characters"), ("ow\x00ner", NUL_MESSAGE)],
    )
    def test_a_username_that_cannot_exist_is_refused_before_axes_records_it(
        self, web, surgeon, username, message
    ):
        response = web.post(reverse("login"), {"username": username, "password": PASSWORD})
        assert response.status_code == 200
        assert message in response.text
        assert not AccessAttempt.objects.exists()

    def test_the_admin_sign_in_refuses_it_too(self, web, admin_user):
        response = web.post(reverse("admin:login"), {"username": "u" * 300, "password": "password"})
        assert response.status_code == 200
        assert "Usernames have at most 150 characters" in response.text
        assert not AccessAttempt.objects.exists()

    def test_a_wrong_password_is_still_counted(self, web, surgeon):
        response = web.post(reverse("login"), {"username": "owner", "password": "wrong"})
        assert response.status_code == 200
        assert AccessAttempt.objects.get().username == "owner"


class TestRefusingNul:
    """The backstop: NUL in a path, header, cookie, or in the data of a view we do not own."""

    def test_a_nul_in_the_path_gets_the_plain_400_page(self, web):
        response = web.get("/consents/%00/")
        assert response.status_code == 400
        assert "null character" in visible(response)
        assert "Traceback" not in response.text

    def test_a_nul_in_a_header_or_a_cookie_gets_a_400(self, web, surgeon):
        assert web.get("/", headers={"User-Agent": "bot\x00"}).status_code == 400
        web.cookies["sessionid"] = "abc\x00def"
        assert web.get("/").status_code == 400

    def test_a_nul_in_the_admin_search_or_sign_out_gets_a_400(self, web, admin_user):
        web.force_login(admin_user)
        response = web.get(reverse("admin:consent_auditevent_changelist"), {"q": "\x00"})
        assert response.status_code == 400
        assert web.post(reverse("logout"), {"next": "/\x00"}).status_code == 400

    def test_our_own_views_answer_with_the_form_instead(self, web):
        response = web.get(reverse("verify"), {"code": "AB\x00CD"})
        assert response.status_code == 400
        assert NUL_MESSAGE in response.text  # beside the field, not the 400 page


class TestWhereTheRequestComesFrom:
    def request(self, **meta):
        return RequestFactory().get("/", REMOTE_ADDR="203.0.113.9", **meta)

    @pytest.mark.parametrize(
        "forwarded",
        ["not-an-ip", "999.1.1.1", "1.2.3.4; drop", "fe80::1%eth0", "\x01", "9" * 5000, ""],
    )
    def test_a_garbage_forwarded_address_falls_back_to_remote_addr(self, settings, forwarded):
        settings.TRUSTED_PROXY_COUNT = 1
        assert client_ip(self.request(HTTP_X_FORWARDED_FOR=forwarded)) == "203.0.113.9"

    def test_a_valid_forwarded_address_is_used(self, settings):
        settings.TRUSTED_PROXY_COUNT = 1
        request = self.request(HTTP_X_FORWARDED_FOR="garbage, 198.51.100.4")
        assert client_ip(request) == "198.51.100.4"

    def test_garbage_forwarded_for_is_audited_with_the_real_address(self, web, surgeon, settings):
        settings.TRUSTED_PROXY_COUNT = 1
        _, issued = issue(surgeon)
        response = web.post(
            link_url(issued), RIGHT, headers={"X-Forwarded-For": "<script>", "User-Agent": "x"}
        )
        assert response.status_code == 302
        event = AuditEvent.objects.get(action="identity_confirmed")
        assert event.ip_address == "127.0.0.1"

    def test_control_characters_and_length_are_taken_out_of_the_user_agent(self):
        agent = "Mozilla\x01\x1b[31m\x7f\x85/5.0 " + "x" * 2000
        actor = Actor.patient(self.request(HTTP_USER_AGENT=agent))
        assert actor.user_agent.startswith("Mozilla[31m/5.0 x")
        assert len(actor.user_agent) == 500

    def test_an_odd_user_agent_is_audited_cleanly(self, web, surgeon):
        _, issued = issue(surgeon)
        agent = "Odd\tagent\x1f" + "é" * 1000
        response = web.post(link_url(issued), RIGHT, headers={"User-Agent": agent})
        assert response.status_code == 302
        event = AuditEvent.objects.get(action="identity_confirmed")
        assert event.user_agent == ("Oddagent" + "é" * 1000)[:500]
