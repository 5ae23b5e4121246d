import pytest
from django.db import IntegrityError, transaction

from procedures.models import ConsentItem, Severity
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
