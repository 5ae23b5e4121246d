import hashlib
import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from procedures.models import (
    ITEM_CONTENT_FIELDS,
    PROCEDURE_TEXT_FIELDS,
    ConsentItem,
    Section,
    Severity,
    UnderstandingCheck,
)
from procedures.services import procedure_refresh_revision

from .helpers import make_procedure


def add_item(procedure, order, title="Infection", severity=Severity.UNCOMMON) -> ConsentItem:
    return ConsentItem.objects.create(
        procedure=procedure, order=order, title=title, explanation="Germs.", severity=severity
    )


@pytest.mark.django_db
class TestConstraints:
    def test_it_refuses_two_items_with_the_same_order(self):
        procedure = make_procedure()
        add_item(procedure, 1, "Infection")
        with pytest.raises(IntegrityError), transaction.atomic():
            add_item(procedure, 1, "Bleeding")

    def test_it_refuses_two_items_with_the_same_title(self):
        procedure = make_procedure()
        add_item(procedure, 1, "Infection")
        with pytest.raises(IntegrityError), transaction.atomic():
            add_item(procedure, 2, "Infection")

    def test_it_allows_the_same_title_in_another_procedure(self):
        add_item(make_procedure("one"), 1, "Infection")
        add_item(make_procedure("two"), 1, "Infection")
        assert ConsentItem.objects.count() == 2

    def test_it_refuses_an_unknown_severity(self):
        procedure = make_procedure()
        with pytest.raises(IntegrityError), transaction.atomic():
            add_item(procedure, 1, severity="sometimes")

    def test_it_refuses_order_zero(self):
        procedure = make_procedure()
        with pytest.raises(IntegrityError), transaction.atomic():
            add_item(procedure, 0)

    def test_it_refuses_a_duplicate_slug(self):
        make_procedure("same")
        with pytest.raises(IntegrityError), transaction.atomic():
            make_procedure("same")

    def test_it_orders_items_by_order(self):
        procedure = make_procedure()
        add_item(procedure, 2, "Second")
        add_item(procedure, 1, "First")
        assert [i.title for i in procedure.items.all()] == ["First", "Second"]


@pytest.mark.django_db
class TestRevision:
    def test_it_starts_at_revision_one(self):
        procedure = make_procedure()
        add_item(procedure, 1)
        assert procedure_refresh_revision(procedure=procedure) is False
        procedure.refresh_from_db()
        assert procedure.revision == 1
        assert len(procedure.content_sha256) == 64

    def test_it_goes_up_when_the_text_changes(self):
        procedure = make_procedure()
        procedure_refresh_revision(procedure=procedure)
        procedure.recovery = "Rest for two weeks."
        procedure.save()
        assert procedure_refresh_revision(procedure=procedure) is True
        assert procedure.revision == 2

    def test_it_goes_up_when_a_risk_changes(self):
        procedure = make_procedure()
        item = add_item(procedure, 1)
        procedure_refresh_revision(procedure=procedure)
        item.explanation = "Germs can get in."
        item.save()
        assert procedure_refresh_revision(procedure=procedure) is True
        procedure.refresh_from_db()
        assert procedure.revision == 2

    def test_it_stays_when_nothing_patient_facing_changes(self):
        procedure = make_procedure()
        procedure_refresh_revision(procedure=procedure)
        procedure.is_active = False
        procedure.save()
        assert procedure_refresh_revision(procedure=procedure) is False
        assert procedure.revision == 1


def add_check(procedure, order=1, **fields) -> UnderstandingCheck:
    defaults = dict(
        question="What can happen?",
        risk_title="Infection",
        answer="Germs can get in",
        wrong_answers="Nothing at all\nYou grow taller",
        explanation="Germs can get into the wound.",
    )
    return UnderstandingCheck.objects.create(
        procedure=procedure, order=order, **{**defaults, **fields}
    )


