import itertools
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from consent.actors import Actor
from consent.audit import audit_append, audit_verify
from consent.models import AuditChainHead, AuditEvent

from .helpers import run_concurrently


def append(n: int) -> list[AuditEvent]:
    return [audit_append(actor=Actor.system(), action="test", details={"n": i}) for i in range(n)]


def drop_append_only_trigger() -> None:
    """What someone with direct database access could do before tampering with rows."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER consent_auditevent_no_update ON consent_auditevent")
        else:
            cursor.execute("DROP TRIGGER consent_auditevent_no_update")


def verify() -> str:
    out = StringIO()
    call_command("verify_audit", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
class TestChain:
    def test_an_untouched_chain_verifies(self):
        events = append(5)
        assert events[0].prev_hash == "0" * 64
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
        assert "Audit chain intact: 5 event(s)." in verify()

    def test_the_database_refuses_to_update_an_event(self):
        event = append(1)[0]
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            AuditEvent.objects.filter(pk=event.pk).update(action="edited")

    @pytest.mark.skipif("connection.vendor != 'postgresql'")
    def test_postgresql_refuses_to_delete_an_event(self):
        event = append(1)[0]
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            AuditEvent.objects.filter(pk=event.pk).delete()

    def test_it_detects_an_edited_row(self):
        events = append(4)
        drop_append_only_trigger()
        AuditEvent.objects.filter(pk=events[2].pk).update(details={"n": 99})
        with pytest.raises(CommandError, match=r"event #3 .* does not match its hash"):
            verify()

    def test_it_detects_an_edit_that_recomputes_the_hash(self):
        events = append(4)
        drop_append_only_trigger()
        edited = AuditEvent.objects.get(pk=events[1].pk)
        edited.details = {"n": 42}
        edited.hash = edited.compute_hash()
        AuditEvent.objects.filter(pk=edited.pk).update(details=edited.details, hash=edited.hash)
        assert "event #3" in audit_verify().problem
        assert "does not follow on" in audit_verify().problem

    def test_it_detects_a_deleted_row(self):
        events = append(4)
        drop_append_only_trigger()
        AuditEvent.objects.filter(pk=events[1].pk).delete()
        with pytest.raises(CommandError, match="event #2 is missing"):
            verify()

    def test_it_detects_a_deleted_chain_head(self):
        append(2)
        AuditChainHead.objects.all().delete()
        assert "head row is missing" in audit_verify().problem

    def test_it_detects_deleting_the_latest_rows(self):
        events = append(4)
        drop_append_only_trigger()
        AuditEvent.objects.filter(pk=events[3].pk).delete()
        assert "latest events were deleted" in audit_verify().problem


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("head_row", ["present", "missing"])
def test_concurrent_appends_keep_the_chain_linear(head_row):
    """Many threads, each with its own database connection, append at once.

    With the head row missing (as after a test flush) they also race to recreate it.
    """
    append(3)
    if head_row == "missing":
        AuditChainHead.objects.all().delete()
    threads, per_thread = 8, 10
    results = run_concurrently(lambda: append(per_thread), threads)

    assert not [r for r in results if isinstance(r, BaseException)], results
    report = audit_verify()
    assert report.problem is None
    assert report.events == threads * per_thread + 3
    head = AuditChainHead.objects.get(pk=1)
    assert head.last_sequence == threads * per_thread + 3
