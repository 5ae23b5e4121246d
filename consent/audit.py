"""The audit log: an append-only chain of events, keyed, and anchored outside the database.

Each event's hash is HMAC-SHA-256, keyed with AUDIT_KEY (from the environment, never in the
database), over the previous event's hash and the event's canonical form:

    hash(n) = HMAC(AUDIT_KEY, hash(n-1) + canonical(event n))

So someone who can rewrite the database but does not hold the key cannot edit an event and
recompute the chain. Someone who holds the key as well is caught by the anchors outside the
database: every sealed PDF carries a checkpoint (the sequence number and hash at the end of the
chain when it was made), and `manage.py audit_checkpoint` prints one for the hospital's own log
system. `audit_verify` checks the chain, the head, every stored document's checkpoint, and that
every signature, document and consent status has the events that explain it.

The database refuses UPDATE, DELETE and TRUNCATE of events and lets the head only move forward
(migration 0009). docs/audit.md says what is detected, by what, and what is not.
"""

import collections
import contextlib
import dataclasses
import datetime
import functools
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from .actors import CONTROL, Actor, stored_ip, stored_text
from .models import (
    AuditChainHead,
    AuditEvent,
    CheckAttempt,
    Consent,
    ConsentCheck,
    ConsentItemSnapshot,
    ConsentStatus,
    PatientLink,
    Priorities,
    Question,
    Signature,
    SignedDocument,
)

GENESIS_HASH = "0" * 64
KEY_ID_LENGTH = 16


class AuditError(Exception):
    """The audit log cannot be written: something outside the app has broken it."""


# --- keys -----------------------------------------------------------------------------------


def key_id(key: str) -> str:
    """A short public name for a key (it reveals nothing of the key)."""
    return hmac.new(key.encode(), b"consent-audit-key-id", hashlib.sha256).hexdigest()[
        :KEY_ID_LENGTH
    ]


@functools.cache
def _keyring(current: str, previous: tuple[str, ...]) -> dict[str, tuple[int, bytes]]:
    """key id -> (position in rotation order, key). Older keys first, the current key last."""
    keys = [*previous, current]
    return {key_id(key): (position, key.encode()) for position, key in enumerate(keys)}


def keyring() -> dict[str, tuple[int, bytes]]:
    return _keyring(settings.AUDIT_KEY, tuple(settings.AUDIT_PREVIOUS_KEYS))


def current_key_id() -> str:
    return key_id(settings.AUDIT_KEY)


# --- what is stored, exactly as the database will give it back ------------------------------


def _clean_json(value):
    if isinstance(value, str):
        return CONTROL.sub("", value)
    if isinstance(value, float):
        # PostgreSQL's jsonb gives 1e100 back as a long integer: keep floats as their text.
        return repr(value)
    if isinstance(value, dict):
        return {_clean_json(str(k)): _clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_json(v) for v in value]
    return value


def stored_details(details: dict | None) -> dict:
    """Details as JSON gives them back: tuples become lists, keys strings, dates ISO text."""
    data = json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder, allow_nan=False))
    if not isinstance(data, dict):
        raise TypeError("audit details must be a mapping")
    return _clean_json(data)


def _stored_time(moment: datetime.datetime) -> datetime.datetime:
    # Both databases keep microseconds; nothing finer exists in Python anyway.
    return moment.astimezone(datetime.UTC)


# --- hashing --------------------------------------------------------------------------------


def canonical(event: AuditEvent) -> str:
    content = {
        "sequence": event.sequence,
        "consent": event.consent_id,
        "actor_type": event.actor_type,
        "actor_user": event.actor_user_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "details": event.details,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
        "created_at": event.created_at.astimezone(datetime.UTC).isoformat(),
    }
    if event.key_id:  # events from before the chain was keyed did not name a key
        content["key_id"] = event.key_id
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(event: AuditEvent, key: bytes | None) -> str:
    message = (event.prev_hash + canonical(event)).encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


# --- appending ------------------------------------------------------------------------------


