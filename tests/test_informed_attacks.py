"""Review of issue 11 ("Provably informed"): attacks by a patient who wants to look informed,
by an insider with the database, by races and by garbage. Most tests here failed on a problem
found in review and pass since it was fixed; those on escaping and races (and the ones whose
docstring says so) held from the start and stay as guards."""

import datetime
import re

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from consent.audit import audit_verify
from consent.informed import consent_respond_to_priorities, consent_state_priorities
from consent.models import CheckAttempt, Consent, ConsentCheck, Priorities
from consent.services import ConsentError

from .helpers import at_the_check, issue, pass_checks, patient_actor, sign, surgeon_actor
from .insider import guards_lifted
from .test_audit import sql
from .test_patient_views import sign_in

pytestmark = pytest.mark.usefixtures("library")


def later(seconds: float):
    return time_machine.travel(timezone.now() + datetime.timedelta(seconds=seconds), tick=False)


# --- a patient who wants to look informed ----------------------------------------------------


class TestInflatedReadingTime:
    def test_a_burst_of_reports_cannot_claim_more_than_the_time_that_passed(self, client, surgeon):
        """Each report may claim the time since the last one plus a few seconds of slack. The
        slack must not be renewed by every report: 100 reports sent at once claimed 100 times
        the slack for every risk (500 seconds each, in under a second)."""
        consent, issued = issue(surgeon)
        items = list(consent.items.filter(not_applicable=False))
        sign_in(client, issued)
        start = timezone.now()
        with time_machine.travel(start, tick=False):
            client.get(reverse("patient_risks"))
        with time_machine.travel(start + datetime.timedelta(seconds=30), tick=False):
            for _ in range(100):
                client.post(reverse("patient_reading"), {f"seconds-{i.pk}": "60" for i in items})
        for item in consent.items.filter(not_applicable=False):
            assert item.seconds_on_screen <= 30 + 5, item.seconds_on_screen

    def test_a_report_with_nothing_shown_in_this_session_counts_no_more_than_the_slack(
        self, client, surgeon
    ):
        """A session that never showed the risks page has no time to measure against: its
        first report was capped at 10 minutes for every risk, so each new sign-in could add
        10 minutes to each risk with one request."""
        consent, issued = issue(surgeon)
        items = list(consent.items.filter(not_applicable=False))
        sign_in(client, issued)
        client.post(reverse("patient_reading"), {f"seconds-{i.pk}": "3600" for i in items})
        for item in consent.items.filter(not_applicable=False):
            assert item.seconds_on_screen <= 5, item.seconds_on_screen

    def test_two_risks_on_screen_together_each_keep_their_time(self, client, surgeon):
        """The cap is per risk: ticking one risk (which reports its own seconds) does not cut
        the time of another that was on screen with it and is reported later."""
        consent, issued = issue(surgeon)
        first, second = consent.items.filter(not_applicable=False)[:2]
        sign_in(client, issued)
        start = timezone.now()
        with time_machine.travel(start, tick=False):
            client.get(reverse("patient_risks"))
        with time_machine.travel(start + datetime.timedelta(seconds=40), tick=False):
            client.post(
                reverse("patient_acknowledge", args=[first.pk]),
                {"acknowledged": "1", f"seconds-{first.pk}": "40"},
            )
        with time_machine.travel(start + datetime.timedelta(seconds=50), tick=False):
            client.post(reverse("patient_reading"), {f"seconds-{second.pk}": "50"})
        first.refresh_from_db()
        second.refresh_from_db()
        assert (first.seconds_on_screen, second.seconds_on_screen) == (40, 50)

    @pytest.mark.xfail(
        strict=True,
        reason="Left as it is: each session measures its own time, so two devices open side "
        "by side each count the same minutes. Capping it needs the time counted up to kept "
        "per consent in the database, not per session.",
    )
    def test_two_devices_side_by_side_cannot_double_the_time(self, surgeon):
        consent, issued = issue(surgeon)
        item = consent.items.first()
        phone, laptop = Client(), Client()
        start = timezone.now()
        with time_machine.travel(start, tick=False):
            for device in (phone, laptop):
                sign_in(device, issued)
                device.get(reverse("patient_risks"))
        with time_machine.travel(start + datetime.timedelta(seconds=60), tick=False):
            for device in (phone, laptop):
                device.post(reverse("patient_reading"), {f"seconds-{item.pk}": "60"})
        item.refresh_from_db()
        assert item.seconds_on_screen <= 60 + 5


