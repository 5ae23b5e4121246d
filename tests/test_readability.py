import statistics

import pytest

from procedures.models import Procedure
from procedures.readability import TARGET_GRADE, grade, procedure_grades


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