def audit_append(
    *, actor: Actor, action: str, consent: Consent | None = None, details: dict | None = None
) -> AuditEvent:
    """Append one event to the chain, keyed with the current AUDIT_KEY.

    The head row is locked for the append, so concurrent writers (threads, processes, app
    servers) queue up and the chain stays one line; the unique prev_hash is the backstop. The
    lock is held for a few milliseconds: callers must not do slow work in the same transaction
    after their first append.
    """
    kid = current_key_id()
    _, key = keyring()[kid]
    with transaction.atomic():
        head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            raise AuditError(
                "The audit log's chain head is missing, so nothing can be recorded. "
                "Run `manage.py verify_audit` and restore the database from a backup."
            )
        event = AuditEvent(
            sequence=head.last_sequence + 1,
            consent=consent,
            actor_type=actor.type,
            actor_user=actor.user,
            actor_label=stored_text(actor.label, 200),
            action=stored_text(action, 50),
            details=stored_details(details),
            ip_address=stored_ip(actor.ip_address),
            user_agent=stored_text(actor.user_agent, 500),
            created_at=_stored_time(timezone.now()),
            prev_hash=head.last_hash,
            key_id=kid,
        )
        event.hash = event_hash(event, key)
        event.save(force_insert=True)
        head.last_sequence, head.last_hash = event.sequence, event.hash
        head.save(update_fields=["last_sequence", "last_hash"])
    return event


# --- checkpoints ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    sequence: int
    hash: str

    def __str__(self) -> str:
        return f"{self.sequence}:{self.hash}"

    @classmethod
    def find(cls, line: str) -> "Checkpoint":
        """The checkpoint in a log line (the app's "audit checkpoint 12:...", a syslog line)."""
        match = re.search(r"(?<![0-9A-Za-z])(\d+:[0-9a-fA-F]{64})(?![0-9A-Za-z])", line)
        if match is None:
            raise ValueError(f"no checkpoint (sequence:hash) in: {line[:100]!r}")
        return cls.parse(match[1])

    @classmethod
    def parse(cls, text: str) -> "Checkpoint":
        """'1234:9f3c…' (64 hex digits) as printed by audit_checkpoint and on every PDF."""
        sequence, _, digest = text.strip().partition(":")
        digest = digest.strip().lower()
        if not sequence.strip().isascii() or not sequence.strip().isdigit():
            raise ValueError(f"not a checkpoint (sequence:hash): {text[:100]!r}")
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ValueError(f"not a checkpoint (sequence:hash): {text[:100]!r}")
        return cls(int(sequence), digest)


checkpoint_log = logging.getLogger("consent.audit.checkpoint")


def log_checkpoint() -> None:
    """Once the current transaction commits, write the chain's end to the app's log. Shipped
    to the hospital's log system (docs/deploy.md), it anchors the chain after every signature
    without waiting for the hourly audit_checkpoint."""

    def write():
        checkpoint_log.info("audit checkpoint %s", audit_checkpoint())

    transaction.on_commit(write, robust=True)


def audit_checkpoint() -> Checkpoint:
    """The end of the chain as committed now. Read without a lock: it never blocks a writer."""
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is None:
        raise AuditError("The audit log's chain head is missing.")
    return Checkpoint(head.last_sequence, head.last_hash)


# --- verification ---------------------------------------------------------------------------

# The status each action leaves a consent in; the last of them must match the consent's status.
STATUS_AFTER = {
    "consent_issued": ConsentStatus.ISSUED,
    "consent_opened": ConsentStatus.IN_REVIEW,
    "consent_signed": ConsentStatus.SIGNED,
    "consent_withdrawn": ConsentStatus.WITHDRAWN,
    "consent_revoked": ConsentStatus.REVOKED,
    "consent_expired": ConsentStatus.EXPIRED,
}


