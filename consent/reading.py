"""What the record says about reading and understanding: the predicted reading time of a
consent's frozen wording (200 words a minute), the time the patient spent, and their answers
to the check of understanding. Read-only: the changes are in consent/informed.py."""

import math
from dataclasses import dataclass

from .models import CheckAttempt, Consent, ConsentCheck, PatientStep

WORDS_PER_MINUTE = 200
# A consent read in less than this share of its predicted time is flagged to the surgeon.
FAST_READING_SHARE = 0.5


def word_count(text: str) -> int:
    return len(text.split())


def predicted_seconds(procedure_text: dict, items) -> int:
    """Reading the frozen wording at 200 words a minute: the procedure's sections and each
    risk that applies (title and explanation)."""
    words = sum(word_count(text or "") for text in procedure_text.values())
    words += sum(item_words(item) for item in items if not item.not_applicable)
    return math.ceil(words * 60 / WORDS_PER_MINUTE)


def item_words(item) -> int:
    return word_count(item.title) + word_count(item.explanation)


def item_predicted_seconds(item) -> int:
    return math.ceil(item_words(item) * 60 / WORDS_PER_MINUTE)


@dataclass(frozen=True)
class ReadingSummary:
    """How long the patient read, against how long the wording takes to read."""

    overview_seconds: int
    risk_seconds: int
    predicted: int | None
    steps: list[tuple[str, int]]  # (the step's name, seconds), in the patient's order

    @property
    def total(self) -> int:
        return self.overview_seconds + self.risk_seconds

    @property
    def read_quickly(self) -> bool:
        return bool(self.predicted) and self.total < self.predicted * FAST_READING_SHARE

    @property
    def share(self) -> int | None:
        """The reading time as a percentage of the predicted time."""
        return round(100 * self.total / self.predicted) if self.predicted else None


def reading_summary(consent: Consent, items=None) -> ReadingSummary:
    items = consent.items.all() if items is None else items
    steps = dict(consent.step_times.values_list("step", "seconds"))
    return ReadingSummary(
        overview_seconds=steps.get(PatientStep.OVERVIEW, 0),
        risk_seconds=sum(item.seconds_on_screen for item in items if not item.not_applicable),
        predicted=consent.predicted_reading_seconds,
        steps=[(step.label, steps[step.value]) for step in PatientStep if step.value in steps],
    )


@dataclass(frozen=True)
class CheckResult:
    check: ConsentCheck
    attempts: list[CheckAttempt]

    @property
    def first_answer(self) -> str:
        return self.attempts[0].chosen if self.attempts else ""

    @property
    def right_first_time(self) -> bool:
        return bool(self.attempts) and self.attempts[0].correct

    @property
    def needed_help(self) -> bool:
        return bool(self.attempts) and not self.attempts[0].correct


def check_results(consent: Consent) -> list[CheckResult]:
    checks = consent.checks.select_related("item").prefetch_related("attempts")
    return [CheckResult(check, list(check.attempts.all())) for check in checks]