class TestTheFlagAsDocumented:
    def test_the_consent_page_flags_only_once_every_risk_is_ticked(self, client, surgeon):
        """docs/informed.md: "Read quickly" on the consent page once every risk is ticked (a
        patient still reading is not flagged), on the dashboard once signed."""
        from consent.services import consent_acknowledge_item, link_verify_identity

        from .helpers import DOB

        consent, issued = issue(surgeon)
        link_verify_identity(link=issued.link, date_of_birth=DOB, actor=patient_actor())
        client.force_login(surgeon)
        detail = reverse("consent_detail", args=[consent.pk])
        items = list(consent.items.filter(not_applicable=False))
        for item in items[:-1]:
            consent_acknowledge_item(
                consent=consent, item_id=item.pk, acknowledged=True, actor=patient_actor()
            )
        assert "Read quickly" not in client.get(detail).text
        consent_acknowledge_item(
            consent=consent, item_id=items[-1].pk, acknowledged=True, actor=patient_actor()
        )
        assert "Read quickly" in client.get(detail).text
        assert "Read quickly" not in client.get(reverse("home")).text  # not signed yet


class TestSkippingTheCheck:
    def test_signing_by_posting_straight_to_sign_is_refused(self, client, surgeon):
        from consent.models import Signature

        _, issued = at_the_check(surgeon)
        sign_in(client, issued)
        response = client.post(
            reverse("patient_sign"), {"typed_name": "Ada Lovelace", "statement": "on"}
        )
        assert response.status_code == 400
        assert "answer the questions that check your understanding" in response.text
        assert not Signature.objects.exists()
        assert client.post(reverse("patient_review"))["Location"] == reverse("patient_check")

    def test_another_consent_s_check_cannot_be_answered(self, client, surgeon):
        from consent.informed import consent_answer_check

        consent, issued = at_the_check(surgeon)
        other, _ = at_the_check(surgeon, full_name="Grace Hopper")
        theirs = other.checks.first()
        sign_in(client, issued)
        client.post(reverse("patient_check"), {"check": theirs.pk, "answer": theirs.answer})
        with pytest.raises(ConsentError, match="not part of this consent"):
            consent_answer_check(
                consent=consent, check_id=theirs.pk, chosen=theirs.answer, shown=None,
                actor=patient_actor(),
            )  # fmt: skip
        assert not CheckAttempt.objects.exists()

    def test_trying_every_answer_shows_to_the_surgeon(self, client, surgeon):
        """A patient who tries each answer in turn until one is right passes, and the
        surgeon sees it: the first answer wrong, "needed help", and the number of tries."""
        consent, issued = at_the_check(surgeon)
        check = consent.checks.first()
        sign_in(client, issued)
        for option in reversed(check.options):  # the right answer, stored first, last
            client.get(reverse("patient_check"))
            client.post(reverse("patient_check"), {"check": check.pk, "answer": option})
        assert CheckAttempt.objects.count() == len(check.options)
        client.force_login(surgeon)
        page = client.get(reverse("consent_detail", args=[consent.pk])).text
        assert "Needed help with 1 question" in page
        assert f"<td>{len(check.options)} (passed)</td>" in page

    def test_the_page_does_not_give_the_right_answer_away(self, client, surgeon):
        """Every option is written the same way: only its words and its place differ, and
        the place is drawn at random each time."""
        consent, issued = at_the_check(surgeon)
        check = consent.checks.first()
        sign_in(client, issued)
        page = client.get(reverse("patient_check")).text.replace("&#x27;", "'")
        inputs = re.findall(r"<input [^>]*type=\"radio\"[^>]*>", page)
        assert len(inputs) == len(check.options)
        shapes = {re.sub(r'(value|id)="[^"]*"', "", tag) for tag in inputs}
        assert len(shapes) == 1, shapes


# --- an insider with the database ------------------------------------------------------------


def signed_with_everything(surgeon):
    consent, _ = at_the_check(surgeon)
    pass_checks(consent, wrong_first=1)
    consent_state_priorities(consent=consent, chosen=["work"], own_words="", actor=patient_actor())
    consent_respond_to_priorities(consent=consent, text="Noted.", actor=surgeon_actor(surgeon))
    sign(consent)
    return Consent.objects.get(pk=consent.pk)


