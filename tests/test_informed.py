"""Provably informed: reading time, the check of understanding, what matters to the patient,
in the record, on the surgeon's pages and in the sealed PDF."""

import datetime
import io

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from consent.audit import audit_verify
from consent.informed import (
    STEP_IDLE_SECONDS,
    consent_add_reading_time,
    consent_answer_check,
    consent_respond_to_priorities,
    consent_state_priorities,
)
from consent.models import CheckAttempt, Consent, ConsentCheck, Priorities, StepTime
from consent.reading import reading_summary
from consent.services import ConsentError
from procedures.models import Procedure

from .helpers import (
    at_the_check,
    issue,
    pass_checks,
    patient_actor,
    ready_to_sign,
    sign,
    surgeon_actor,
)
from .test_patient_views import sign_in

pytestmark = pytest.mark.usefixtures("library")


def read_everything(consent, seconds_each=None):
    """A patient who reads at a normal pace: each risk for as long as its words take."""
    from consent.reading import item_predicted_seconds

    for item in consent.items.filter(not_applicable=False):
        seconds = seconds_each or item_predicted_seconds(item)
        consent_add_reading_time(consent=consent, seconds={item.pk: seconds}, elapsed=seconds)
    StepTime.objects.update_or_create(
        consent=consent, step="overview", defaults={"seconds": 10 * 60}
    )


def pdf_text(consent) -> str:
    from consent.documents import read_document

    reader = PdfReader(io.BytesIO(read_document(consent.document)))
    return "\n".join(page.extract_text() for page in reader.pages)


# --- frozen at issue ------------------------------------------------------------------------


