"""Reading grade of patient-facing text (Flesch-Kincaid), so authors can keep it plain.

Our target is grade 8 or lower: most adults read comfortably at that level.
"""

import statistics

import textstat

from .models import PROCEDURE_TEXT_FIELDS, Procedure, UnderstandingCheck

TARGET_GRADE = 8.0


def grade(text: str) -> float:
    return float(textstat.flesch_kincaid_grade(text))


def procedure_texts(procedure: Procedure) -> dict[str, str]:
    """Every patient-facing passage of a procedure, keyed by where it is shown."""
    texts = {field: getattr(procedure, field) for field in PROCEDURE_TEXT_FIELDS}
    for item in procedure.items.all():
        texts[f"risk: {item.title}"] = f"{item.title}. {item.explanation}"
    for check in procedure.understanding_checks.all():
        texts[f"check {check.order}: {check.question}"] = check_text(check)
    return texts


def check_text(check: UnderstandingCheck) -> str:
    """A check as one passage, as the patient meets it: the question, each answer on offer (a
    sentence of its own, as each is a separate choice), then why the right one is right."""
    parts = [check.question, check.answer, *check.wrong_answer_list, check.explanation]
    return " ".join(_as_sentence(part) for part in parts)


def _as_sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else f"{text}."


def procedure_grades(procedure: Procedure) -> dict[str, float]:
    return {where: grade(text) for where, text in procedure_texts(procedure).items()}


def median_grade(procedure: Procedure) -> float:
    return statistics.median(procedure_grades(procedure).values())