class TestInsiderAfterSigning:
    def test_verify_audit_sees_the_predicted_reading_time_changed(self, surgeon):
        """The flag "read quickly" is the time read against the predicted time: an insider who
        changes the predicted time with the guards lifted turns the flag on or off, and the
        signed record must show it."""
        consent = signed_with_everything(surgeon)
        assert audit_verify().intact
        with guards_lifted():
            sql(
                "UPDATE consent_consent SET predicted_reading_seconds = 1 WHERE id = %s",
                [consent.pk],
            )
        report = audit_verify()
        assert not report.intact
        assert any("informed_sha256" in problem for problem in report.problems)

    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE consent_checkattempt SET shown = '[\"x\"]'",
            "UPDATE consent_consentitemsnapshot SET reading_measured = 'page'",
            "UPDATE consent_priorities SET responded_by_id = NULL, response = '', "
            "responded_at = NULL",
        ],
    )
    def test_verify_audit_sees_the_rest_of_the_record_changed(self, surgeon, statement):
        signed_with_everything(surgeon)
        assert audit_verify().intact
        with guards_lifted():
            sql(statement)
        assert not audit_verify().intact

    def test_an_attempt_added_to_a_signed_consent_s_check_is_seen(self, surgeon):
        """With every trigger on: the attempt's row names an unsigned consent (so the guards
        let it in), its check belongs to a signed one, whose page then shows another first
        answer (number 0 comes first). The signed record must cover what the page shows."""
        signed = signed_with_everything(surgeon)
        other, _ = at_the_check(surgeon, full_name="Grace Hopper")
        check = signed.checks.first()
        assert audit_verify().intact
        CheckAttempt.objects.create(
            consent=other, check_item=check, number=0, chosen=check.options[1], correct=False,
            shown=check.options,
        )  # fmt: skip
        report = audit_verify()
        assert not report.intact
        assert any(f"consent {signed.pk}'s signed record" in p for p in report.problems)


class TestGuards:
    def test_nothing_can_be_added_to_a_signed_record(self, surgeon):
        from .test_audit import refused

        consent = signed_with_everything(surgeon)
        check = consent.checks.first()
        refused(
            "INSERT INTO consent_checkattempt (consent_id, check_item_id, number, chosen, "
            "correct, shown, answered_at) VALUES (%s, %s, 9, 'x', TRUE, '[]', %s)",
            [consent.pk, check.pk, timezone.now()],
            match="signed consent cannot be changed",
        )
        refused(
            "INSERT INTO consent_steptime (consent_id, step, seconds) VALUES (%s, 'check', 1)",
            [consent.pk],
            match="signed consent cannot be changed",
        )
        refused("DELETE FROM consent_priorities", match="signed consent cannot be changed")
        refused("DELETE FROM consent_consentcheck", match="signed consent cannot be changed")

    @pytest.mark.xfail(
        strict=True,
        reason="Left as it is: the guards go by the attempt's own consent, not its check's. "
        "verify_audit reports it (the log, and the signed record). A guard set 5 would close "
        "it, for questions (by their risk) as well.",
    )
    def test_an_attempt_naming_an_unsigned_consent_on_a_signed_check_is_refused(self, surgeon):
        from .test_audit import refused

        signed = signed_with_everything(surgeon)
        other, _ = at_the_check(surgeon, full_name="Grace Hopper")
        refused(
            "INSERT INTO consent_checkattempt (consent_id, check_item_id, number, chosen, "
            "correct, shown, answered_at) VALUES (%s, %s, 0, 'x', FALSE, '[]', %s)",
            [other.pk, signed.checks.first().pk, timezone.now()],
            match="signed consent cannot be changed",
        )