class TestFrozenAtIssue:
    def test_the_checks_are_frozen_with_the_wording_and_tied_to_their_risk(self, surgeon):
        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        library_checks = list(procedure.understanding_checks.all())
        assert len(library_checks) >= 3
        consent, _ = issue(surgeon)
        frozen = list(consent.checks.select_related("item"))
        assert [c.question for c in frozen] == [c.question for c in library_checks]
        for check, source in zip(frozen, library_checks, strict=True):
            assert check.options == [source.answer, *source.wrong_answer_list]
            assert check.explanation == source.explanation
            if source.risk_title:
                assert check.item.title == source.risk_title and check.item.consent == consent
            else:
                assert check.section == source.section and check.item is None
        # Editing the library later changes nothing in the consent.
        source = library_checks[0]
        source.question = "Changed later?"
        source.save()
        assert consent.checks.first().question == frozen[0].question

    def test_a_check_about_a_risk_that_does_not_apply_is_left_out(self, surgeon):
        procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
        about_risk = procedure.understanding_checks.exclude(risk_title="").first()
        item = procedure.items.get(title=about_risk.risk_title)
        consent, _ = issue(surgeon, not_applicable={item.pk: "Had it before."})
        assert about_risk.question not in [c.question for c in consent.checks.all()]
        assert [c.order for c in consent.checks.all()] == list(range(1, consent.checks.count() + 1))

    def test_the_fingerprint_covers_the_checks(self, surgeon):
        consent, _ = issue(surgeon)
        assert consent.compute_content_sha256() == consent.content_sha256
        check = consent.checks.first()
        ConsentCheck.objects.filter(pk=check.pk).update(options=[*check.options[1:], check.answer])
        assert consent.compute_content_sha256() != consent.content_sha256

    def test_the_predicted_reading_time_is_the_words_at_200_a_minute(self, surgeon):
        consent, _ = issue(surgeon)
        words = sum(len(text.split()) for text in consent.procedure_text.values())
        words += sum(
            len(item.title.split()) + len(item.explanation.split()) for item in consent.items.all()
        )
        assert consent.predicted_reading_seconds == -(-words * 60 // 200)
        assert 60 < consent.predicted_reading_seconds < 3600


# --- the check of understanding -------------------------------------------------------------


class TestTheCheck:
    def test_signing_waits_until_every_check_is_passed(self, surgeon):
        consent, _ = at_the_check(surgeon)
        with pytest.raises(ConsentError, match="answer the questions that check"):
            sign(consent)
        pass_checks(consent)
        sign(consent)
        consent.refresh_from_db()
        assert consent.status == "signed"

    def test_every_attempt_is_kept_and_a_wrong_one_does_not_pass(self, surgeon):
        consent, _ = at_the_check(surgeon)
        check = consent.checks.first()
        wrong = consent_answer_check(
            consent=consent,
            check_id=check.pk,
            chosen=check.options[1],
            shown=list(reversed(check.options)),
            actor=patient_actor(),
        )
        assert not wrong.correct and wrong.number == 1
        assert wrong.shown == list(reversed(check.options))
        check.refresh_from_db()
        assert check.passed_at is None
        right = consent_answer_check(
            consent=consent,
            check_id=check.pk,
            chosen=check.answer,
            shown=None,
            actor=patient_actor(),
        )
        assert right.correct and right.number == 2
        check.refresh_from_db()
        assert check.passed_at == right.answered_at
        with pytest.raises(ConsentError, match="already answered"):
            consent_answer_check(
                consent=consent, check_id=check.pk, chosen=check.answer, shown=None,
                actor=patient_actor(),
            )  # fmt: skip
        events = consent.audit_events.filter(action="check_answered")
        assert [e.details["correct"] for e in events] == [False, True]

    def test_an_answer_that_is_not_an_option_is_refused(self, surgeon):
        consent, _ = at_the_check(surgeon)
        check = consent.checks.first()
        with pytest.raises(ConsentError, match="choose one of the answers"):
            consent_answer_check(
                consent=consent, check_id=check.pk, chosen="Made up", shown=None,
                actor=patient_actor(),
            )  # fmt: skip
        assert not CheckAttempt.objects.exists()

    def test_the_page_asks_one_at_a_time_shows_the_passage_after_a_wrong_answer(
        self, client, surgeon
    ):
        consent, issued = at_the_check(surgeon)
        sign_in(client, issued)
        first = consent.checks.select_related("item").first()
        page = client.get(reverse("patient_check"))
        assert page.status_code == 200
        assert f"Question 1 of {consent.checks.count()}" in page.text
        assert first.question in page.text
        for option in first.options:
            assert f'value="{option}"' in page.text.replace("&#x27;", "'")
        passage = first.item.explanation if first.item else consent.procedure_text[first.section]
        assert passage not in page.text

        # The review is not reachable yet.
        assert client.get(reverse("patient_review"))["Location"] == reverse("patient_check")

        wrong = client.post(reverse("patient_check"), {"answer": first.options[1]})
        assert wrong.status_code == 200
        assert "That is not quite right. Please read this again." in wrong.text
        assert passage.split(".")[0] in wrong.text  # the passage, shown again
        assert first.question in wrong.text  # and asked again
        attempt = CheckAttempt.objects.get()
        assert attempt.chosen == first.options[1] and not attempt.correct
        assert sorted(attempt.shown) == sorted(first.options)  # the order it was shown in

        right = client.post(reverse("patient_check"), {"answer": first.answer}, follow=True)
        assert "That is right." in right.text and first.explanation in right.text
        assert "Question 2 of" in right.text

    def test_nothing_chosen_says_so(self, client, surgeon):
        _, issued = at_the_check(surgeon)
        sign_in(client, issued)
        response = client.post(reverse("patient_check"), {})
        assert response.status_code == 400
        assert "Please choose an answer." in response.text
        assert not CheckAttempt.objects.exists()

    def test_the_options_are_shuffled(self, client, surgeon):
        consent, issued = at_the_check(surgeon)
        sign_in(client, issued)
        check = consent.checks.first()
        orders = set()
        for _ in range(30):
            page = client.get(reverse("patient_check")).text.replace("&#x27;", "'")
            orders.add(tuple(sorted(check.options, key=lambda o: page.index(f'value="{o}"'))))
        assert len(orders) > 1

    def test_after_the_last_check_the_patient_reviews_and_signs(self, client, surgeon):
        consent, issued = at_the_check(surgeon)
        sign_in(client, issued)
        for check in consent.checks.all():
            response = client.post(reverse("patient_check"), {"answer": check.answer})
        assert response["Location"] == reverse("patient_check")
        assert client.get(reverse("patient_check"))["Location"] == reverse("patient_review")


# --- what matters to the patient ------------------------------------------------------------


class TestWhatMatters:
    def test_the_patient_says_and_signing_waits_for_the_response(self, client, surgeon):
        consent, issued = ready_to_sign(surgeon)
        sign_in(client, issued)
        response = client.post(
            reverse("patient_priorities"),
            {"chosen": ["walking", "work"], "own_words": "My <b>daughter's</b> wedding in May"},
        )
        assert response["Location"] == reverse("patient_risks")
        priorities = Priorities.objects.get(consent=consent)
        assert priorities.chosen == ["work", "walking"]  # in the list's order
        review = client.get(reverse("patient_review"))
        assert "Your surgeon has not yet replied to what matters most to you" in review.text
        assert 'action="/patient/sign/"' not in review.text
        with pytest.raises(ConsentError, match="not yet responded to what matters to you"):
            sign(consent)

        surgeon_client = Client()
        surgeon_client.force_login(surgeon)
        page = surgeon_client.get(reverse("consent_detail", args=[consent.pk])).text
        assert "Walking further" in page and "Getting back to work" in page
        assert "My &lt;b&gt;daughter&#x27;s&lt;/b&gt; wedding in May" in page
        dashboard = surgeon_client.get(reverse("home")).text
        assert "What matters: reply" in dashboard
        surgeon_client.post(
            reverse("priorities_respond", args=[consent.pk]),
            {"response": "Nerve damage would bear on walking; most people walk further."},
        )
        priorities.refresh_from_db()
        assert priorities.responded_by == surgeon
        review = client.get(reverse("patient_review"))
        assert "most people walk further" in review.text
        assert 'action="/patient/sign/"' in review.text
        sign(consent)

    def test_an_empty_response_is_refused_and_nothing_is_lost(self, client, surgeon):
        consent, _ = ready_to_sign(surgeon)
        consent_state_priorities(
            consent=consent, chosen=["sleep"], own_words="", actor=patient_actor()
        )
        client.force_login(surgeon)
        response = client.post(reverse("priorities_respond", args=[consent.pk]), {"response": " "})
        assert response.status_code == 400
        assert "Please write your response." in response.text

    def test_a_colleague_outside_the_team_cannot_respond(self, client, surgeon, colleague):
        consent, _ = ready_to_sign(surgeon)
        consent_state_priorities(
            consent=consent, chosen=["sleep"], own_words="", actor=patient_actor()
        )
        client.force_login(colleague)
        response = client.post(
            reverse("priorities_respond", args=[consent.pk]), {"response": "Fine."}
        )
        assert response.status_code == 404
        with pytest.raises(ConsentError, match="Only the surgeon's team"):
            consent_respond_to_priorities(
                consent=consent, text="Fine.", actor=surgeon_actor(colleague)
            )
        assert not Priorities.objects.get().is_answered

    def test_skipping_saves_nothing_and_changing_is_closed_after_the_response(
        self, client, surgeon
    ):
        consent, issued = ready_to_sign(surgeon)
        sign_in(client, issued)
        assert client.post(reverse("patient_priorities"), {"action": "skip"}).status_code == 302
        assert not Priorities.objects.exists()
        consent_state_priorities(
            consent=consent, chosen=["caring"], own_words="", actor=patient_actor()
        )
        consent_respond_to_priorities(consent=consent, text="Noted.", actor=surgeon_actor(surgeon))
        page = client.get(reverse("patient_priorities"))
        assert "Your surgeon's reply:" in page.text and "Noted." in page.text
        with pytest.raises(ConsentError, match="already responded"):
            consent_state_priorities(
                consent=consent, chosen=["work"], own_words="", actor=patient_actor()
            )

    def test_taking_it_back_before_the_response_unblocks_signing(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        consent_state_priorities(
            consent=consent, chosen=["work"], own_words="", actor=patient_actor()
        )
        consent_state_priorities(consent=consent, chosen=[], own_words=" ", actor=patient_actor())
        assert not Priorities.objects.exists()
        assert consent.audit_events.filter(action="priorities_cleared").exists()
        sign(consent)

    def test_too_long_own_words_say_so_and_keep_the_text(self, client, surgeon):
        _, issued = ready_to_sign(surgeon)
        sign_in(client, issued)
        text = "I want to walk my dog. " * 60
        response = client.post(reverse("patient_priorities"), {"own_words": text})
        assert response.status_code == 400
        assert "Please keep it under 1000" in response.text
        assert text.strip() in response.text
        assert not Priorities.objects.exists()

    def test_the_patient_is_emailed_when_nothing_is_left_waiting(
        self, surgeon, django_capture_on_commit_callbacks
    ):
        consent, _ = ready_to_sign(surgeon)
        consent.patient.email = "ada@example.org"
        consent.patient.save()
        consent_state_priorities(
            consent=consent, chosen=["work"], own_words="", actor=patient_actor()
        )
        with django_capture_on_commit_callbacks(execute=True):
            consent_respond_to_priorities(
                consent=consent, text="Noted.", actor=surgeon_actor(surgeon)
            )
        [message] = [m for m in mail.outbox if m.to == ["ada@example.org"]]
        assert "responded to what matters to you" in message.body
        assert "Noted." not in message.body  # no clinical content in an email
        assert "/p/" not in message.body


# --- reading time ---------------------------------------------------------------------------


class TestReadingTime:
    def test_it_survives_a_reload_and_another_device(self, surgeon):
        consent, issued = at_the_check(surgeon)
        item = consent.items.first()
        phone, laptop = Client(), Client()
        sign_in(phone, issued)
        phone.get(reverse("patient_risks"))
        with time_machine.travel(timezone.now() + datetime.timedelta(seconds=40)):
            assert (
                phone.post(reverse("patient_reading"), {f"seconds-{item.pk}": "30"}).status_code
                == 204
            )
        phone.get(reverse("patient_risks"))  # a reload keeps it
        item.refresh_from_db()
        assert item.seconds_on_screen == 30 and item.reading_measured == "screen"
        sign_in(laptop, issued)  # another device adds to it
        laptop.get(reverse("patient_risks"))
        with time_machine.travel(timezone.now() + datetime.timedelta(seconds=20)):
            laptop.post(reverse("patient_reading"), {f"seconds-{item.pk}": "15"})
        item.refresh_from_db()
        assert item.seconds_on_screen == 45

    def test_a_report_cannot_claim_more_time_than_has_passed(self, client, surgeon):
        consent, issued = at_the_check(surgeon)
        item = consent.items.first()
        sign_in(client, issued)
        client.get(reverse("patient_risks"))
        client.post(reverse("patient_reading"), {f"seconds-{item.pk}": "3000"})
        item.refresh_from_db()
        assert item.seconds_on_screen <= 10
        response = client.post(reverse("patient_reading"), {f"seconds-{item.pk}": "-5"})
        assert response.status_code == 400
        response = client.post(reverse("patient_reading"), {f"seconds-{item.pk}": "²"})
        assert response.status_code == 400

    def test_the_tick_carries_the_seconds_read(self, client, surgeon):
        consent, issued = issue(surgeon)
        sign_in(client, issued)
        client.get(reverse("patient_risks"))
        item = consent.items.first()
        with time_machine.travel(timezone.now() + datetime.timedelta(seconds=60)):
            client.post(
                reverse("patient_acknowledge", args=[item.pk]),
                {"acknowledged": "1", f"seconds-{item.pk}": "25"},
                headers={"Accept": "application/json"},
            )
        item.refresh_from_db()
        assert item.acknowledged_at and item.seconds_on_screen == 25

    def test_without_the_script_the_page_time_is_shared_among_the_new_ticks(self, client, surgeon):
        consent, issued = issue(surgeon)
        sign_in(client, issued)
        items = list(consent.items.all())
        start = timezone.now()
        with time_machine.travel(start, tick=False):
            client.get(reverse("patient_risks"))
        with time_machine.travel(start + datetime.timedelta(seconds=120), tick=False):
            client.post(
                reverse("patient_risks"),
                {
                    "shown": [i.pk for i in items],
                    "acknowledged": [items[0].pk, items[1].pk],
                    "action": "save",
                },
            )
        seconds = {i.pk: i.seconds_on_screen for i in consent.items.all()}
        assert seconds[items[0].pk] == seconds[items[1].pk] == 60
        assert seconds[items[2].pk] == 0
        assert consent.items.get(pk=items[0].pk).reading_measured == "page"

    def test_the_time_on_each_step_is_recorded_and_capped_when_away(self, client, surgeon):
        consent, issued = issue(surgeon)
        sign_in(client, issued)
        start = timezone.now()
        with time_machine.travel(start, tick=False):
            client.get(reverse("patient_start"))
        with time_machine.travel(start + datetime.timedelta(seconds=95), tick=False):
            client.get(reverse("patient_priorities"))
        with time_machine.travel(start + datetime.timedelta(minutes=25), tick=False):
            client.get(reverse("patient_risks"))
        steps = dict(consent.step_times.values_list("step", "seconds"))
        assert steps == {"overview": 95, "priorities": STEP_IDLE_SECONDS}

    def test_nothing_is_added_while_the_signature_is_being_made(self, surgeon):
        """The sealed PDF and the logged record are made from the same rows: once signing has
        claimed the consent, reading reports and step times wait no more, they are dropped."""
        from consent.informed import consent_add_step_time, share_page_time
        from consent.models import SigningClaim

        consent, _ = ready_to_sign(surgeon)
        item = consent.items.first()
        SigningClaim.objects.create(consent=consent, token="t" * 32, started_at=timezone.now())
        consent_add_reading_time(consent=consent, seconds={item.pk: 30}, elapsed=60)
        consent_add_step_time(consent=consent, step="review", seconds=30)
        share_page_time(consent=consent, item_ids=[item.pk], seconds=30)
        item.refresh_from_db()
        assert item.seconds_on_screen == 0
        assert not consent.step_times.exists()

    def test_the_time_on_the_review_counts_until_the_signature(self, client, surgeon):
        consent, issued = ready_to_sign(surgeon)
        sign_in(client, issued)
        start = timezone.now()
        with time_machine.travel(start, tick=False):
            client.get(reverse("patient_review"))
        with time_machine.travel(start + datetime.timedelta(seconds=42), tick=False):
            response = client.post(
                reverse("patient_sign"), {"typed_name": "Ada Lovelace", "statement": "on"}
            )
        assert response["Location"] == reverse("patient_done")
        assert consent.step_times.get(step="review").seconds == 42

    def test_the_fast_reader_is_flagged_and_the_normal_one_is_not(self, client, surgeon):
        fast, _ = ready_to_sign(surgeon)
        consent_add_reading_time(
            consent=fast, seconds={i.pk: 2 for i in fast.items.all()}, elapsed=2
        )
        normal, _ = ready_to_sign(surgeon, full_name="Grace Hopper")
        read_everything(normal)
        sign(fast)
        sign(normal, name="Grace Hopper")
        assert reading_summary(fast).read_quickly
        assert not reading_summary(normal).read_quickly
        client.force_login(surgeon)
        assert "Read quickly" in client.get(reverse("consent_detail", args=[fast.pk])).text
        assert "Read quickly" not in client.get(reverse("consent_detail", args=[normal.pk])).text
        dashboard = client.get(reverse("home")).text
        assert dashboard.count("Read quickly") == 1
        assert "Flag: read in under half the predicted time." in pdf_text(
            Consent.objects.get(pk=fast.pk)
        )
        assert "Flag:" not in pdf_text(Consent.objects.get(pk=normal.pk))


# --- the surgeon's view and the sealed record -----------------------------------------------


class TestTheRecord:
    def test_the_surgeon_sees_first_try_results_and_which_risks(self, client, surgeon):
        consent, _ = at_the_check(surgeon)
        pass_checks(consent, wrong_first=2)
        client.force_login(surgeon)
        page = client.get(reverse("consent_detail", args=[consent.pk])).text
        assert "Needed help with 2 questions" in page
        for check in consent.checks.all()[:2]:
            assert check.about in page
        dashboard = client.get(reverse("home")).text
        assert "Needed help with 2 questions" in dashboard

    def test_the_pdf_states_all_three(self, surgeon):
        consent, _ = at_the_check(surgeon)
        pass_checks(consent, wrong_first=1)
        consent_state_priorities(
            consent=consent, chosen=["walking"], own_words="Walk my dog", actor=patient_actor()
        )
        consent_respond_to_priorities(
            consent=consent, text="Most people walk further.", actor=surgeon_actor(surgeon)
        )
        read_everything(consent, seconds_each=40)
        sign(consent)
        text = pdf_text(Consent.objects.get(pk=consent.pk))
        for heading in (
            "Time spent reading",
            "Check of understanding",
            "What matters to the patient",
        ):
            assert heading in text
        assert "Walk my dog" in text and "Most people walk further." in text
        assert "needed help with 1 of" in text
        assert "40 seconds" in text
        first = consent.checks.first()
        assert first.question.split()[0] in text

    def test_the_dashboard_asks_the_same_number_of_queries_for_more_consents(
        self, client, surgeon, django_assert_max_num_queries
    ):
        from django.test.utils import CaptureQueriesContext

        client.force_login(surgeon)
        ready_to_sign(surgeon)
        with CaptureQueriesContext(connection) as few:
            client.get(reverse("home"))
        for n in range(4):
            consent, _ = ready_to_sign(surgeon, full_name=f"Pat Number{'x' * n}")
            pass_checks(consent)
        with CaptureQueriesContext(connection) as many:
            client.get(reverse("home"))
        assert len(many) == len(few)


class TestInsider:
    def test_the_record_is_frozen_once_signed(self, surgeon):
        from tests.test_audit import refused

        consent, _ = at_the_check(surgeon)
        pass_checks(consent, wrong_first=1)
        consent_state_priorities(
            consent=consent, chosen=["work"], own_words="", actor=patient_actor()
        )
        consent_respond_to_priorities(consent=consent, text="Noted.", actor=surgeon_actor(surgeon))
        read_everything(consent)
        sign(consent)
        attempt = CheckAttempt.objects.filter(consent=consent, correct=False).first()
        refused(
            "UPDATE consent_checkattempt SET correct = TRUE WHERE id = %s",
            [attempt.pk],
            match="signed consent cannot be changed",
        )
        refused("DELETE FROM consent_checkattempt WHERE consent_id = %s", [consent.pk],
                match="signed consent cannot be changed")  # fmt: skip
        refused("UPDATE consent_priorities SET response = 'x'", match="cannot be changed")
        refused("UPDATE consent_steptime SET seconds = 9999", match="cannot be changed")
        refused("UPDATE consent_consentcheck SET question = 'x'", match="cannot be changed")
        refused(
            "UPDATE consent_consentitemsnapshot SET seconds_on_screen = 9999",
            match="cannot be changed",
        )
        refused(
            "UPDATE consent_consent SET predicted_reading_seconds = 1", match="cannot be changed"
        )

    def test_verify_audit_sees_a_wrong_first_answer_made_right(self, surgeon):
        from tests.test_audit import guards_lifted, sql

        consent, _ = at_the_check(surgeon)
        pass_checks(consent, wrong_first=1)
        read_everything(consent)
        sign(consent)
        assert audit_verify().intact
        with guards_lifted():
            sql("UPDATE consent_checkattempt SET correct = TRUE")
        report = audit_verify()
        assert not report.intact
        assert any("informed_sha256" in problem for problem in report.problems)

    def test_answers_after_signing_are_refused(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        sign(consent)
        check = consent.checks.first()
        with pytest.raises(ConsentError, match="can no longer be changed"):
            consent_answer_check(
                consent=consent, check_id=check.pk, chosen=check.answer, shown=None,
                actor=patient_actor(),
            )  # fmt: skip
        consent_add_reading_time(consent=consent, seconds={consent.items.first().pk: 5}, elapsed=5)
        assert consent.items.first().seconds_on_screen == 0
