"""The audit log against an insider: what the database refuses, and what verify_audit reports.

Each attack is written as the insider would run it: raw SQL through a database connection with
full rights (tests/insider.py lifts the guard triggers, as a superuser can).
"""

import hashlib
import itertools
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from consent.actors import Actor
from consent.audit import (
    GENESIS_HASH,
    AuditError,
    Checkpoint,
    audit_append,
    audit_checkpoint,
    audit_verify,
    canonical,
    event_hash,
    key_id,
    keyring,
)
from consent.documents import document_anchors, html_to_pdf, read_checkpoint, read_document
from consent.models import AuditChainHead, AuditEvent, SignedDocument

from .helpers import ready_to_sign, run_concurrently, sign
from .insider import guards_lifted

CHANGED = "a signed consent cannot be changed"
postgresql_only = pytest.mark.skipif(
    "connection.vendor != 'postgresql'", reason="TRUNCATE exists only on PostgreSQL"
)


def append(n: int) -> list[AuditEvent]:
    return [audit_append(actor=Actor.system(), action="test", details={"n": i}) for i in range(n)]


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def refused(statement: str, params=(), *, match: str) -> None:
    with pytest.raises(DatabaseError, match=match), transaction.atomic():
        sql(statement, params)


def verify(*args) -> str:
    out = StringIO()
    call_command("verify_audit", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def problems(**kwargs) -> str:
    return " | ".join(audit_verify(**kwargs).problems)


def rehash_from(sequence: int, key: bytes | None) -> None:
    """The insider's rewrite: recompute every hash from `sequence` on and move the head."""
    prev = AuditEvent.objects.get(sequence=sequence - 1).hash if sequence > 1 else GENESIS_HASH
    for event in AuditEvent.objects.filter(sequence__gte=sequence).order_by("sequence"):
        event.prev_hash = prev
        event.hash = event_hash(event, key)
        sql(
            "UPDATE consent_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
            [event.prev_hash, event.hash, event.pk],
        )
        prev = event.hash
    last = AuditEvent.objects.order_by("-sequence").first()
    sql(
        "UPDATE consent_auditchainhead SET last_sequence = %s, last_hash = %s WHERE id = 1",
        [last.sequence, last.hash],
    )


def current_key() -> bytes:
    return keyring()[key_id(settings.AUDIT_KEY)][1]


@pytest.mark.django_db
class TestTheChain:
    def test_an_untouched_chain_verifies(self):
        events = append(5)
        assert events[0].prev_hash == GENESIS_HASH
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
        assert "Audit chain intact: 5 event(s)" in verify()

    def test_each_hash_is_keyed_with_the_audit_key(self):
        event = append(1)[0]
        assert event.key_id == key_id(settings.AUDIT_KEY)
        unkeyed = hashlib.sha256((event.prev_hash + canonical(event)).encode()).hexdigest()
        assert event.hash != unkeyed
        assert event.hash == event_hash(event, settings.AUDIT_KEY.encode())

    @pytest.mark.parametrize(
        "address",
        [
            "2001:0db8:0000:0000:0000:0000:0000:0001",
            "::ffff:192.0.2.7",
            "::ffff:c000:0207",
            "::192.0.2.7",
            "0:0:0:0:0:0:0:1",
            "192.0.2.7",
            "fe80::1%eth0",
            "not an address",
            "",
        ],
    )
    def test_the_hash_covers_what_the_database_gives_back(self, address):
        """A long-form IPv6 address once made an untouched event look changed."""
        actor = Actor(type="patient", label="pat\x00ient", ip_address=address, user_agent="a\x00b")
        details = {"tuple": (1, 2), 3: "three", "nul": "x\x00y", "nested": {"when": "é"}}
        event = audit_append(actor=actor, action="test", details=details)
        stored = AuditEvent.objects.get(pk=event.pk)
        assert event_hash(stored, current_key()) == stored.hash
        assert stored.ip_address == event.ip_address
        assert audit_verify(documents=[]).intact

    def test_a_missing_head_stops_writes_instead_of_healing_itself(self):
        append(2)
        with guards_lifted():
            sql("DELETE FROM consent_auditchainhead")
        with pytest.raises(AuditError, match="chain head is missing"):
            append(1)
        assert "head row is missing" in problems()
        assert not AuditChainHead.objects.exists()

    def test_audit_checkpoint_prints_the_head(self):
        events = append(3)
        out = StringIO()
        call_command("audit_checkpoint", stdout=out)
        assert out.getvalue().strip() == f"{events[-1].sequence}:{events[-1].hash}"
        assert audit_checkpoint() == Checkpoint(events[-1].sequence, events[-1].hash)

    def test_checkpoints_are_parsed_strictly(self):
        with pytest.raises(ValueError):
            Checkpoint.parse("12:nothex")
        with pytest.raises(ValueError):
            Checkpoint.parse("¹²:" + "a" * 64)
        assert Checkpoint.parse(" 12:" + "A" * 64 + "\n") == Checkpoint(12, "a" * 64)


@pytest.mark.django_db
class TestTheDatabaseRefuses:
    """As a database superuser, with the guards in place."""

    def test_to_update_an_event(self):
        event = append(1)[0]
        refused(
            "UPDATE consent_auditevent SET action = 'edited' WHERE id = %s",
            [event.pk],
            match="append-only",
        )

    def test_to_delete_an_event(self):
        event = append(1)[0]
        refused("DELETE FROM consent_auditevent WHERE id = %s", [event.pk], match="append-only")

    def test_to_delete_the_whole_log(self):
        append(3)
        refused("DELETE FROM consent_auditevent", match="append-only")
        assert AuditEvent.objects.count() == 3

    @postgresql_only
    @pytest.mark.parametrize(
        "table",
        [
            "consent_auditevent",
            "consent_auditchainhead",
            "consent_signature",
            "consent_signeddocument",
            "consent_consentitemsnapshot",
            "consent_question",
            "consent_consent",
            "consent_patient",
            "consent_consentcheck",
            "consent_checkattempt",
            "consent_priorities",
            "consent_steptime",
        ],
    )
    def test_to_truncate_the_record(self, table):
        append(1)
        sql("SET CONSTRAINTS ALL IMMEDIATE")  # the test's own transaction defers FK checks
        refused(f"TRUNCATE {table} CASCADE", match="cannot be truncated")

    def test_to_move_the_head_back(self):
        events = append(4)
        refused(
            "UPDATE consent_auditchainhead SET last_sequence = %s, last_hash = %s",
            [events[0].sequence, events[0].hash],
            match="only moves forward",
        )
        assert AuditChainHead.objects.get().last_sequence == events[-1].sequence

    def test_to_point_the_head_at_an_event_that_does_not_exist(self):
        events = append(1)
        refused(
            "UPDATE consent_auditchainhead SET last_sequence = %s, last_hash = %s",
            [events[0].sequence + 1, "f" * 64],
            match="only moves forward",
        )

    def test_to_delete_or_recreate_the_head(self):
        append(1)
        refused("DELETE FROM consent_auditchainhead", match="cannot be deleted")
        with guards_lifted():
            sql("DELETE FROM consent_auditchainhead")
        refused(
            "INSERT INTO consent_auditchainhead (id, last_sequence, last_hash) VALUES (1, 1, %s)",
            ["a" * 64],
            match="can only be created before any event",
        )


@pytest.mark.django_db
class TestASignedConsentIsFrozenInTheDatabase:
    @pytest.fixture
    def signed(self, surgeon, library):
        consent, _ = ready_to_sign(surgeon)
        sign(consent)
        consent.refresh_from_db()
        return consent

    def test_a_new_acknowledged_item_is_refused(self, signed):
        refused(
            "INSERT INTO consent_consentitemsnapshot (consent_id, origin, title, explanation, "
            'severity, frequency, "order", required, not_applicable, not_applicable_reason, '
            "acknowledged_at) VALUES (%s, 'patient', 'Added later', 'x', 'rare', '', 99, "
            "true, false, '', CURRENT_TIMESTAMP)",
            [signed.pk],
            match=CHANGED,
        )
        assert signed.items.filter(title="Added later").count() == 0

    def test_an_edited_or_deleted_item_is_refused(self, signed):
        item = signed.items.first()
        refused(
            "UPDATE consent_consentitemsnapshot SET explanation = 'softer' WHERE id = %s",
            [item.pk],
            match=CHANGED,
        )
        refused("DELETE FROM consent_consentitemsnapshot WHERE id = %s", [item.pk], match=CHANGED)

    def test_a_new_question_is_refused(self, signed):
        item = signed.items.first()
        refused(
            "INSERT INTO consent_question (consent_id, item_id, text, asked_at, answer) "
            "VALUES (%s, %s, 'late', CURRENT_TIMESTAMP, '')",
            [signed.pk, item.pk],
            match=CHANGED,
        )

    def test_the_signature_and_document_cannot_be_removed(self, signed):
        refused("DELETE FROM consent_signature WHERE consent_id = %s", [signed.pk], match=CHANGED)
        refused(
            "DELETE FROM consent_signeddocument WHERE consent_id = %s", [signed.pk], match=CHANGED
        )
        refused("UPDATE consent_signature SET typed_name = 'Someone else'", match=CHANGED)

    def test_items_stay_frozen_even_without_the_signature_row(self, signed):
        """Once the signature row is gone (guards lifted to remove it), the signing time still
        marks the consent as signed, so its items cannot be edited afterwards."""
        with guards_lifted():
            sql("DELETE FROM consent_signature WHERE consent_id = %s", [signed.pk])
        item = signed.items.first()
        refused(
            "UPDATE consent_consentitemsnapshot SET explanation = 'softer' WHERE id = %s",
            [item.pk],
            match=CHANGED,
        )
        refused(
            "UPDATE consent_consent SET signed_at = NULL WHERE id = %s", [signed.pk], match=CHANGED
        )


@pytest.mark.django_db
class TestVerifyAuditReportsTheInsider:
    """With the guards lifted (triggers dropped, or replica mode), as a superuser can."""

    def test_an_edited_event(self):
        events = append(4)
        with guards_lifted():
            sql(
                "UPDATE consent_auditevent SET details = %s WHERE id = %s",
                ['{"n": 99}', events[2].pk],
            )
        with pytest.raises(CommandError, match=r"event #3 .* does not match its hash"):
            verify()

    def test_an_edit_rehashed_without_the_key(self):
        events = append(4)
        with guards_lifted():
            sql(
                "UPDATE consent_auditevent SET details = %s WHERE id = %s",
                ['{"n": 42}', events[1].pk],
            )
            rehash_from(2, key=None)
        assert "event #2" in problems() and "does not match its hash" in problems()

    def test_an_edit_rehashed_with_the_key_is_caught_by_a_later_pdf(self, surgeon, library):
        append(3)
        consent, _ = ready_to_sign(surgeon)
        sign(consent)
        checkpoint = Checkpoint(
            SignedDocument.objects.get().checkpoint_sequence,
            SignedDocument.objects.get().checkpoint_hash,
        )
        assert audit_verify().intact
        with guards_lifted():
            sql("UPDATE consent_auditevent SET details = %s WHERE sequence = 2", ['{"n": 7}'])
            rehash_from(2, key=current_key())
        report = audit_verify()
        assert any(
            f"checkpoint says event #{checkpoint.sequence} had a different hash" in p
            for p in report.problems
        ), report.problems

    def test_an_edit_rehashed_with_the_key_is_caught_by_an_external_checkpoint(self):
        append(5)
        kept = audit_checkpoint()  # sent to the hospital's log system
        append(2)
        with guards_lifted():
            sql("UPDATE consent_auditevent SET actor_label = 'nobody' WHERE sequence = 1")
            rehash_from(1, key=current_key())
        assert audit_verify(documents=[]).intact  # the chain alone looks fine
        with pytest.raises(CommandError, match=r"the external checkpoint 5:.* says event #5"):
            verify("--checkpoint", str(kept))

    def test_a_deleted_event(self):
        events = append(4)
        with guards_lifted():
            sql("DELETE FROM consent_auditevent WHERE id = %s", [events[1].pk])
        with pytest.raises(CommandError, match="event #2 is missing"):
            verify()

    def test_the_last_events_deleted(self):
        events = append(4)
        with guards_lifted():
            sql("DELETE FROM consent_auditevent WHERE id = %s", [events[3].pk])
        assert "latest events were deleted" in problems()

    def test_a_tail_cut_with_the_head_moved_back_loses_a_signature(self, surgeon, library):
        consent, _ = ready_to_sign(surgeon)
        sign(consent)
        append(1)
        keep = AuditEvent.objects.order_by("-sequence")[3]
        with guards_lifted():  # the last three: document_sealed, consent_signed, "test"
            sql("DELETE FROM consent_auditevent WHERE sequence > %s", [keep.sequence])
            sql(
                "UPDATE consent_auditchainhead SET last_sequence = %s, last_hash = %s",
                [keep.sequence, keep.hash],
            )
        found = problems()
        assert "has no consent_signed event" in found
        assert "has no document_sealed event" in found
        assert f"consent {consent.pk} is signed but the log last made it in_review" in found

    def test_a_tail_cut_with_the_head_moved_back_is_caught_by_an_external_checkpoint(self):
        append(6)
        kept = audit_checkpoint()
        with guards_lifted():
            sql("DELETE FROM consent_auditevent WHERE sequence > 3")
            head = AuditEvent.objects.get(sequence=3)
            sql(
                "UPDATE consent_auditchainhead SET last_sequence = 3, last_hash = %s",
                [head.hash],
            )
        assert audit_verify(documents=[]).intact
        assert "names event #6, but the chain ends at #3" in problems(external=[kept])

    def test_an_item_inserted_into_a_signed_consent(self, surgeon, library):
        consent, _ = ready_to_sign(surgeon)
        sign(consent)
        with guards_lifted():
            sql(
                "INSERT INTO consent_consentitemsnapshot (consent_id, origin, title, explanation,"
                ' severity, frequency, "order", required, not_applicable, '
                "not_applicable_reason, acknowledged_at) VALUES (%s, 'patient', 'Added', 'x', "
                "'rare', '', 99, true, false, '', CURRENT_TIMESTAMP)",
                [consent.pk],
            )
        assert (
            f"consent {consent.pk}'s risks and wording differ from what was issued and signed"
            in (problems())
        )

    def test_a_removed_signature(self, surgeon, library):
        consent, _ = ready_to_sign(surgeon)
        signature = sign(consent)
        with guards_lifted():
            sql("DELETE FROM consent_signature WHERE id = %s", [signature.pk])
        assert f"signature {signature.pk}, recorded in the log, is missing" in problems()

    def test_an_edited_answer(self, surgeon, library):
        from consent.services import consent_answer_question, consent_ask_question

        from .helpers import patient_actor, surgeon_actor

        consent, _ = ready_to_sign(surgeon)
        item = consent.items.first()
        question = consent_ask_question(
            consent=consent, item_id=item.pk, text="Will it\x0b hurt?", actor=patient_actor()
        )
        consent_answer_question(
            consent=consent, question_id=question.pk, text="A little.", actor=surgeon_actor(surgeon)
        )
        sign(consent)
        assert audit_verify().intact
        with guards_lifted():
            sql("UPDATE consent_question SET answer = 'Not at all.' WHERE id = %s", [question.pk])
        assert f"question {question.pk} or its answer differs" in problems()

    def test_a_replaced_pdf(self, surgeon, library):
        consent, _ = ready_to_sign(surgeon)
        sign(consent)
        document = SignedDocument.objects.get()
        with document.file.open("wb") as handle:
            handle.write(b"%PDF-1.7 forged")
        assert (
            f"document {document.pk} (consent {document.consent_id}): its file does not match"
            in problems()
        )

    @postgresql_only
    def test_a_truncated_log(self, surgeon, library):
        consent, _ = ready_to_sign(surgeon)
        sign(consent)
        sql("SET CONSTRAINTS ALL IMMEDIATE")  # the test's own transaction defers FK checks
        with guards_lifted():
            sql("TRUNCATE consent_auditevent")
        found = problems()
        assert "the chain ends at event #0" in found
        assert "names event #" in found  # the PDF's checkpoint


@pytest.mark.django_db
class TestKeys:
    def test_an_event_written_with_an_unknown_key_is_reported(self, settings):
        append(2)
        settings.AUDIT_KEY = "another-key-entirely-0123456789abcdef"
        assert "was written with an unknown key" in problems()

    def test_a_rotated_key_still_verifies_older_events(self, settings):
        old = settings.AUDIT_KEY
        append(2)
        settings.AUDIT_KEY = "the-new-key-after-rotation-0123456789"
        settings.AUDIT_PREVIOUS_KEYS = [old]
        events = append(2)
        assert events[-1].key_id == key_id(settings.AUDIT_KEY) != key_id(old)
        assert audit_verify().intact

    def test_a_retired_key_cannot_be_used_after_its_successor(self, settings):
        old = settings.AUDIT_KEY
        settings.AUDIT_KEY = "the-new-key-after-rotation-0123456789"
        settings.AUDIT_PREVIOUS_KEYS = [old]
        append(1)
        settings.AUDIT_KEY, settings.AUDIT_PREVIOUS_KEYS = old, []
        append(1)  # someone with the old key writes a later event
        settings.AUDIT_KEY = "the-new-key-after-rotation-0123456789"
        settings.AUDIT_PREVIOUS_KEYS = [old]
        assert "uses a key retired before an earlier event's key" in problems()

    def test_unkeyed_events_are_allowed_only_before_the_chain_was_keyed(self, settings):
        append(3)
        with guards_lifted():
            # As after an upgrade: the first event was written before the chain was keyed.
            sql("UPDATE consent_auditevent SET key_id = '' WHERE sequence = 1")
            rehash_from(1, key=None)
            rehash_from(2, key=current_key())
        assert "event #1" in problems() and "has no key" in problems()
        settings.AUDIT_UNKEYED_UNTIL = 1
        assert audit_verify().intact


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_the_chain_linear():
    """Many threads, each with its own database connection, append at once."""
    append(3)
    threads, per_thread = 8, 10
    results = run_concurrently(lambda: append(per_thread), threads)

    assert not [r for r in results if isinstance(r, BaseException)], results
    report = audit_verify()
    assert report.problem is None
    assert report.events == threads * per_thread + 3
    head = AuditChainHead.objects.get(pk=1)
    assert head.last_sequence == threads * per_thread + 3


@pytest.mark.django_db
class TestTheAnchorsInStoredPdfs:
    @pytest.fixture
    def document(self, surgeon, library):
        consent, _ = ready_to_sign(surgeon)
        sign(consent)
        return SignedDocument.objects.get(consent=consent)

    def replace_file(self, document, data: bytes) -> None:
        """The insider's move: new bytes in storage, and the row's hash made to match."""
        with document.file.open("wb") as handle:
            handle.write(data)
        with guards_lifted():
            sql(
                "UPDATE consent_signeddocument SET sha256 = %s WHERE id = %s",
                [hashlib.sha256(data).hexdigest(), document.pk],
            )

    def test_a_missing_file(self, document):
        document.file.storage.delete(document.file.name)
        assert (
            f"document {document.pk} (consent {document.consent_id}): its file cannot be read"
            in problems()
        )

    def test_a_broken_seal_is_found_with_seals(self, document):
        data = bytearray(read_document(document))
        data[len(data) // 3] ^= 0x01
        self.replace_file(document, bytes(data))
        with pytest.raises(CommandError, match="its seal is not valid"):
            verify("--seals")

    def test_a_file_without_its_checkpoint(self, document):
        self.replace_file(document, html_to_pdf("<html lang='en'><title>x</title><p>x</p>"))
        assert "its file carries no audit checkpoint" in problems(
            documents=document_anchors(seals=False)
        )

    def test_a_row_whose_checkpoint_was_changed(self, document):
        with guards_lifted():
            sql(
                "UPDATE consent_signeddocument SET checkpoint_sequence = 1 WHERE id = %s",
                [document.pk],
            )
        assert "the checkpoint recorded for it differs from its file's" in problems()

    def test_a_document_from_before_checkpoints_is_accepted_without_one(self, document):
        with guards_lifted():
            sql(
                "UPDATE consent_signeddocument SET checkpoint_sequence = NULL, "
                "checkpoint_hash = '' WHERE id = %s",
                [document.pk],
            )
        self.replace_file(document, html_to_pdf("<html lang='en'><title>x</title><p>x</p>"))
        report = audit_verify()
        # The replaced bytes no longer match the log's document_sealed hash (reported), but
        # the missing checkpoint itself is not a problem for a document from before them.
        assert not [p for p in report.problems if "checkpoint" in p], report.problems
        assert (report.documents, report.checkpoints) == (1, 0)

    def test_the_command_reads_kept_checkpoints_from_a_file(self, document, tmp_path):
        kept = tmp_path / "checkpoints.txt"
        kept.write_text(f"# from syslog\n\n{audit_checkpoint()}\n")
        assert "1 external checkpoint(s)" in verify("--checkpoints-file", str(kept), "--seals")
        kept.write_text("12:not-a-hash\n")
        with pytest.raises(CommandError, match="no checkpoint"):
            verify("--checkpoints-file", str(kept))
        with pytest.raises(CommandError, match="No such file"):
            verify("--checkpoints-file", str(tmp_path / "missing.txt"))

    def test_read_checkpoint_shrugs_at_garbage(self):
        assert read_checkpoint(b"%PDF-1.7 nothing here") is None
        pdf = html_to_pdf(
            "<html lang='en'><title>x</title><meta name='AuditCheckpoint' content='nonsense'>"
        )
        assert read_checkpoint(pdf) is None

    def test_audit_checkpoint_says_when_when_asked(self):
        append(1)
        out = StringIO()
        call_command("audit_checkpoint", verbosity=2, stdout=out)
        first, second = out.getvalue().splitlines()
        assert first.startswith("# audit checkpoint at ")
        assert Checkpoint.parse(second) == audit_checkpoint()


@pytest.mark.django_db
class TestWhatAReviewFound:
    """Each from a review that attacked the trail; each test failed before its fix."""

    @pytest.fixture
    def signed(self, surgeon, library):
        consent, _ = ready_to_sign(surgeon)
        sign(consent)
        consent.refresh_from_db()
        return consent

    def test_a_signed_consents_id_cannot_be_swapped(self, signed, surgeon):
        other, _ = ready_to_sign(surgeon, full_name="Grace Hopper")
        sign(other, name="Grace Hopper")
        refused("UPDATE consent_consent SET id = -1 WHERE id = %s", [signed.pk], match=CHANGED)

    def test_a_signature_moved_to_another_consent_is_reported(self, signed, surgeon):
        other, _ = ready_to_sign(surgeon, full_name="Grace Hopper")
        sign(other, name="Grace Hopper")
        with guards_lifted():
            sql("UPDATE consent_signature SET consent_id = -1 WHERE consent_id = %s", [signed.pk])
            sql(
                "UPDATE consent_signature SET consent_id = %s WHERE consent_id = %s",
                [signed.pk, other.pk],
            )
            sql("UPDATE consent_signature SET consent_id = %s WHERE consent_id = -1", [other.pk])
        assert "but the log recorded it on consent" in problems()

    @pytest.mark.parametrize(
        ("statement", "field"),
        [
            ("UPDATE consent_patient SET full_name = 'Someone Else'", "patient_name"),
            ("UPDATE consent_patient SET date_of_birth = '1970-01-01'", "date_of_birth"),
            ("UPDATE consent_signature SET ip_address = '10.9.9.9'", "signature"),
            ("UPDATE consent_signature SET typed_name = 'Someone Else'", "signature"),
            ("UPDATE consent_consent SET planned_date = '2031-01-01'", "planned_date"),
            ("UPDATE consent_consentitemsnapshot SET acknowledged_at = NULL", "ticks_sha256"),
        ],
    )
    def test_a_signed_record_changed_with_the_guards_off_is_reported(
        self, signed, statement, field
    ):
        with guards_lifted():
            sql(statement)
        assert (
            f"signed record differs from what the log recorded at signing ({field}" in (problems())
            or f", {field}" in problems()
        )

    @pytest.mark.skipif("connection.vendor != 'sqlite'")
    def test_sqlite_insert_or_replace_cannot_rewrite_a_signature(self, signed):
        signature = signed.signatures.get()
        refused(
            "INSERT OR REPLACE INTO consent_signature (id, consent_id, role, typed_name, method, "
            "image_png, image_sha256, statement, signed_at, ip_address, user_agent) "
            "SELECT id, consent_id, role, 'Forged', method, image_png, image_sha256, statement, "
            "signed_at, ip_address, user_agent FROM consent_signature WHERE id = %s",
            [signature.pk],
            match=CHANGED,
        )

    def test_risks_edited_before_signing_block_the_signature(self, surgeon, library):
        from consent.services import ConsentError

        consent, _ = ready_to_sign(surgeon)
        item = consent.items.first()
        sql(
            "UPDATE consent_consentitemsnapshot SET explanation = 'Nothing to worry about.' "
            "WHERE id = %s",
            [item.pk],
        )
        consent.refresh_from_db()
        sql(
            "UPDATE consent_consent SET content_sha256 = %s WHERE id = %s",
            [consent.compute_content_sha256(), consent.pk],
        )
        with pytest.raises(ConsentError, match="wording or details changed after it was issued"):
            sign(consent)
        consent.refresh_from_db()
        assert consent.status == "in_review"

    def test_a_tick_set_in_the_database_is_reported(self, surgeon, library):
        from .helpers import issue

        consent, _ = issue(surgeon)
        sql(
            "UPDATE consent_consentitemsnapshot SET acknowledged_at = CURRENT_TIMESTAMP "
            "WHERE consent_id = %s",
            [consent.pk],
        )
        assert "differs from what the log recorded" in problems()

    def test_a_rekeyed_patient_link_is_reported(self, surgeon, library):
        from .helpers import issue

        _, issued = issue(surgeon)
        sql(
            "UPDATE consent_patientlink SET token_hash = %s WHERE id = %s",
            ["f" * 64, issued.link.pk],
        )
        assert f"patient link {issued.link.pk} no longer has the token" in problems()

    def test_every_edit_is_reported_not_only_the_first(self):
        events = append(6)
        with guards_lifted():
            for event in (events[1], events[4]):
                sql("UPDATE consent_auditevent SET actor_label = 'x' WHERE id = %s", [event.pk])
        found = audit_verify().problems
        assert any("event #2" in p and "does not match its hash" in p for p in found)
        assert any("event #5" in p and "does not match its hash" in p for p in found)

    def test_floats_in_details_keep_their_hash(self):
        event = audit_append(actor=Actor.system(), action="test", details={"x": 1e100, "y": 0.1})
        stored = AuditEvent.objects.get(pk=event.pk)
        assert event_hash(stored, current_key()) == stored.hash

    def test_each_signature_writes_a_checkpoint_to_the_log(
        self, surgeon, library, caplog, django_capture_on_commit_callbacks
    ):
        consent, _ = ready_to_sign(surgeon)
        with (
            caplog.at_level("INFO", logger="consent.audit.checkpoint"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            sign(consent)
        assert f"audit checkpoint {audit_checkpoint()}" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_verifying_while_the_app_signs_raises_no_false_alarm(surgeon, library):
    """The daily check runs while patients sign: what it reads must be one consistent view."""
    import threading

    from django.db import connections

    from consent.documents import document_anchors

    first, _ = ready_to_sign(surgeon)
    sign(first)
    second, _ = ready_to_sign(surgeon, full_name="Grace Hopper")
    thread = threading.Thread(
        target=lambda: (sign(second, name="Grace Hopper"), connections.close_all())
    )

    def anchors_then_a_signing():
        yield from document_anchors()
        thread.start()
        thread.join(timeout=5)  # on SQLite it waits for the check to finish instead

    report = audit_verify(documents=anchors_then_a_signing())
    thread.join()
    assert report.intact, report.problems
    assert audit_verify().intact


@pytest.mark.django_db
def test_the_command_checks_seals_unless_told_not_to(surgeon, library):
    """Someone holding AUDIT_KEY who re-makes a PDF without the hospital's seal (matching
    checkpoint, matching hash in the row) passes a hash-only check, not the default one."""
    consent, _ = ready_to_sign(surgeon)
    sign(consent)
    document = SignedDocument.objects.get()
    unsealed = html_to_pdf(
        "<html lang='en'><title>x</title>"
        f"<meta name='AuditCheckpoint' content='{document.checkpoint_sequence}:"
        f"{document.checkpoint_hash}'><p>Re-made</p>"
    )
    with document.file.open("wb") as handle:
        handle.write(unsealed)
    digest = hashlib.sha256(unsealed).hexdigest()
    with guards_lifted():
        sql("UPDATE consent_signeddocument SET sha256 = %s", [digest])
        sql(
            "UPDATE consent_auditevent SET details = %s WHERE action = 'document_sealed'",
            [f'{{"sha256": "{digest}"}}'],
        )
        rehash_from(AuditEvent.objects.get(action="document_sealed").sequence, current_key())
    assert "Audit chain intact" in verify("--no-seals")
    with pytest.raises(CommandError, match="its seal is not valid"):
        verify()


@pytest.mark.django_db
class TestWhatTheSecondReviewFound:
    def test_a_link_added_in_the_database_is_reported(self, surgeon, library):
        """With row rights only: end the live link, add one whose token you know, sign."""
        from consent.models import PatientLink
        from consent.services import link_verify_identity

        from .helpers import DOB, issue, patient_actor

        consent, issued = issue(surgeon)
        PatientLink.objects.filter(pk=issued.link.pk).update(
            ended_at=timezone.now(), end_reason="reissued"
        )
        forged = PatientLink.objects.create(
            consent=consent,
            token_hash=PatientLink.hash_token("known-to-the-insider"),
            expires_at=issued.link.expires_at,
        )
        link_verify_identity(link=forged, date_of_birth=DOB, actor=patient_actor())
        found = problems()
        assert f"patient link {forged.pk} of consent {consent.pk} has no link_issued event" in found
        assert f"patient link {issued.link.pk} of consent {consent.pk} was ended" in found

    def test_a_patient_changed_before_signing_is_reported_and_blocks_signing(
        self, surgeon, library
    ):
        from consent.services import ConsentError

        consent, _ = ready_to_sign(surgeon)
        sql(
            "UPDATE consent_patient SET date_of_birth = '1970-01-01' WHERE id = %s",
            [consent.patient_id],
        )
        assert "patient or details differ from what the log recorded when it was issued " in (
            problems()
        )
        with pytest.raises(ConsentError, match="details changed after it was issued"):
            sign(consent)

    def test_a_mistyped_checkpoint_blames_the_checkpoint_not_a_good_pdf(self, surgeon, library):
        consent, _ = ready_to_sign(surgeon)
        sign(consent)
        document = SignedDocument.objects.get()
        typo = Checkpoint(document.checkpoint_sequence, "0" * 64)
        found = audit_verify(external=[typo]).problems
        assert len(found) == 1 and found[0].startswith("the external checkpoint")
        assert "or the checkpoint was mistyped" in found[0]

    def test_checkpoints_are_read_from_log_lines(self, tmp_path):
        append(2)
        kept = audit_checkpoint()
        lines = tmp_path / "checkpoints.txt"
        lines.write_text(
            f"Nov 22 01:00:01 app consent-audit-checkpoint: {kept}\n"
            f"2026-11-22 01:00:02 INFO consent.audit.checkpoint audit checkpoint {kept}\n"
        )
        assert "2 external checkpoint(s)" in verify("--checkpoints-file", str(lines))


@pytest.mark.django_db(transaction=True)
def test_verify_sees_one_moment_even_when_a_signing_lands_between_its_reads(
    surgeon, library, monkeypatch
):
    """A signing that commits after the walk and before the head and records are read must
    not look like deleted events or unexplained records."""
    import threading

    from django.db import connections

    from consent import audit

    consent, _ = ready_to_sign(surgeon)
    real_check_head = audit._check_head
    threads = []

    def sign_meanwhile(report, walk):
        thread = threading.Thread(target=lambda: (sign(consent), connections.close_all()))
        threads.append(thread)
        thread.start()
        thread.join(timeout=5)  # on SQLite it waits for the check to finish instead
        monkeypatch.setattr(audit, "_check_head", real_check_head)
        return real_check_head(report, walk)

    monkeypatch.setattr(audit, "_check_head", sign_meanwhile)
    report = audit_verify()
    threads[0].join()
    assert report.intact, report.problems
    consent.refresh_from_db()
    assert consent.status == "signed"
    assert audit_verify().intact