class TestInsiderBeforeSigning:
    """Before signing nothing is frozen, but every change the app makes is in the audit log:
    verify_audit compares ticks, questions and answers with it, and must do the same for the
    check of understanding and what matters to the patient, or an insider can pass a
    patient's check (or write the surgeon's response) and the signature then seals it."""

    def test_a_predicted_reading_time_changed_in_the_database_is_seen_and_stops_signing(
        self, surgeon
    ):
        """Lowered before signing, a fast reader is not flagged, and the signature sealed
        the lowered figure: it is not part of the wording's hash."""
        consent, _ = at_the_check(surgeon)
        pass_checks(consent)
        Consent.objects.filter(pk=consent.pk).update(predicted_reading_seconds=1)
        report = audit_verify()
        assert not report.intact
        assert "predicted reading time differs" in report.problem
        with pytest.raises(ConsentError, match="changed after it was issued"):
            sign(consent)
        Consent.objects.filter(pk=consent.pk).update(predicted_reading_seconds=None)
        assert not audit_verify().intact

    def test_a_check_passed_in_the_database_is_seen(self, surgeon):
        consent, _ = at_the_check(surgeon)
        check = consent.checks.first()
        CheckAttempt.objects.create(
            consent=consent, check_item=check, number=1, chosen=check.answer, correct=True,
            shown=check.options,
        )  # fmt: skip
        ConsentCheck.objects.filter(pk=check.pk).update(passed_at=timezone.now())
        report = audit_verify()
        assert not report.intact
        assert "check" in report.problem

    def test_a_wrong_answer_made_right_before_signing_is_seen(self, surgeon):
        consent, _ = at_the_check(surgeon)
        pass_checks(consent, wrong_first=1)
        assert audit_verify().intact
        CheckAttempt.objects.filter(correct=False).update(correct=True)
        assert not audit_verify().intact

    def test_a_response_written_in_the_database_is_seen(self, surgeon):
        consent, _ = at_the_check(surgeon)
        consent_state_priorities(
            consent=consent, chosen=["work"], own_words="My job", actor=patient_actor()
        )
        assert audit_verify().intact
        Priorities.objects.update(
            response="All fine.", responded_by=surgeon, responded_at=timezone.now()
        )
        report = audit_verify()
        assert not report.intact
        assert "matters to the patient" in report.problem

    def test_the_patient_s_words_changed_in_the_database_are_seen(self, surgeon):
        consent, _ = at_the_check(surgeon)
        consent_state_priorities(
            consent=consent, chosen=["work"], own_words="My job", actor=patient_actor()
        )
        Priorities.objects.update(own_words="Nothing much")
        assert not audit_verify().intact

    def test_priorities_made_up_in_the_database_are_seen(self, surgeon):
        consent, _ = at_the_check(surgeon)
        Priorities.objects.create(consent=consent, chosen=["work"], stated_at=timezone.now())
        assert not audit_verify().intact

    def test_a_wrong_first_answer_deleted_to_look_right_first_time_is_seen(self, surgeon):
        """The surgeon sees the first attempt: deleting a wrong one makes the next, right
        one the first, and the badge "needed help" goes."""
        consent, _ = at_the_check(surgeon)
        pass_checks(consent, wrong_first=1)
        CheckAttempt.objects.filter(correct=False).delete()
        report = audit_verify()
        assert not report.intact
        assert "is missing: it was deleted" in report.problem

    def test_the_app_s_own_changes_verify(self, surgeon):
        """Stated, changed, taken back, stated again, answered; checks wrong then right."""
        consent, _ = at_the_check(surgeon)
        pass_checks(consent, wrong_first=2)
        for chosen, words in [(["work"], "Job"), (["walking"], ""), ([], ""), (["sleep"], "\x07")]:
            consent_state_priorities(
                consent=consent, chosen=chosen, own_words=words, actor=patient_actor()
            )
        consent_respond_to_priorities(consent=consent, text="Noted.", actor=surgeon_actor(surgeon))
        sign(consent)
        assert audit_verify().intact, audit_verify().problems


# --- races and stale pages -------------------------------------------------------------------


