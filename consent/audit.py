"""The audit log: an append-only chain of events, each hashed with the one before it."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from .actors import Actor
from .models import AuditChainHead, AuditEvent, Consent

GENESIS_HASH = "0" * 64


def audit_append(
    *, actor: Actor, action: str, consent: Consent | None = None, details: dict | None = None
) -> AuditEvent:
    """Append one event to the hash chain.

    The chain head row is locked for the append, so concurrent writers (threads, processes,
    app servers) queue up and the chain stays one line; the unique prev_hash is the backstop.
    """
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            head = _recreate_head()
        event = AuditEvent(
            sequence=head.last_sequence + 1,
            consent=consent,
            actor_type=actor.type,
            actor_user=actor.user,
            actor_label=actor.label,
            action=action,
            details=details or {},
            ip_address=actor.ip_address,
            user_agent=actor.user_agent,
            created_at=timezone.now(),
            prev_hash=head.last_hash,
        )
        event.hash = event.compute_hash()
        event.save(force_insert=True)
        head.last_sequence, head.last_hash = event.sequence, event.hash
        head.save(update_fields=["last_sequence", "last_hash"])
    return event


def _recreate_head() -> AuditChainHead:
    """The migration creates the head row; only an emptied table (a test flush) lacks it.

    Recreate it at the chain's end. Concurrent callers race on the primary key: one inserts,
    the others wait for it, then lock the row it made.
    """
    last = AuditEvent.objects.order_by("-sequence").first()
    AuditChainHead.objects.get_or_create(
        pk=1,
        defaults={
            "last_sequence": last.sequence if last else 0,
            "last_hash": last.hash if last else GENESIS_HASH,
        },
    )
    return AuditChainHead.objects.select_for_update().get(pk=1)


@dataclass
class ChainReport:
    events: int = 0
    problem: str | None = None


def audit_verify() -> ChainReport:
    """Walk the chain from the start and name the first broken link, if any."""
    report = ChainReport()
    expected_prev = GENESIS_HASH
    expected_sequence = 1
    for event in AuditEvent.objects.order_by("sequence").iterator(chunk_size=2000):
        where = f"event #{event.sequence} ({event.action}, id {event.pk})"
        if event.sequence != expected_sequence:
            report.problem = (
                f"event #{expected_sequence} is missing (deleted?): the next one found is {where}"
            )
            return report
        if event.prev_hash != expected_prev:
            report.problem = f"{where} does not follow on from event #{expected_sequence - 1}"
            return report
        if event.compute_hash() != event.hash:
            report.problem = f"{where} does not match its hash: it was changed after it was written"
            return report
        expected_prev = event.hash
        expected_sequence += 1
        report.events += 1
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is None and report.events:
        report.problem = "the chain head row is missing: it was deleted"
    elif head is not None and (head.last_sequence, head.last_hash) != (
        expected_sequence - 1,
        expected_prev,
    ):
        report.problem = (
            f"the chain ends at event #{expected_sequence - 1} but {head.last_sequence} "
            "were written: the latest events were deleted"
        )
    return report
