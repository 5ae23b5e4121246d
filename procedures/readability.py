"""Reading grade of patient-facing text (Flesch-Kincaid), so authors can keep it plain.

Our target is grade 8 or lower: most adults read comfortably at that level.
"""

import statistics

import textstat

from .models import PROCEDURE_TEXT_FIELDS, Procedure

TARGET_GRADE = 8.0


def grade(text: str) -> float:
    return float(textstat.flesch_kincaid_grade(text))


def procedure_texts(procedure: Procedure) -> dict[str, str]:
    """Every patient-facing passage of a procedure, keyed by where it is shown."""
    texts = {field: getattr(procedure, field) for field in PROCEDURE_TEXT_FIELDS}
    for item in procedure.items.all():
        texts[f"risk: {item.title}"] = f"{item.title}. {item.explanation}"
    return texts


def procedure_grades(procedure: Procedure) -> dict[str, float]:
    return {where: grade(text) for where, text in procedure_texts(procedure).items()}


def median_grade(procedure: Procedure) -> float:
    return statistics.median(procedure_grades(procedure).values())