class TestStalePages:
    def test_a_response_to_what_the_patient_has_since_changed_is_refused(self, client, surgeon):
        """The surgeon's page shows what matters as it was; the patient changes it; the
        response (written to the old words) must not be attached to the new ones."""
        consent, issued = at_the_check(surgeon)
        patient = Client()
        sign_in(patient, issued)
        patient.post(reverse("patient_priorities"), {"chosen": ["walking"]})
        client.force_login(surgeon)
        page = client.get(reverse("consent_detail", args=[consent.pk])).text
        assert "Walking further" in page
        with later(60):
            patient.post(
                reverse("patient_priorities"),
                {"chosen": ["walking"], "own_words": "I care for my wife"},
            )
        form = {"response": "Most people walk further after this operation."}
        form.update(_hidden_fields(page, "priorities_respond", consent.pk))
        response = client.post(reverse("priorities_respond", args=[consent.pk]), form)
        assert response.status_code == 400
        assert "changed what matters to them" in response.text
        assert not Priorities.objects.get().is_answered
        assert "I care for my wife" in response.text  # shown again, with the typed response
        assert form["response"] in response.text
        again = {**form, **_hidden_fields(response.text, "priorities_respond", consent.pk)}
        response = client.post(reverse("priorities_respond", args=[consent.pk]), again)
        assert response.status_code == 302
        assert Priorities.objects.get().is_answered


def _hidden_fields(page: str, url_name: str, pk: int) -> dict:
    """The hidden fields of the form that posts to url_name (besides the CSRF token)."""
    action = reverse(url_name, args=[pk])
    form = page[page.index(f'action="{action}"') :]
    form = form[: form.index("</form>")]
    return {
        name: value
        for name, value in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form)
        if name != "csrfmiddlewaretoken"
    }


class TestStaleCheckPage:
    def test_an_answer_from_a_tab_showing_an_earlier_question_is_not_given_to_the_next(
        self, client, surgeon
    ):
        """Two questions that share an answer's words ("Yes", "No", "Call the ward"): a tab
        still showing the first, answered meanwhile in another tab, sent that answer, and it
        was recorded as the first (wrong) answer to the second question, which the patient had
        never seen, and the surgeon was told they needed help with it."""
        from procedures.models import Procedure

        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        first, second = procedure.understanding_checks.all()[:2]
        second.wrong_answers = f"{second.wrong_answers}\n{first.answer}"
        second.save()
        consent, issued = at_the_check(surgeon)
        sign_in(client, issued)
        old_tab = client.get(reverse("patient_check")).text
        fields = _hidden_fields_of(old_tab)
        client.post(reverse("patient_check"), {**fields, "answer": first.answer})  # other tab
        response = client.post(reverse("patient_check"), {**fields, "answer": first.answer})
        assert response.status_code == 302
        assert list(CheckAttempt.objects.values_list("check_item__order", "correct")) == [(1, True)]
        page = client.get(reverse("patient_check")).text
        assert "already answered that question" in page
        assert consent.checks.get(order=2).question in page

    def test_an_answer_posted_without_the_page_does_not_record_an_order_never_shown(
        self, client, surgeon
    ):
        """The order the options were shown in is kept with each attempt. Posted without the
        page (no order in the session), the record said they were shown right answer first."""
        consent, issued = at_the_check(surgeon)
        sign_in(client, issued)
        check = consent.checks.first()
        client.post(reverse("patient_check"), {"answer": check.options[1]})
        assert CheckAttempt.objects.get().shown == []


def _hidden_fields_of(page: str) -> dict:
    return {
        name: value
        for name, value in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page)
        if name != "csrfmiddlewaretoken"
    }


# --- garbage ---------------------------------------------------------------------------------

UNPRINTABLE = "Walk\x07 my dog\x0b\ufdd0\ue000 again"


