import datetime
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from consent.models import Consent, ConsentStatus
from consent.services import (
    consent_acknowledge_item,
    consent_answer_question,
    consent_ask_question,
    consent_expire,
    consent_reissue_link,
    consent_revoke,
    link_verify_identity,
)

from .helpers import (
    DOB,
    issue,
    pass_checks,
    patient_actor,
    procedure_with_risks,
    ready_to_sign,
    surgeon_actor,
)

pytestmark = pytest.mark.usefixtures("library")

RIGHT = {"day": "27", "month": "3", "year": "1964"}
WRONG = {"day": "1", "month": "1", "year": "1970"}


def visible(response) -> str:
    """The page's text as a person reads it: tags removed, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.text).split())


def error_summary(response) -> list[tuple[str, str]]:
    """The problems listed at the top of a refused form: (message, the id it links to)."""
    match = re.search(
        r'<div class="alert alert-danger" role="alert" id="error-summary".*?</div>',
        response.text,
        re.S,
    )
    assert match, "no error summary on the page"
    summary = match.group(0)
    assert 'tabindex="-1"' in summary and "data-error-summary" in summary  # the script focuses it
    assert response.text.index('id="error-summary"') < response.text.index("<form")  # at the top
    return [
        (" ".join(re.sub(r"<[^>]+>", " ", text).split()), target)
        for target, text in re.findall(r'<li>(?:<a href="#([^"]*)">)?(.*?)</li>', summary, re.S)
    ]


def opened_before(issued) -> None:
    """The patient opened the link once before (on another day, or another device)."""
    link_verify_identity(link=issued.link, date_of_birth=DOB, actor=patient_actor())


def link_url(issued) -> str:
    return reverse("patient_link", args=[issued.token])


def sign_in(client, issued):
    response = client.post(link_url(issued), RIGHT)
    assert response.status_code == 302, response.content
    return response


class TestIdentityCheck:
    def test_it_asks_for_the_date_of_birth_without_showing_patient_details(self, client, surgeon):
        _, issued = issue(surgeon)
        response = client.get(link_url(issued))
        assert response.status_code == 200
        assert "Date of birth" in response.text
        assert "Ada Lovelace" not in response.text
        assert "no-store" in response["Cache-Control"]

    def test_the_right_date_starts_a_session_at_a_url_without_the_token(self, client, surgeon):
        consent, issued = issue(surgeon)
        response = sign_in(client, issued)
        assert response["Location"] == reverse("patient_start")
        assert issued.token not in response["Location"]
        page = client.get(response["Location"])
        assert page.status_code == 200
        assert consent.procedure_name in page.text
        assert "Step 1 of 5: About your operation" in page.text

    def test_a_wrong_date_says_so_and_counts_down(self, client, surgeon):
        _, issued = issue(surgeon)
        response = client.post(link_url(issued), WRONG)
        assert response.status_code == 400
        assert "does not match our records" in response.text
        assert "You have 4 tries left" in response.text

    def test_an_impossible_date_says_so(self, client, surgeon):
        _, issued = issue(surgeon)
        response = client.post(link_url(issued), {"day": "31", "month": "2", "year": "1964"})
        assert "That is not a real date" in response.text
        issued.link.refresh_from_db()
        assert issued.link.failed_attempts == 0  # a typo is not a wrong answer

    def test_letters_instead_of_numbers_say_so(self, client, surgeon):
        _, issued = issue(surgeon)
        response = client.post(link_url(issued), {"day": "x", "month": "3", "year": "1964"})
        assert "in numbers" in response.text

    @pytest.mark.parametrize(
        ("typed", "message"),
        [
            pytest.param(
                {"day": "27", "month": "3", "year": "64"},
                "Enter the year in full, for example 1964.",
                id="two-digit-year",
            ),
            pytest.param(
                {"day": "1", "month": "1", "year": "2999"},
                "Your date of birth must be in the past.",
                id="in-the-future",
            ),
            pytest.param(
                {"day": "", "month": "3", "year": "1964"},
                "Enter the day you were born.",
                id="no-day",
            ),
        ],
    )
    def test_a_date_that_cannot_be_right_is_explained_and_not_counted(
        self, client, surgeon, typed, message
    ):
        _, issued = issue(surgeon)
        response = client.post(link_url(issued), typed)
        assert response.status_code == 400
        assert message in response.text
        assert f'value="{typed["year"]}"' in response.text  # what was typed stays
        issued.link.refresh_from_db()
        assert issued.link.failed_attempts == 0

    def test_a_refused_date_is_listed_at_the_top_and_linked_to_the_day(self, client, surgeon):
        _, issued = issue(surgeon)
        response = client.post(link_url(issued), WRONG)
        [(message, target)] = error_summary(response)
        assert message.startswith("That date of birth does not match our records.")
        assert target == "id_day"
        for part in ("day", "month", "year"):
            assert re.search(
                rf'id="id_{part}"[^>]*aria-describedby="dob-hint dob-error" aria-invalid="true"',
                response.text,
            )
        assert 'id="dob-error"' in response.text

    def test_a_missing_part_of_the_date_links_to_that_box(self, client, surgeon):
        _, issued = issue(surgeon)
        response = client.post(link_url(issued), {"day": "27", "month": "", "year": "1964"})
        assert error_summary(response) == [("Enter the month you were born.", "id_month")]
        assert re.search(r'id="id_month"[^>]*aria-invalid="true"', response.text)
        assert not re.search(r'id="id_day"[^>]*aria-invalid', response.text)

    def test_a_closed_consent_says_so(self, client, surgeon):
        consent, issued = issue(surgeon, planned_in_days=1)
        with time_machine.travel(timezone.now() + datetime.timedelta(days=2)):
            consent_expire(consent=consent)
            response = client.get(link_url(issued))
        assert response.status_code == 410
        assert "This consent form has closed" in response.text

    def test_five_wrong_dates_lock_the_link(self, client, surgeon):
        _, issued = issue(surgeon)
        for _ in range(4):
            client.post(link_url(issued), WRONG)
        response = client.post(link_url(issued), WRONG)
        assert response.status_code == 403
        assert "This link is locked" in response.text
        assert "contact your surgeon" in response.text.lower()
        # The lock holds for a new browser, and for the right answer.
        fresh = client.__class__()
        assert "This link is locked" in fresh.post(link_url(issued), RIGHT).text

    def test_an_unknown_link_says_so(self, client):
        response = client.get(reverse("patient_link", args=["nonsense-token"]))
        assert response.status_code == 404
        assert "We cannot find this link" in response.text

    def test_an_expired_link_says_what_to_do(self, client, surgeon):
        _, issued = issue(surgeon, planned_in_days=60)
        with time_machine.travel(timezone.now() + datetime.timedelta(days=31)):
            response = client.get(link_url(issued))
        assert response.status_code == 410
        assert "This link has expired" in response.text
        assert "ask them to send you a new link" in response.text

    def test_a_reissued_link_points_to_the_newer_one(self, client, surgeon):
        consent, issued = issue(surgeon)
        consent_reissue_link(consent=consent, actor=surgeon_actor(surgeon))
        response = client.get(link_url(issued))
        assert response.status_code == 410
        assert "This link has been replaced" in response.text

    def test_a_revoked_consent_says_so(self, client, surgeon):
        consent, issued = issue(surgeon)
        consent_revoke(consent=consent, actor=surgeon_actor(surgeon), reason="Cancelled")
        response = client.get(link_url(issued))
        assert "This consent has been cancelled" in response.text

    def test_a_revoke_ends_a_session_already_open(self, client, surgeon):
        consent, issued = issue(surgeon)
        sign_in(client, issued)
        consent_revoke(consent=consent, actor=surgeon_actor(surgeon), reason="Cancelled")
        assert "This consent has been cancelled" in client.get(reverse("patient_risks")).text


class TestSession:
    def test_patient_pages_need_a_session(self, client):
        response = client.get(reverse("patient_risks"))
        assert response.status_code == 401
        assert "Please open your link again" in response.text

    def test_the_session_ends_after_inactivity(self, client, surgeon, settings):
        _, issued = issue(surgeon)
        sign_in(client, issued)
        later = timezone.now() + datetime.timedelta(
            minutes=settings.PATIENT_SESSION_IDLE_MINUTES + 1
        )
        with time_machine.travel(later):
            response = client.get(reverse("patient_risks"))
        assert response.status_code == 401

    def test_activity_keeps_the_session_alive(self, client, surgeon, settings):
        _, issued = issue(surgeon)
        sign_in(client, issued)
        step = datetime.timedelta(minutes=settings.PATIENT_SESSION_IDLE_MINUTES - 5)
        with time_machine.travel(timezone.now() + step):
            assert client.get(reverse("patient_risks")).status_code == 200
        with time_machine.travel(timezone.now() + 2 * step):
            assert client.get(reverse("patient_risks")).status_code == 200

    def test_proving_identity_gives_the_browser_a_new_session_id(self, client, surgeon, settings):
        _, issued = issue(surgeon)
        # Someone planted a session id in the patient's browser before they opened the link.
        planted = client.session
        planted["planted"] = True
        planted.save()
        planted_key = planted.session_key
        assert client.cookies[settings.SESSION_COOKIE_NAME].value == planted_key
        sign_in(client, issued)
        assert client.cookies[settings.SESSION_COOKIE_NAME].value != planted_key
        assert client.get(reverse("patient_risks")).status_code == 200
        # The planted id opens nothing: whoever holds it is not signed in as the patient.
        attacker = client.__class__()
        attacker.cookies[settings.SESSION_COOKIE_NAME] = planted_key
        assert attacker.get(reverse("patient_risks")).status_code == 401

    def test_opening_the_link_again_in_the_same_browser_skips_the_check(self, client, surgeon):
        _, issued = issue(surgeon)
        sign_in(client, issued)
        assert client.get(link_url(issued))["Location"] == reverse("patient_start")

    def test_opening_the_link_again_goes_back_to_the_first_risk_left_to_tick(self, client, surgeon):
        consent, issued = issue(surgeon)
        opened_before(issued)
        first, second, *_ = consent.items.order_by("order")
        consent_acknowledge_item(
            consent=consent, item_id=first.pk, acknowledged=True, actor=patient_actor()
        )
        response = sign_in(client, issued)
        assert response["Location"] == f"{reverse('patient_risks')}#item-{second.pk}"
        page = client.get(reverse("patient_risks"))
        assert "Welcome back. You are where you left off." in page.text
        # The same browser, opening the link again later.
        assert client.get(link_url(issued))["Location"] == response["Location"]

    def test_opening_the_link_again_with_every_risk_ticked_goes_to_the_review(
        self, client, surgeon
    ):
        consent, issued = ready_to_sign(surgeon)
        question = consent_ask_question(
            consent=consent,
            item_id=consent.items.first().pk,
            text="Can I drive home?",
            actor=patient_actor(),
        )
        # Asked, not yet answered: the review says what it waits for.
        assert sign_in(client, issued)["Location"] == reverse("patient_review")
        assert "Waiting for your surgeon's team" in client.get(reverse("patient_review")).text
        consent_answer_question(
            consent=consent,
            question_id=question.pk,
            text="No. Someone must drive you.",
            actor=surgeon_actor(surgeon),
        )
        # Answered: straight to the page where the patient signs, the answer on it.
        other_device = client.__class__()
        assert sign_in(other_device, issued)["Location"] == reverse("patient_review")
        review = other_device.get(reverse("patient_review"))
        assert "No. Someone must drive you." in review.text and "Sign my consent" in review.text

    def test_a_question_asked_before_any_tick_counts_as_started(self, client, surgeon):
        consent, issued = issue(surgeon)
        opened_before(issued)
        consent_ask_question(
            consent=consent,
            item_id=consent.items.order_by("order").last().pk,
            text="Is it safe?",
            actor=patient_actor(),
        )
        first = consent.items.order_by("order").first()
        assert sign_in(client, issued)["Location"] == f"{reverse('patient_risks')}#item-{first.pk}"

    def test_after_signing_every_step_leads_to_the_confirmation(self, client, surgeon):
        from .helpers import ready_to_sign, sign

        consent, issued = ready_to_sign(surgeon)
        sign_in(client, issued)
        assert client.get(reverse("patient_done"))["Location"] == reverse("patient_start")
        sign(consent)
        for step in ("patient_start", "patient_risks", "patient_review"):
            assert client.get(reverse(step))["Location"] == reverse("patient_done"), step
        assert client.get(link_url(issued))["Location"] == reverse("patient_start")
        assert "Your consent is signed" in client.get(reverse("patient_done")).text

    def test_the_session_is_bound_to_one_consent(self, client, surgeon):
        _one, first = issue(surgeon, full_name="First Patient")
        two, _ = issue(surgeon, full_name="Second Patient")
        sign_in(client, first)
        page = client.get(reverse("patient_risks"))
        other_item = two.items.first()
        assert f'id="ack-{other_item.pk}"' not in page.text
        response = client.post(
            reverse("patient_acknowledge", args=[other_item.pk]),
            {"acknowledged": "1"},
            headers={"accept": "application/json"},
        )
        assert response.status_code == 409
        other_item.refresh_from_db()
        assert other_item.acknowledged_at is None


class TestRisks:
    def test_it_shows_every_risk_with_severity_frequency_and_a_checkbox(self, client, surgeon):
        consent, issued = issue(surgeon)
        sign_in(client, issued)
        page = client.get(reverse("patient_risks"))
        assert "Step 3 of 5: Risks" in page.text
        for item in consent.items.all():
            assert item.title in page.text
            assert (
                f'<label class="form-check-label" for="ack-{item.pk}">I have read and understood this'
                in page.text
            )
        assert "Rare but serious" in page.text
        assert "How often: One of the most common risks" in page.text

    def test_a_tick_is_saved_at_once_with_javascript(self, client, surgeon):
        consent, issued = issue(surgeon)
        sign_in(client, issued)
        item = consent.items.first()
        response = client.post(
            reverse("patient_acknowledge", args=[item.pk]),
            {"acknowledged": "1"},
            headers={"accept": "application/json"},
        )
        assert response.status_code == 200
        assert response.json()["acknowledged"] is True
        item.refresh_from_db()
        assert item.acknowledged_at is not None

    def test_a_tick_is_saved_by_the_form_without_javascript(self, client, surgeon):
        consent, issued = issue(surgeon)
        sign_in(client, issued)
        items = list(consent.items.all())
        response = client.post(
            reverse("patient_risks"),
            {
                "shown": [i.pk for i in items],
                "acknowledged": [items[0].pk, items[1].pk],
                "action": "save",
            },
        )
        assert response.status_code == 302
        assert consent.items.filter(acknowledged_at__isnull=False).count() == 2

    def test_without_javascript_the_page_says_the_buttons_save_the_ticks(self, client, surgeon):
        _, issued = issue(surgeon)
        sign_in(client, issued)
        page = client.get(reverse("patient_risks"))
        assert re.search(r'<span data-saved-by-form>[^<]*"Save my progress"', page.text)
        # "Saved as you make it" is only true once the script runs; it shows it.
        assert re.search(
            r"<span data-saved-at-once hidden>Each tick is saved as you make it", page.text
        )

    def test_the_count_is_of_the_saved_ticks(self, client, surgeon):
        consent, issued = issue(surgeon)
        sign_in(client, issued)
        items = list(consent.items.all())
        assert "0 of 6 risks ticked and saved." in visible(client.get(reverse("patient_risks")))
        client.post(
            reverse("patient_risks"),
            {
                "shown": [i.pk for i in items],
                "acknowledged": [i.pk for i in items],
                "action": "save",
            },
        )
        assert "6 of 6 risks ticked and saved." in visible(client.get(reverse("patient_risks")))
        # A refused form shows the ticks as sent, and counts only what is saved.
        response = client.post(
            reverse("patient_risks"),
            {"shown": [i.pk for i in items], "acknowledged": ["x"], "action": "save"},
        )
        assert response.status_code == 400
        assert "6 of 6 risks ticked and saved." in visible(response)

    def test_ticks_survive_a_closed_tab_and_another_device(self, client, surgeon):
        consent, issued = issue(surgeon)
        sign_in(client, issued)
        item = consent.items.first()
        client.post(reverse("patient_acknowledge", args=[item.pk]), {"acknowledged": "1"})
        other_device = client.__class__()
        sign_in(other_device, issued)
        page = other_device.get(reverse("patient_risks"))
        assert re.search(rf'id="ack-{item.pk}" checked', page.text)
        assert "1 of 6 risks ticked" in visible(page)

    def test_continuing_with_missing_ticks_lists_exactly_which(self, client, surgeon):
        consent, issued = issue(surgeon)
        sign_in(client, issued)
        items = list(consent.items.all())
        ticked = items[:4]
        response = client.post(
            reverse("patient_risks"),
            {
                "shown": [i.pk for i in items],
                "acknowledged": [i.pk for i in ticked],
                "action": "continue",
            },
        )
        assert response.status_code == 400
        assert "Please tick 2 more risks before you go on" in response.text
        missing = re.search(
            r'<div class="alert alert-danger" role="alert" id="missing".*?</div>',
            response.text,
            re.S,
        )
        for item in items[4:]:
            assert item.title in missing.group(0)
        for item in ticked:
            assert item.title not in missing.group(0)

    def test_continuing_with_every_tick_goes_to_the_check_then_the_review(self, client, surgeon):
        consent, issued = issue(surgeon)
        sign_in(client, issued)
        items = list(consent.items.all())
        response = client.post(
            reverse("patient_risks"),
            {
                "shown": [i.pk for i in items],
                "acknowledged": [i.pk for i in items],
                "action": "continue",
            },
        )
        assert response["Location"] == reverse("patient_check")
        assert "Step 4 of 5: Check your understanding" in client.get(response["Location"]).text
        pass_checks(consent)
        assert "Step 5 of 5: Review and sign" in client.get(reverse("patient_review")).text

    def test_a_procedure_without_checks_goes_from_the_risks_to_the_review(self, client, surgeon):
        consent, issued = issue(surgeon)
        consent.checks.all().delete()
        Consent.objects.filter(pk=consent.pk).update(
            content_sha256=consent.compute_content_sha256()
        )
        sign_in(client, issued)
        for item in consent.items.all():
            client.post(reverse("patient_acknowledge", args=[item.pk]), {"acknowledged": "1"})
        assert client.get(reverse("patient_check"))["Location"] == reverse("patient_review")
        assert "Step 4 of 4: Review and sign" in client.get(reverse("patient_review")).text

    def test_the_review_sends_back_while_ticks_are_missing(self, client, surgeon):
        _, issued = issue(surgeon)
        sign_in(client, issued)
        assert client.get(reverse("patient_review"))["Location"] == reverse("patient_risks")

    def test_not_applicable_risks_are_shown_with_their_reason_and_need_no_tick(
        self, client, surgeon
    ):
        from procedures.models import Procedure

        skipped = Procedure.objects.get(slug="lumbar-rhizotomy").items.get(
            title="Risks of the anaesthetic"
        )
        _consent, issued = issue(
            surgeon,
            not_applicable={skipped.pk: "You will be awake, with a local numbing injection."},
        )
        sign_in(client, issued)
        page = client.get(reverse("patient_risks"))
        assert "Risks your surgeon says do not apply to you" in page.text
        assert "You will be awake, with a local numbing injection." in page.text
        assert "0 of 5 risks ticked" in visible(page)

    def test_the_patients_text_is_escaped(self, client, surgeon):
        from consent.services import ExtraRisk

        _consent, issued = issue(
            surgeon,
            extra_risks=[
                ExtraRisk(
                    title="<script>alert(1)</script>", explanation="<b>bold</b>", severity="common"
                )
            ],
        )
        sign_in(client, issued)
        page = client.get(reverse("patient_risks"))
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "&lt;b&gt;bold&lt;/b&gt;" in page.text

    def test_the_expired_planned_date_closes_the_consent_mid_review(
        self, client, surgeon, settings
    ):
        settings.SESSION_COOKIE_AGE = 7 * 24 * 3600  # a session kept alive across the date
        consent, issued = issue(surgeon, planned_in_days=1)
        sign_in(client, issued)
        with time_machine.travel(timezone.now() + datetime.timedelta(days=2), tick=False):
            client.session  # noqa: B018
            from consent.models import PatientLink

            PatientLink.objects.update(expires_at=timezone.now() + datetime.timedelta(days=5))
            # Keep the session fresh for the jump.
            session = client.session
            session["patient"]["seen"] = timezone.now().timestamp()
            session.save()
            response = client.get(reverse("patient_risks"))
        assert "This consent form has closed" in response.text
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.EXPIRED


def test_the_risk_page_runs_the_same_queries_for_5_and_40_risks(client, surgeon):
    counts = {}
    for n in (5, 40):
        procedure = procedure_with_risks(n)
        _, issued = issue(surgeon, procedure.slug)
        fresh = client.__class__()
        sign_in(fresh, issued)
        fresh.get(reverse("patient_risks"))  # warm up
        with CaptureQueriesContext(connection) as queries:
            assert fresh.get(reverse("patient_risks")).status_code == 200
        counts[n] = len(queries)
    assert counts[5] == counts[40], counts