@dataclass
class ChainReport:
    events: int = 0
    documents: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def problem(self) -> str | None:
        """The first problem found, if any."""
        return self.problems[0] if self.problems else None

    @property
    def intact(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class DocumentAnchor:
    """What a stored document says about the chain, read from the sealed file itself."""

    document_id: int
    checkpoint: Checkpoint | None
    problem: str | None = None


def audit_verify(
    *,
    external: Iterable[Checkpoint] = (),
    documents: Iterable[DocumentAnchor] | None = None,
) -> ChainReport:
    """Walk the chain from the start and report every inconsistency found.

    external: checkpoints kept outside the app (printed by audit_checkpoint into the hospital's
    log system). documents: the anchors read from stored PDFs (by default every document in
    storage; see consent.documents.document_anchors).

    Everything is read in one consistent view of the database (a read-only REPEATABLE READ
    transaction on PostgreSQL; on SQLite a transaction, during which writers wait), so that
    the app writing meanwhile never looks like tampering.
    """
    from .documents import document_anchors  # documents imports audit: late import

    # The stored PDFs are read (and their seals validated, the slow part) before the snapshot
    # opens: a checkpoint read earlier can only name events already committed, and on SQLite
    # writers then wait only for the walk through the database.
    anchors = list(document_anchors(seals=True) if documents is None else documents)
    with _snapshot():
        return _verify(external=external, anchors=anchors)


@contextlib.contextmanager
def _snapshot():
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _verify(*, external, anchors) -> ChainReport:
    report = ChainReport()
    # sequence -> [(who says so, the hash they say)]
    expected: dict[int, list[tuple[str, str]]] = {}
    for anchor in anchors:
        report.documents += 1
        if anchor.problem:
            report.problems.append(f"document {anchor.document_id} {anchor.problem}")
        elif anchor.checkpoint is not None:
            report.checkpoints += 1
            expected.setdefault(anchor.checkpoint.sequence, []).append(
                (f"document {anchor.document_id}'s checkpoint", anchor.checkpoint.hash)
            )
    for checkpoint in external:
        expected.setdefault(checkpoint.sequence, []).append(
            (
                f"the external checkpoint {checkpoint.sequence}:{checkpoint.hash[:12]}...",
                checkpoint.hash,
            )
        )

    walk = _walk_chain(report, expected)
    _check_head(report, walk)
    for sequence, sayers in expected.items():
        if sequence > walk.last_sequence:
            report.problems.append(
                f"{' and '.join(name for name, _ in sayers)} names event #{sequence}, but the "
                f"chain ends at #{walk.last_sequence}: events after it were deleted"
            )
    _check_records(report, walk)
    if len(report.problems) > MAX_PROBLEMS:
        more = len(report.problems) - MAX_PROBLEMS
        report.problems[MAX_PROBLEMS:] = [f"... and {more} more problem(s)"]
    return report


MAX_PROBLEMS = 200


@dataclass
class _Walk:
    last_sequence: int = 0
    last_hash: str = GENESIS_HASH
    # What the log says, to compare with the records: signature id -> consent id, document
    # SHA-256 -> consent id, and per consent, item, question or link what was recorded.
    signatures: dict[int, int] = dataclasses.field(default_factory=dict)
    documents: dict[str, int] = dataclasses.field(default_factory=dict)
    status: dict[int, str] = dataclasses.field(default_factory=dict)
    issued_content: dict[int, str] = dataclasses.field(default_factory=dict)
    issued: dict[int, dict] = dataclasses.field(default_factory=dict)
    predicted: dict[int, int | None] = dataclasses.field(default_factory=dict)
    replaced: set[int] = dataclasses.field(default_factory=set)
    revoked_links: set[int] = dataclasses.field(default_factory=set)
    signed: dict[int, dict] = dataclasses.field(default_factory=dict)
    questions: dict[int, str] = dataclasses.field(default_factory=dict)
    answers: dict[int, str] = dataclasses.field(default_factory=dict)
    ticks: dict[int, bool] = dataclasses.field(default_factory=dict)
    links: dict[int, str] = dataclasses.field(default_factory=dict)
    # The check of understanding: (check id, attempt number) -> [chosen, correct]; and per
    # consent what matters to the patient, [chosen, own words, response] (None: taken back).
    attempts: dict[tuple, list] = dataclasses.field(default_factory=dict)
    priorities: dict[int, list | None] = dataclasses.field(default_factory=dict)


def _walk_chain(report: ChainReport, expected: dict) -> _Walk:
    """Check each event against the one before it and its own keyed hash. After a break the
    walk picks up again from the event found, so every separate change is reported."""
    walk = _Walk()
    ring = keyring()
    unkeyed_until = settings.AUDIT_UNKEYED_UNTIL
    last_key_position = -1
    for event in AuditEvent.objects.order_by("sequence").iterator(chunk_size=2000):
        where = f"event #{event.sequence} ({event.action}, id {event.pk})"
        good = True
        if event.sequence != walk.last_sequence + 1:
            report.problems.append(
                f"event #{walk.last_sequence + 1} is missing (deleted?): the next one found is "
                f"{where}"
            )
            good = False
        elif event.prev_hash != walk.last_hash:
            report.problems.append(f"{where} does not follow on from event #{walk.last_sequence}")
            good = False
        problem = _check_key(event, ring, unkeyed_until, last_key_position)
        if problem:
            report.problems.append(f"{where} {problem}")
            good = False
        elif event.key_id:
            last_key_position = max(last_key_position, ring[event.key_id][0])
        report.events += good
        for name, digest in expected.get(event.sequence, ()):
            if digest != event.hash:
                report.problems.append(
                    f"{name} says event #{event.sequence} had a different hash: the chain "
                    "was rewritten up to there (with the key), or the checkpoint was mistyped"
                )
        _collect(walk, event)
        walk.last_sequence, walk.last_hash = event.sequence, event.hash
    return walk


def _check_key(event, ring, unkeyed_until: int, last_key_position: int) -> str | None:
    if not event.key_id:
        if event.sequence > unkeyed_until or last_key_position >= 0:
            return "has no key: only events from before the chain was keyed may lack one"
        key = None
    elif event.key_id not in ring:
        return f"was written with an unknown key ({event.key_id}): set AUDIT_PREVIOUS_KEYS?"
    else:
        position, key = ring[event.key_id]
        if position < last_key_position:
            return "uses a key retired before an earlier event's key: it was written later"
    if event_hash(event, key) != event.hash:
        return "does not match its hash: it was changed after it was written"
    return None


def _collect(walk: _Walk, event: AuditEvent) -> None:
    details = event.details if isinstance(event.details, dict) else {}
    action, consent = event.action, event.consent_id
    if action == "consent_signed" and details.get("signature") is not None:
        walk.signatures[details["signature"]] = consent
        if isinstance(details.get("record"), dict):
            walk.signed[consent] = details["record"]
    elif action == "document_sealed" and details.get("sha256"):
        walk.documents[details["sha256"]] = consent
    elif action == "consent_issued":
        walk.issued_content[consent] = details.get("content_sha256")
        if "predicted_reading_seconds" in details:  # logged since reading time is recorded
            walk.predicted[consent] = details["predicted_reading_seconds"]
        if isinstance(details.get("record"), dict):
            walk.issued[consent] = details["record"]
    elif action == "patient_name_corrected" and isinstance(details.get("record"), dict):
        # The surgeon corrected the name before signing: from now on the record is the one
        # logged before with only the name changed (a correction can change nothing else).
        before = walk.issued.get(consent)
        name = details["record"].get("patient_name")
        walk.issued[consent] = (
            details["record"] if before is None else {**before, "patient_name": name}
        )
    elif action == "link_issued":
        # Links issued before the log recorded token hashes are known, with no hash to check.
        walk.links[details.get("link")] = details.get("token_hash")
        walk.replaced.update(details.get("replaces") or [])
    elif action == "consent_revoked":
        walk.revoked_links.update(details.get("links_ended") or [])
    elif action in ("item_acknowledged", "item_unacknowledged") and "item" in details:
        walk.ticks[details["item"]] = action == "item_acknowledged"
    elif action == "question_asked" and details.get("question") is not None:
        walk.questions[details["question"]] = details.get("text")
    elif action == "question_answered" and details.get("question") is not None:
        walk.answers[details["question"]] = details.get("text")
    elif action == "check_answered" and details.get("check") is not None:
        key = (details["check"], details.get("attempt"))
        walk.attempts[key] = [details.get("chosen"), details.get("correct")]
    elif action == "priorities_stated":
        walk.priorities[consent] = [details.get("chosen"), details.get("own_words"), ""]
    elif action == "priorities_cleared":
        walk.priorities[consent] = None
    elif action == "priorities_responded" and walk.priorities.get(consent) is not None:
        walk.priorities[consent] = [*walk.priorities[consent][:2], details.get("text")]
    if consent is not None and action in STATUS_AFTER:
        walk.status[consent] = STATUS_AFTER[action]


def _check_head(report: ChainReport, walk: _Walk) -> None:
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is None:
        report.problems.append("the chain head row is missing: it was deleted")
    elif (head.last_sequence, head.last_hash) != (walk.last_sequence, walk.last_hash):
        if head.last_sequence > walk.last_sequence:
            report.problems.append(
                f"the chain ends at event #{walk.last_sequence} but {head.last_sequence} were "
                "written: the latest events were deleted"
            )
        else:
            report.problems.append(
                f"the chain head says #{head.last_sequence} but events go on to "
                f"#{walk.last_sequence}: events were inserted outside the app, or the head "
                "was moved back"
            )


# --- the records against the log -----------------------------------------------------------


def issued_record(consent: Consent) -> dict:
    """Whose consent it is, logged in its consent_issued event: checked before signing and by
    audit_verify, so the patient or the date cannot be changed in the database meanwhile."""
    patient = consent.patient
    return stored_details(
        {
            "patient": patient.pk,
            "patient_name": patient.full_name,
            "date_of_birth": patient.date_of_birth.isoformat(),
            "hospital_number": patient.hospital_number,
            "surgeon": consent.surgeon_id,
            "planned_date": consent.planned_date.isoformat(),
        }
    )


def signed_record(consent: Consent, signature: Signature, items) -> dict:
    """What a signature stands for, as logged in its consent_signed event and compared with
    the rows by audit_verify: whose consent, what wording, which ticks, which signature."""
    patient = consent.patient
    ticks = sorted((item.pk, _iso(item.acknowledged_at)) for item in items if item.acknowledged_at)
    return stored_details(
        {
            "consent": consent.pk,
            "patient": patient.pk,
            "patient_name": patient.full_name,
            "date_of_birth": patient.date_of_birth.isoformat(),
            "hospital_number": patient.hospital_number,
            "surgeon": consent.surgeon_id,
            "planned_date": consent.planned_date.isoformat(),
            "opened_at": _iso(consent.opened_at),
            "signed_at": _iso(signature.signed_at),
            "content_sha256": consent.content_sha256,
            "ticks_sha256": _sha256_json(ticks),
            **_informed_record(consent, items),
            "signature": {
                "id": signature.pk,
                "typed_name": signature.typed_name,
                "method": signature.method,
                "image_sha256": signature.image_sha256,
                "statement_sha256": hashlib.sha256(signature.statement.encode()).hexdigest(),
                "ip_address": stored_ip(signature.ip_address),
                "user_agent": signature.user_agent,
            },
        }
    )


def _informed_record(consent: Consent, items) -> dict:
    """The reading times with the predicted time, every answer to the check of understanding
    (and the order its options were shown in), and what matters to the patient with the
    response and who wrote it, as one digest. Only for consents issued since these existed
    (they have a predicted reading time), so older records compare as they were logged."""
    if consent.predicted_reading_seconds is None:
        return {}
    priorities = Priorities.objects.filter(consent=consent).first()
    informed = {
        # The flag "read quickly" compares the time read with the predicted time.
        "predicted": consent.predicted_reading_seconds,
        "reading": sorted(
            (item.pk, item.seconds_on_screen, item.reading_measured) for item in items
        ),
        "steps": sorted(consent.step_times.values_list("step", "seconds")),
        "attempts": [
            [a.check_item_id, a.number, a.chosen, a.correct, a.shown]
            # Those on this consent's checks too: the page shows a check's attempts, and the
            # guards go by the attempt's own consent.
            for a in CheckAttempt.objects.filter(
                Q(consent=consent) | Q(check_item__consent=consent)
            ).order_by("check_item", "number")
        ],
        "priorities": priorities
        and [
            priorities.chosen,
            priorities.own_words,
            priorities.response,
            priorities.responded_by_id,
        ],
    }
    return {"informed_sha256": _sha256_json(informed)}


def _iso(moment: datetime.datetime | None) -> str | None:
    return moment.astimezone(datetime.UTC).isoformat() if moment else None


def _sha256_json(value) -> str:
    return hashlib.sha256(json.dumps(value, separators=(",", ":")).encode()).hexdigest()


def _check_records(report: ChainReport, walk: _Walk) -> None:
    """Every signature, document, tick, question, answer, link and consent status must have the
    events that explain it; every signature and document the log names must still exist and
    belong to the consent it named; a signed consent must still be what was signed."""
    problems = report.problems
    signatures = {s.pk: s for s in Signature.objects.defer("image_png")}
    for pk, signature in signatures.items():
        logged = walk.signatures.get(pk)
        if logged is None:
            problems.append(
                f"signature {pk} on consent {signature.consent_id} has no consent_signed event: "
                "the event was deleted or the signature was added outside the app"
            )
        elif logged != signature.consent_id:
            problems.append(
                f"signature {pk} is on consent {signature.consent_id}, but the log recorded it "
                f"on consent {logged}: it was moved outside the app"
            )
    for pk in sorted(set(walk.signatures) - set(signatures)):
        problems.append(f"signature {pk}, recorded in the log, is missing: it was deleted")
    documents = {}
    for pk, consent_id, digest in SignedDocument.objects.values_list("pk", "consent_id", "sha256"):
        documents[digest] = pk
        logged = walk.documents.get(digest)
        if logged is None:
            problems.append(
                f"document {pk} of consent {consent_id} has no document_sealed event: "
                "the event was deleted or the document was added outside the app"
            )
        elif logged != consent_id:
            problems.append(
                f"document {pk} is on consent {consent_id}, but the log recorded it on consent "
                f"{logged}: it was moved outside the app"
            )
    for digest in sorted(set(walk.documents) - set(documents)):
        problems.append(
            f"the document with SHA-256 {digest[:16]}..., recorded in the log, is missing"
        )
    for pk, text, answer in Question.objects.values_list("pk", "text", "answer").iterator(
        chunk_size=2000
    ):
        # The log keeps the text as stored_details cleaned it (no control characters).
        if walk.questions.get(pk) != _clean_json(text) or walk.answers.get(pk, "") != (
            _clean_json(answer)
        ):
            problems.append(
                f"question {pk} or its answer differs from what the log recorded: it was "
                "changed outside the app"
            )
    _check_informed(report, walk)
    links = PatientLink.objects.values_list("pk", "consent_id", "token_hash", "end_reason")
    for pk, consent_id, token_hash, end_reason in links.iterator(chunk_size=2000):
        if pk not in walk.links:
            problems.append(
                f"patient link {pk} of consent {consent_id} has no link_issued event: it was "
                "added outside the app"
            )
        elif walk.links[pk] is not None and walk.links[pk] != token_hash:
            problems.append(
                f"patient link {pk} no longer has the token it was issued with: it was "
                "changed outside the app"
            )
        elif walk.links[pk] is not None and not _link_end_explained(walk, pk, end_reason):
            problems.append(
                f"patient link {pk} of consent {consent_id} was ended ({end_reason or 'not'}) "
                "without the event that explains it: it was changed outside the app"
            )
    consents = Consent.objects.select_related("patient").filter(pk__in=list(walk.issued))
    for consent in consents.iterator(chunk_size=2000):
        if walk.issued[consent.pk] != issued_record(consent):
            changed = sorted(
                key
                for key, value in issued_record(consent).items()
                if walk.issued[consent.pk].get(key) != value
            )
            problems.append(
                f"consent {consent.pk}'s patient or details differ from what the log recorded "
                f"when it was issued ({', '.join(changed)}): they were changed outside the app"
            )
    for pk, predicted in Consent.objects.filter(pk__in=list(walk.predicted)).values_list(
        "pk", "predicted_reading_seconds"
    ):
        if predicted != walk.predicted[pk]:
            problems.append(
                f"consent {pk}'s predicted reading time differs from what the log recorded when "
                "it was issued: it was changed outside the app"
            )
    items = ConsentItemSnapshot.objects.values_list("pk", "consent_id", "acknowledged_at")
    for pk, consent_id, acknowledged_at in items.iterator(chunk_size=5000):
        if (acknowledged_at is not None) != walk.ticks.get(pk, False):
            problems.append(
                f"the tick of risk {pk} on consent {consent_id} differs from what the log "
                "recorded: it was changed outside the app"
            )
    signed = (
        Consent.objects.filter(signed_at__isnull=False)
        .select_related("patient")
        .prefetch_related("items")
    )
    by_consent = {signature.consent_id: signature for signature in signatures.values()}
    for consent in signed.iterator(chunk_size=200):
        _check_signed_consent(report, walk, consent, by_consent)
    for pk, status in Consent.objects.values_list("pk", "status").iterator(chunk_size=2000):
        logged = walk.status.get(pk)
        if logged != status:
            problems.append(
                f"consent {pk} is {status} but the log "
                + (f"last made it {logged}" if logged else "has no record of it")
                + ": events were deleted or the consent was changed outside the app"
            )


def _check_informed(report: ChainReport, walk: _Walk) -> None:
    """Every answer to a check of understanding, every check passed and what matters to the
    patient (with the response) must be as the log recorded them, as questions and ticks are:
    before signing nothing freezes them, and a signature would seal a change made meanwhile."""
    problems = report.problems
    rows = CheckAttempt.objects.values_list(
        "check_item_id", "number", "chosen", "correct", "check_item__consent_id"
    )
    found = set()
    for check, number, chosen, correct, consent_id in rows.iterator(chunk_size=5000):
        found.add((check, number))
        if walk.attempts.get((check, number)) != [_clean_json(chosen), correct]:
            problems.append(
                f"answer {number} to check {check} on consent {consent_id} differs from what "
                "the log recorded: it was changed outside the app"
            )
    passed, logged = set(), collections.defaultdict(list)  # per check: its logged numbers
    for (check, number), (_, correct) in walk.attempts.items():
        logged[check].append(number)
        if correct:
            passed.add(check)
    checks = ConsentCheck.objects.values_list("pk", "consent_id", "passed_at")
    for pk, consent_id, passed_at in checks.iterator(chunk_size=5000):
        if (passed_at is not None) != (pk in passed):
            problems.append(
                f"check {pk} on consent {consent_id} is {'' if passed_at else 'not '}passed, "
                "but the log recorded otherwise: it was changed outside the app"
            )
        for number in sorted(logged.get(pk, ()), key=str):
            if (pk, number) not in found:
                problems.append(
                    f"answer {number} to check {pk} on consent {consent_id}, recorded in the "
                    "log, is missing: it was deleted"
                )
    stated = {
        consent_id: [_clean_json(chosen), _clean_json(own_words), _clean_json(response)]
        for consent_id, chosen, own_words, response in Priorities.objects.values_list(
            "consent_id", "chosen", "own_words", "response"
        ).iterator(chunk_size=5000)
    }
    consents = set(Consent.objects.values_list("pk", flat=True))
    for consent_id in sorted((set(stated) | set(walk.priorities)) & consents):
        if stated.get(consent_id) != walk.priorities.get(consent_id):
            problems.append(
                f"what matters to the patient on consent {consent_id}, or the response to it, "
                "differs from what the log recorded: it was changed outside the app"
            )


def _link_end_explained(walk: _Walk, pk: int, end_reason: str) -> bool:
    if end_reason == "reissued":
        return pk in walk.replaced
    if end_reason == "revoked":
        return pk in walk.revoked_links
    return end_reason == "" and pk not in walk.replaced and pk not in walk.revoked_links


def _check_signed_consent(report: ChainReport, walk: _Walk, consent, signatures) -> None:
    items = list(consent.items.all())
    content = consent.compute_content_sha256(items)
    issued = walk.issued_content.get(consent.pk)
    record = walk.signed.get(consent.pk)
    if content != consent.content_sha256 or (issued and issued != content):
        report.problems.append(
            f"consent {consent.pk}'s risks and wording differ from what was issued and signed: "
            "they were changed outside the app"
        )
    if record is None:
        return  # signed before the log recorded what a signature stands for
    signature = signatures.get(consent.pk)
    if signature is None:
        return  # reported above: the log's signature is missing
    now = signed_record(consent, signature, items)
    changed = sorted(key for key in record.keys() | now.keys() if record.get(key) != now.get(key))
    if changed:
        report.problems.append(
            f"consent {consent.pk}'s signed record differs from what the log recorded at "
            f"signing ({', '.join(changed)}): it was changed outside the app"
        )