class TestUnprintableText:
    """Pasted text brings characters no font can draw (a bell, a vertical tab from a word
    processor, a non-character, a private-use character). In the patient's own words, the
    response or a question, they were drawn as missing glyphs in the sealed PDF, which then
    failed PDF/A-2a and PDF/UA-1: the record was not the archival file it claims to be."""

    def test_they_are_left_out_of_what_is_stored(self, surgeon):
        from consent.services import consent_answer_question, consent_ask_question

        consent, _ = at_the_check(surgeon)
        consent_state_priorities(
            consent=consent, chosen=[], own_words=UNPRINTABLE, actor=patient_actor()
        )
        consent_respond_to_priorities(
            consent=consent, text=f"Noted. {UNPRINTABLE}", actor=surgeon_actor(surgeon)
        )
        question = consent_ask_question(
            consent=consent, item_id=consent.items.first().pk, text=UNPRINTABLE,
            actor=patient_actor(),
        )  # fmt: skip
        consent_answer_question(
            consent=consent, question_id=question.pk, text=UNPRINTABLE,
            actor=surgeon_actor(surgeon),
        )  # fmt: skip
        priorities = Priorities.objects.get()
        question.refresh_from_db()
        assert priorities.own_words == question.text == question.answer == "Walk my dog again"
        assert priorities.response == "Noted. Walk my dog again"
        assert audit_verify().intact

    def test_the_sealed_pdf_stays_pdf_a(self, surgeon):
        import page

        from consent.documents import read_document

        consent, _ = at_the_check(surgeon)
        pass_checks(consent)
        consent_state_priorities(
            consent=consent, chosen=["work"], own_words=UNPRINTABLE, actor=patient_actor()
        )
        consent_respond_to_priorities(
            consent=consent, text=UNPRINTABLE, actor=surgeon_actor(surgeon)
        )
        sign(consent)
        consent.refresh_from_db()
        report = page.validate_pdf_bytes(read_document(consent.document), profile="2a")
        assert [f.rule_id for f in report.failures] == []

    def test_text_that_is_only_unprintable_is_refused_as_empty(self, client, surgeon):
        _, issued = at_the_check(surgeon)
        sign_in(client, issued)
        client.post(reverse("patient_priorities"), {"own_words": "\x07\ufffe"})
        assert not Priorities.objects.exists()


# --- emails --------------------------------------------------------------------------------


class TestReplyEmail:
    def test_the_email_names_only_what_is_new(self, surgeon, django_capture_on_commit_callbacks):
        """A question answered last week (the patient was emailed then), then a response to
        what matters: the second email said "Your question has been answered" and "answered
        your question and responded to what matters to you"."""
        from django.core import mail

        from consent.services import consent_answer_question, consent_ask_question

        consent, _ = at_the_check(surgeon)
        consent.patient.email = "ada@example.org"
        consent.patient.save()
        question = consent_ask_question(
            consent=consent, item_id=consent.items.first().pk, text="Will it hurt?",
            actor=patient_actor(),
        )  # fmt: skip
        with django_capture_on_commit_callbacks(execute=True):
            consent_answer_question(
                consent=consent, question_id=question.pk, text="A little.",
                actor=surgeon_actor(surgeon),
            )  # fmt: skip
        consent_state_priorities(
            consent=consent, chosen=["work"], own_words="", actor=patient_actor()
        )
        with django_capture_on_commit_callbacks(execute=True), later(60):
            consent_respond_to_priorities(
                consent=consent, text="Noted.", actor=surgeon_actor(surgeon)
            )
        first, second = [m for m in mail.outbox if m.to == ["ada@example.org"]]
        assert first.subject.startswith("Your question has been answered")
        assert second.subject.startswith("Your surgical team has replied")
        assert "responded to what matters to you" in second.body
        assert "question" not in second.body


class TestLongWordsInThePdf:
    def test_a_long_run_without_spaces_is_wrapped_not_cut_off_at_the_page_edge(self, surgeon):
        """The patient's own words, the response, a question or an answer to the check may
        hold a long run without spaces (a pasted link, a held key): its end was drawn past
        the right edge of the page, so the sealed record did not show it."""
        from weasyprint import HTML
        from weasyprint.formatting_structure.boxes import TextBox

        from consent import documents
        from consent.audit import Checkpoint

        consent, _ = at_the_check(surgeon)
        pass_checks(consent)
        consent_state_priorities(
            consent=consent, chosen=[], own_words="W" * 300 + "END", actor=patient_actor()
        )
        consent_respond_to_priorities(
            consent=consent, text="R" * 300 + "FIN", actor=surgeon_actor(surgeon)
        )
        sign(consent)
        consent = Consent.objects.get(pk=consent.pk)
        html = documents.render_html(
            consent, signature=consent.signatures.get(), verification_code="A" * 12,
            verify_url="https://example.org/verify/", checkpoint=Checkpoint(1, "0" * 64),
        )  # fmt: skip
        document = HTML(string=html, base_url=str(documents._static_roots()[0]) + "/").render(
            stylesheets=[documents._stylesheet()], font_config=documents._font_config()
        )
        past_the_edge = [
            box.text[:20]
            for page in document.pages
            for box in page._page_box.descendants()
            if isinstance(box, TextBox) and box.position_x + box.width > page.width
        ]
        assert past_the_edge == []


