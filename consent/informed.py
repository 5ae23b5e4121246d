"""Provably informed: how long the patient read, their check of understanding, and what
matters to them with the surgeon's response. Services like those of consent/services.py: every
change is made here, under the consent's row lock, and the decisions are audited.

Reading time is a measurement, not a decision: it is written without an audit event each
time (a page reports it every few ticks), and its totals are logged when the patient signs
(signed_record) and printed in the sealed PDF.
"""

import datetime
import random

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import notify
from .actors import Actor
from .audit import audit_append
from .models import (
    PRIORITY_CHOICES,
    PRIORITY_OWN_WORDS_MAX,
    SECTION_TITLES,
    CheckAttempt,
    Consent,
    ConsentCheck,
    ConsentItemSnapshot,
    PatientStep,
    Priorities,
    ReadingMeasure,
    SigningClaim,
    StepTime,
)
from .names import printable_text
from .services import (
    ConsentError,
    _email_after_commit,
    _lock,
    _notify_surgeon,
    _plain_text,
    _require_in_review,
    _touch,
)

# One report of a risk's time on screen counts at most the time since that risk's last report
# plus this, so that a page (or a patient editing a request) cannot claim more time than has
# passed. The slack one report uses is taken from the next one's time (patient_session), so
# reports sent in a burst cannot each add it again.
REPORT_SLACK_SECONDS = 5
# Time on a step stops counting after this long without a request (the patient walked away).
STEP_IDLE_SECONDS = 10 * 60
RESPONSE_MAX_LENGTH = 2000


# --- measured reading time against the predicted time -------------------------------------


def _no_signature_under_way(consent: Consent) -> bool:
    """Once signing has begun (a claim) the record being sealed must not change under it."""
    return not SigningClaim.objects.filter(consent=consent).exists()


def consent_add_step_time(*, consent: Consent, step: str, seconds: float) -> None:
    """Add to the time the patient spent on one step (capped: see STEP_IDLE_SECONDS)."""
    seconds = max(0, min(round(seconds), STEP_IDLE_SECONDS))
    if not seconds or step not in PatientStep.values:
        return
    with transaction.atomic():
        consent = _lock(consent)
        if not consent.is_open or not _no_signature_under_way(consent):
            return
        row, _ = StepTime.objects.get_or_create(consent=consent, step=step)
        StepTime.objects.filter(pk=row.pk).update(seconds=F("seconds") + seconds)


def consent_add_reading_time(
    *, consent: Consent, seconds: dict[int, int], elapsed: float | dict[int, float]
) -> dict[int, int]:
    """Add the seconds each risk was on screen, as the page measured them since its last
    report. Each is capped at the time that passed since then (elapsed: one for every risk,
    or per risk; negative while an earlier report's slack is not used up) plus
    REPORT_SLACK_SECONDS. Ignored once the consent is no longer open or its signature is
    being made. Returns the seconds counted for each risk."""

    def cap(pk: int) -> int:
        since = elapsed.get(pk, 0.0) if isinstance(elapsed, dict) else elapsed
        return int(min(since + REPORT_SLACK_SECONDS, STEP_IDLE_SECONDS))

    added = {pk: min(int(value), cap(pk)) for pk, value in seconds.items() if value > 0}
    added = {pk: value for pk, value in added.items() if value > 0}
    if not added:
        return {}
    with transaction.atomic():
        consent = _lock(consent)
        if consent.status not in ("issued", "in_review") or not _no_signature_under_way(consent):
            return {}
        items = list(consent.items.filter(pk__in=added, not_applicable=False))
        for item in items:
            ConsentItemSnapshot.objects.filter(pk=item.pk).update(
                seconds_on_screen=F("seconds_on_screen") + added[item.pk],
                reading_measured=ReadingMeasure.SCREEN,
            )
    return {item.pk: added[item.pk] for item in items}


def share_page_time(*, consent: Consent, item_ids: list[int], seconds: float) -> None:
    """Without the page's script: the time between the risks page being shown and the ticks
    sent with it, shared among the risks newly ticked (only those that have no time yet)."""
    if not item_ids or seconds <= 0:
        return
    with transaction.atomic():
        consent = _lock(consent)
        if not consent.is_open or not _no_signature_under_way(consent):
            return
        items = list(
            consent.items.filter(pk__in=item_ids, not_applicable=False, seconds_on_screen=0)
        )
        if not items:
            return
        each = max(1, round(min(seconds, STEP_IDLE_SECONDS) / len(items)))
        ConsentItemSnapshot.objects.filter(pk__in=[i.pk for i in items]).update(
            seconds_on_screen=each, reading_measured=ReadingMeasure.PAGE
        )


# --- the check of understanding -------------------------------------------------------------


def next_check(consent: Consent) -> ConsentCheck | None:
    """The first check the patient has not yet answered right."""
    return consent.checks.filter(passed_at__isnull=True).select_related("item").first()


def shuffled_options(check: ConsentCheck) -> list[str]:
    options = list(check.options)
    random.SystemRandom().shuffle(options)
    return options


def check_passage(check: ConsentCheck, consent: Consent) -> tuple[str, str]:
    """The passage a check is about, to show again after a wrong answer: (title, text)."""
    if check.item_id:
        return check.item.title, check.item.explanation
    return dict(SECTION_TITLES)[check.section], consent.procedure_text.get(check.section, "")