def old_fingerprint(procedure) -> str:
    """The fingerprint as it was computed before checks and numbers existed."""
    content = {
        "name": procedure.name,
        "site": procedure.site,
        **{field: getattr(procedure, field) for field in PROCEDURE_TEXT_FIELDS},
        "risks": [
            {field: getattr(item, field) for field in ITEM_CONTENT_FIELDS}
            for item in procedure.items.all()
        ],
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@pytest.mark.django_db
class TestChecksAndNumbersInTheRevision:
    def test_a_procedure_with_neither_keeps_its_old_fingerprint(self):
        procedure = make_procedure()
        add_item(procedure, 1)
        procedure_refresh_revision(procedure=procedure)
        assert procedure.content_sha256 == old_fingerprint(procedure)
        assert "understanding_checks" not in procedure.content()
        assert "one_in" not in procedure.content()["risks"][0]

    @pytest.mark.parametrize(
        "change",
        [
            pytest.param({"question": "What else can happen?"}, id="question"),
            pytest.param({"answer": "Germs can get into the wound"}, id="answer"),
            pytest.param({"wrong_answers": "Nothing at all\nYou grow shorter"}, id="wrong"),
            pytest.param({"wrong_answers": "You grow taller\nNothing at all"}, id="wrong-order"),
            pytest.param({"wrong_answers": "Nothing at all"}, id="wrong-removed"),
            pytest.param({"explanation": "Germs get in."}, id="explanation"),
            pytest.param({"risk_title": "Bleeding"}, id="risk"),
            pytest.param({"risk_title": "", "section": Section.RECOVERY}, id="section"),
        ],
    )
    def test_it_goes_up_when_a_check_changes(self, change):
        procedure = make_procedure()
        add_item(procedure, 1, "Infection")
        add_item(procedure, 2, "Bleeding")
        check = add_check(procedure)
        procedure_refresh_revision(procedure=procedure)
        for field, value in change.items():
            setattr(check, field, value)
        check.save()
        assert procedure_refresh_revision(procedure=procedure) is True
        assert procedure.revision == 2

    def test_it_goes_up_when_a_check_is_added_or_removed(self):
        procedure = make_procedure()
        add_item(procedure, 1)
        procedure_refresh_revision(procedure=procedure)
        check = add_check(procedure)
        assert procedure_refresh_revision(procedure=procedure) is True
        check.delete()
        assert procedure_refresh_revision(procedure=procedure) is True
        assert procedure.revision == 3
        # Back to no checks: back to the fingerprint without any.
        assert procedure.content_sha256 == old_fingerprint(procedure)

    def test_it_goes_up_when_checks_swap_places(self):
        procedure = make_procedure()
        add_item(procedure, 1)
        first, second = add_check(procedure, 1), add_check(procedure, 2, question="And then?")
        procedure_refresh_revision(procedure=procedure)
        first.order, second.order = 3, 1
        first.save()
        second.save()
        assert procedure_refresh_revision(procedure=procedure) is True

    def test_blank_lines_and_spaces_around_wrong_answers_do_not_count(self):
        procedure = make_procedure()
        add_item(procedure, 1)
        check = add_check(procedure)
        procedure_refresh_revision(procedure=procedure)
        check.wrong_answers = "\n  Nothing at all \r\n\r\nYou grow taller\n"
        check.save()
        assert procedure_refresh_revision(procedure=procedure) is False

    @pytest.mark.parametrize(
        "change",
        [
            pytest.param({"one_in": 20}, id="one-in-given"),
            pytest.param({"per_1000": Decimal("12.5")}, id="per-1000-given"),
            pytest.param({"rate_source": "Local audit"}, id="source-given"),
        ],
    )
    def test_it_goes_up_when_a_number_is_given(self, change):
        procedure = make_procedure()
        item = add_item(procedure, 1)
        procedure_refresh_revision(procedure=procedure)
        ConsentItem.objects.filter(pk=item.pk).update(**change)
        assert procedure_refresh_revision(procedure=procedure) is True

    @pytest.mark.parametrize(
        "change",
        [
            pytest.param({"one_in": 21}, id="one-in"),
            pytest.param({"one_in": None, "per_1000": Decimal("50")}, id="one-in-to-per-1000"),
            pytest.param({"rate_source": "Our audit"}, id="source"),
            pytest.param({"one_in": None, "rate_source": ""}, id="removed"),
        ],
    )
    def test_it_goes_up_when_a_number_changes(self, change):
        procedure = make_procedure()
        item = add_item(procedure, 1)
        ConsentItem.objects.filter(pk=item.pk).update(one_in=20, rate_source="A study")
        procedure_refresh_revision(procedure=procedure)
        ConsentItem.objects.filter(pk=item.pk).update(**change)
        assert procedure_refresh_revision(procedure=procedure) is True
        assert procedure.revision == 2

    def test_a_number_per_1000_counts_by_value_not_by_digits(self):
        procedure = make_procedure()
        item = add_item(procedure, 1)
        ConsentItem.objects.filter(pk=item.pk).update(per_1000=Decimal("50"))
        procedure_refresh_revision(procedure=procedure)
        ConsentItem.objects.filter(pk=item.pk).update(per_1000=Decimal("50.000"))
        assert procedure_refresh_revision(procedure=procedure) is False
        assert procedure.content()["risks"][0]["per_1000"] == "50"


@pytest.mark.django_db
class TestCheckRules:
    def test_it_refuses_a_check_about_both_a_risk_and_a_section(self):
        procedure = make_procedure()
        with pytest.raises(IntegrityError), transaction.atomic():
            add_check(procedure, section=Section.RECOVERY)

    def test_it_refuses_a_check_about_nothing(self):
        procedure = make_procedure()
        with pytest.raises(IntegrityError), transaction.atomic():
            add_check(procedure, risk_title="")

    def test_it_refuses_both_numbers_on_a_risk(self):
        procedure = make_procedure()
        item = add_item(procedure, 1)
        with pytest.raises(IntegrityError), transaction.atomic():
            ConsentItem.objects.filter(pk=item.pk).update(one_in=20, per_1000=50)

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"risk_title": "Stroke"}, "No risk of this procedure has this title."),
            ({"wrong_answers": "\n \n"}, "Give between 1 and 4 wrong answers."),
            ({"wrong_answers": "A\nB\nC\nD\nE"}, "Give between 1 and 4 wrong answers."),
            ({"wrong_answers": "A\nA"}, "Every answer must be different."),
            ({"wrong_answers": "Germs can get in"}, "Every answer must be different."),
            ({"section": Section.SUMMARY}, "Choose either the risk it checks or the section"),
        ],
    )
    def test_clean_explains_what_is_wrong(self, fields, message):
        procedure = make_procedure()
        add_item(procedure, 1)
        check = add_check(procedure)
        for field, value in fields.items():
            setattr(check, field, value)
        with pytest.raises(ValidationError, match=message):
            check.clean()