class TestChecksEditedInTheAdmin:
    """The admin let through what a library file may not hold: a wrong answer too long for a
    patient to choose (the page then refused it as unexpected), or one that reads the same as
    the right answer but for its capitals (the patient sees "Infection" and "infection")."""

    @pytest.mark.parametrize(
        "wrong_answers, answer",
        [("W" * 301 + "\nShort", "Right"), ("right\nOther", "Right"), ("Same\nsame", "Right")],
        ids=["too long", "the right answer in other capitals", "two the same"],
    )
    def test_they_are_refused(self, wrong_answers, answer):
        from django.core.exceptions import ValidationError

        from procedures.models import Procedure, UnderstandingCheck

        check = UnderstandingCheck(
            procedure=Procedure.objects.get(slug="lumbar-rhizotomy"), order=99, question="Q?",
            section="summary", answer=answer, wrong_answers=wrong_answers, explanation="Why.",
        )  # fmt: skip
        with pytest.raises(ValidationError) as refused:
            check.clean()
        assert "wrong_answers" in refused.value.message_dict


class TestUnprintableLibraryText:
    @pytest.mark.parametrize("text", ["Yes\x00", "Yes\x07", "Yes\ufffe"])
    def test_a_library_file_with_a_character_that_cannot_be_printed_is_refused(self, text):
        """YAML's escapes ("\\0", "\\a") put any character in a file. A right answer with a
        NUL could never be chosen, so no patient could pass the check or sign; PostgreSQL
        refused the file with a server error; and any such character is a missing glyph in
        every sealed PDF of the procedure."""
        import yaml

        from procedures.library import LibraryError, parse_library

        from .test_load_procedures import bundled, rhizotomy

        data = bundled()
        rhizotomy(data)["understanding_checks"][0]["answer"] = text
        with pytest.raises(LibraryError, match='"answer" holds a character that cannot be'):
            parse_library(yaml.safe_dump(data))


class TestSurgeonEmails:
    def test_editing_what_matters_emails_the_surgeon_once(
        self, surgeon, django_capture_on_commit_callbacks
    ):
        """Every edit (a typo put right, a box ticked, taken back and said again) emailed the
        surgeon again: a patient could fill the team's inbox from the page, one request per
        email."""
        from django.core import mail

        consent, _ = at_the_check(surgeon)
        with django_capture_on_commit_callbacks(execute=True):
            for chosen, words in [
                (["work"], "My jbo"),
                (["work"], "My job"),
                ([], ""),
                (["work"], "My job and my dog"),
            ]:
                consent_state_priorities(
                    consent=consent, chosen=chosen, own_words=words, actor=patient_actor()
                )
        to_surgeon = [m for m in mail.outbox if m.to == [surgeon.email]]
        assert len(to_surgeon) == 1
        assert "said what matters to them" in to_surgeon[0].subject


# --- escaping --------------------------------------------------------------------------------

HTML = '<img src=x onerror="alert(1)"> & <b>bold</b>'
ESCAPED = "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"


class TestEscaping:
    def test_library_and_typed_text_is_never_markup_and_an_option_with_markup_can_be_chosen(
        self, client, surgeon
    ):
        """Check text from the library (question, options, explanation), the patient's own
        words and the response, on the patient's pages, the surgeon's page and the PDF."""
        from procedures.models import Procedure

        from .test_informed import pdf_text

        library_check = Procedure.objects.get(slug="lumbar-rhizotomy").understanding_checks.first()
        library_check.question = f"Question {HTML}?"
        library_check.answer = f"Right {HTML}"
        library_check.explanation = f"Because {HTML}"
        library_check.save()
        consent, issued = at_the_check(surgeon)
        sign_in(client, issued)
        client.post(reverse("patient_priorities"), {"own_words": f"Words {HTML}"})
        page = client.get(reverse("patient_check")).text
        assert f"Question {ESCAPED}?" in page and f'value="Right {ESCAPED}"' in page
        assert "<b>" not in page
        right = client.post(
            reverse("patient_check"),
            {"check": consent.checks.first().pk, "answer": f"Right {HTML}"},
            follow=True,
        )
        assert f"That is right. Because {ESCAPED}" in right.text and "<b>" not in right.text
        consent_respond_to_priorities(
            consent=consent, text=f"Response {HTML}", actor=surgeon_actor(surgeon)
        )
        pass_checks(consent)
        review = client.get(reverse("patient_review")).text
        assert f"Response {ESCAPED}" in review and "<b>" not in review
        surgeon_client = Client()
        surgeon_client.force_login(surgeon)
        detail = surgeon_client.get(reverse("consent_detail", args=[consent.pk])).text
        for text in (f"Question {ESCAPED}?", f"Words {ESCAPED}", f"Response {ESCAPED}"):
            assert text in detail
        assert "<b>" not in detail
        sign(consent)
        text = pdf_text(Consent.objects.get(pk=consent.pk))
        assert "<b>bold</b>" in text  # printed as typed, not read as markup