def consent_answer_check(
    *, consent: Consent, check_id: int, chosen: str, shown: list[str] | None, actor: Actor
) -> CheckAttempt:
    """The patient answers one understanding check. Every attempt is kept; a right answer
    passes the check. Signing needs every check passed."""
    with transaction.atomic():
        consent = _lock(consent)
        _require_in_review(consent)
        check = consent.checks.select_for_update().filter(pk=check_id).first()
        if check is None:
            raise ConsentError("That question is not part of this consent.")
        if check.passed_at is not None:
            raise ConsentError("You have already answered that question.")
        if chosen not in check.options:
            raise ConsentError("Please choose one of the answers.")
        if shown is None or sorted(shown) != sorted(check.options):
            shown = []  # not known (an answer posted without the page): never made up
        number = check.attempts.count() + 1
        correct = chosen == check.answer
        attempt = CheckAttempt.objects.create(
            consent=consent,
            check_item=check,
            number=number,
            chosen=chosen,
            correct=correct,
            shown=shown,
        )
        if correct:
            check.passed_at = attempt.answered_at
            check.save(update_fields=["passed_at"])
        _touch(consent)
        audit_append(
            actor=actor,
            action="check_answered",
            consent=consent,
            details={
                "check": check.pk,
                "order": check.order,
                "attempt": number,
                "chosen": chosen,
                "correct": correct,
            },
        )
    return attempt


# --- what matters to the patient ------------------------------------------------------------

PRIORITY_KEYS = [key for key, _ in PRIORITY_CHOICES]


def consent_state_priorities(
    *, consent: Consent, chosen: list[str], own_words: str, actor: Actor
) -> Priorities | None:
    """The patient says what matters most to them (or takes it back: nothing chosen and no
    words). Signing waits for the surgeon's response. Once the surgeon has responded, the
    patient asks a question instead of changing it."""
    chosen = [key for key in PRIORITY_KEYS if key in set(chosen)]
    own_words = printable_text(own_words).strip()
    if len(own_words) > PRIORITY_OWN_WORDS_MAX:
        raise ConsentError(
            f"What you wrote is {len(own_words)} characters long. "
            f"Please keep it under {PRIORITY_OWN_WORDS_MAX}."
        )
    with transaction.atomic():
        consent = _lock(consent)
        _require_in_review(consent)
        current = Priorities.objects.select_for_update().filter(consent=consent).first()
        if current is not None and current.is_answered:
            raise ConsentError(
                "Your surgeon has already responded to what matters to you, so it cannot be "
                "changed here. If something else matters to you, ask a question about a risk."
            )
        if current is not None and current.chosen == chosen and current.own_words == own_words:
            return current
        if not chosen and not own_words:
            if current is None:
                return None
            current.delete()
            _touch(consent)
            audit_append(actor=actor, action="priorities_cleared", consent=consent)
            return None
        # The surgeon is emailed the first time only: after an edit, or taken back and said
        # again, their page and dashboard show the latest words (one email per request would
        # let a patient fill the team's inbox).
        first = not consent.audit_events.filter(action="priorities_stated").exists()
        if current is None:
            current = Priorities(consent=consent)
        current.chosen, current.own_words, current.stated_at = chosen, own_words, timezone.now()
        current.save()
        _touch(consent)
        audit_append(
            actor=actor,
            action="priorities_stated",
            consent=consent,
            details={"chosen": chosen, "own_words": own_words},
        )
        if first:
            _notify_surgeon(consent, "priorities_stated")
    return current


def consent_respond_to_priorities(
    *, consent: Consent, text: str, actor: Actor, stated_at: str | None = None
) -> Priorities:
    """The surgeon's team responds to what matters to the patient (for example which risks
    bear on it). stated_at: when the patient said what the surgeon's page showed (ISO 8601);
    refused if they have changed it since, so that a response never answers words its writer
    has not read. Callers check that the user may see the consent."""
    text = _plain_text(text, what="response", max_length=RESPONSE_MAX_LENGTH)
    if (
        actor.user is None
        or not Consent.objects.for_surgeon(actor.user).filter(pk=consent.pk).exists()
    ):
        raise ConsentError("Only the surgeon's team can respond to this patient.")
    with transaction.atomic():
        consent = _lock(consent)
        if consent.status != "in_review":
            raise ConsentError(
                f"You cannot respond: this consent is {consent.get_status_display().lower()}."
            )
        priorities = Priorities.objects.select_for_update().filter(consent=consent).first()
        if priorities is None:
            raise ConsentError("The patient has not said what matters to them.")
        if priorities.is_answered:
            raise ConsentError("Somebody has already responded to what matters to the patient.")
        if stated_at is not None and parse_iso(stated_at) != priorities.stated_at:
            raise ConsentError(
                "The patient changed what matters to them after this page was shown. "
                "Please read it again, then send your response."
            )
        priorities.response = text
        priorities.responded_by = actor.user
        priorities.responded_at = timezone.now()
        priorities.save(update_fields=["response", "responded_by", "responded_at"])
        _touch(consent)
        audit_append(
            actor=actor,
            action="priorities_responded",
            consent=consent,
            details={"text": text},
        )
        if consent.patient.email and not waiting_for_surgeon(consent):
            _email_after_commit(consent, notify.patient_answer_ready, action="answer", actor=actor)
    return priorities


def waiting_for_surgeon(consent: Consent) -> bool:
    """Whether signing waits for the surgeon's team: a question or the priorities."""
    return (
        consent.questions.filter(answered_at__isnull=True).exists()
        or Priorities.objects.filter(consent=consent, responded_at__isnull=True).exists()
    )


def parse_iso(text: str) -> datetime.datetime | None:
    try:
        return parse_datetime(text)
    except ValueError:
        return None


def elapsed_seconds(since: datetime.datetime | None, now: datetime.datetime) -> float | None:
    return None if since is None else max(0.0, (now - since).total_seconds())
