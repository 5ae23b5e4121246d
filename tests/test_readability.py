import statistics

import pytest

from procedures.models import Procedure, UnderstandingCheck
from procedures.readability import TARGET_GRADE, check_text, grade, procedure_grades


def test_it_grades_plain_text_low_and_dense_text_high():
    plain = "The bones grow together. This takes a few months. Walk a little each day."
    dense = (
        "Postoperative radiculopathy secondary to iatrogenic neural compromise necessitates "
        "comprehensive multidisciplinary neurophysiological evaluation and consideration."
    )
    assert grade(plain) < 5 < TARGET_GRADE < grade(dense)


@pytest.mark.usefixtures("library")
def test_the_bundled_library_reads_at_grade_8_or_lower():
    grades = [g for p in Procedure.objects.all() for g in procedure_grades(p).values()]
    assert len(grades) > 50
    assert statistics.median(grades) <= TARGET_GRADE


@pytest.mark.usefixtures("library")
def test_each_bundled_procedure_reads_at_grade_8_or_lower():
    for procedure in Procedure.objects.all():
        assert statistics.median(procedure_grades(procedure).values()) <= TARGET_GRADE, procedure


def test_a_check_is_graded_as_one_passage_with_each_answer_a_sentence():
    check = UnderstandingCheck(
        question="What helps the bones join?",
        answer="Not smoking",
        wrong_answers="Smoking more\n  Lifting early. \n",
        explanation="Smoking slows healing.",
    )
    assert check_text(check) == (
        "What helps the bones join? Not smoking. Smoking more. Lifting early. "
        "Smoking slows healing."
    )


@pytest.mark.usefixtures("library")
def test_every_check_of_the_bundled_library_reads_at_grade_8_or_lower():
    checks = UnderstandingCheck.objects.all()
    assert checks.count() >= 15
    for check in checks:
        assert grade(check_text(check)) <= TARGET_GRADE, check.question


@pytest.mark.usefixtures("library")
def test_the_grades_list_each_check():
    procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
    grades = procedure_grades(procedure)
    checks = [where for where in grades if where.startswith("check ")]
    assert len(checks) == procedure.understanding_checks.count()
    first = procedure.understanding_checks.first()
    assert grades[f"check 1: {first.question}"] == grade(check_text(first))