# --- races -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
class TestRaces:
    def test_the_same_check_answered_at_once_keeps_one_line_of_attempts(self, surgeon):
        """A double click, two tabs: answers to one check at the same moment, some wrong."""
        from consent.informed import consent_answer_check

        from .helpers import run_concurrently

        consent, _ = at_the_check(surgeon)
        check = consent.checks.first()
        choices = iter([check.options[1], check.answer] * 4)

        def answer(chosen):
            try:
                attempt = consent_answer_check(
                    consent=Consent.objects.get(pk=consent.pk), check_id=check.pk,
                    chosen=chosen, shown=None, actor=patient_actor(),
                )  # fmt: skip
            except ConsentError as exc:
                return str(exc)
            return attempt.correct

        results = run_concurrently(lambda: answer(next(choices)), 8)
        assert all(r is True or r is False or "already answered" in r for r in results), results
        attempts = list(CheckAttempt.objects.values_list("number", "correct"))
        assert [n for n, _ in attempts] == list(range(1, len(attempts) + 1))
        assert [c for _, c in attempts].count(True) == 1 and attempts[-1][1]
        assert audit_verify().intact

    def test_a_response_racing_the_patient_taking_it_back_never_answers_nothing(self, surgeon):

        from .helpers import run_concurrently

        for n in range(4):
            consent, _ = at_the_check(surgeon, full_name=f"Pat Race{'x' * n}")
            consent_state_priorities(
                consent=consent, chosen=["work"], own_words="", actor=patient_actor()
            )
            turn = iter(range(2))

            def work(consent=consent, turn=turn):
                try:
                    if next(turn):
                        return (
                            consent_state_priorities(
                                consent=consent, chosen=[], own_words="", actor=patient_actor()
                            )
                            or "cleared"
                        )
                    consent_respond_to_priorities(
                        consent=consent, text="Noted.", actor=surgeon_actor(surgeon)
                    )
                    return "responded"
                except ConsentError as exc:
                    return str(exc)

            results = run_concurrently(work, 2)
            priorities = Priorities.objects.filter(consent=consent).first()
            if priorities is None:
                assert "has not said what matters" in " ".join(map(str, results)), results
            else:
                assert priorities.is_answered and "already responded" in " ".join(results)
        assert audit_verify().intact

    def test_reading_reports_racing_the_signature_leave_the_pdf_and_the_record_agreeing(
        self, surgeon
    ):
        """The PDF is rendered from the rows after the claim; the logged record is made from
        them again at the end. A report landing between the two would make them differ."""
        from consent.informed import consent_add_reading_time, consent_add_step_time
        from consent.reading import reading_summary
        from consent.templatetags.informed import duration

        from .helpers import run_concurrently
        from .test_informed import pdf_text

        consent, _ = at_the_check(surgeon)
        pass_checks(consent)
        items = list(consent.items.filter(not_applicable=False))
        turn = iter(range(8))

        def work():
            if next(turn) == 0:
                return sign(Consent.objects.get(pk=consent.pk))
            for _ in range(20):
                fresh = Consent.objects.get(pk=consent.pk)
                consent_add_reading_time(
                    consent=fresh, seconds={i.pk: 1 for i in items}, elapsed=10
                )
                consent_add_step_time(consent=fresh, step="overview", seconds=1)
            return "read"

        results = run_concurrently(work, 4)
        assert not [r for r in results if isinstance(r, BaseException)], results
        signed = Consent.objects.get(pk=consent.pk)
        assert signed.status == "signed"
        summary = reading_summary(signed)
        assert f"In total {duration(summary.total)}," in pdf_text(signed).replace("\n", " ")
        assert audit_verify().intact
