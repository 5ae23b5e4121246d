import datetime
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from consent.models import (
    Consent,
    ConsentItemSnapshot,
    ConsentStatus,
    Patient,
    Question,
    Signature,
    SignedDocument,
    SigningClaim,
)
from consent.services import (
    ConsentError,
    LinkState,
    consent_acknowledge_item,
    consent_answer_question,
    consent_ask_question,
    consent_reissue_link,
    consent_revoke,
    consent_withdraw,
    link_find,
    link_state,
    names_match,
)

from .helpers import (
    issue,
    patient_actor,
    png_signature,
    ready_to_sign,
    run_concurrently,
    sign,
    surgeon_actor,
)

pytestmark = pytest.mark.usefixtures("library")


def stored_pdfs() -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {str(p.relative_to(root)) for p in root.rglob("*.pdf")}


def local_time(day: datetime.date, hour: int, minute: int) -> datetime.datetime:
    """A moment on `day` in the hospital's time zone."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def snapshot(consent) -> list:
    consent.refresh_from_db()
    items = list(
        ConsentItemSnapshot.objects.filter(consent=consent).values_list("pk", "acknowledged_at")
    )
    questions = list(
        Question.objects.filter(consent=consent).values_list("pk", "answer", "answered_at")
    )
    return [
        consent.status,
        consent.signed_at,
        items,
        questions,
        Signature.objects.filter(consent=consent).count(),
    ]


class TestQuestions:
    def test_a_question_blocks_signing_until_answered(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        item = consent.items.first()
        question = consent_ask_question(
            consent=consent,
            item_id=item.pk,
            text="Will I walk the same day?",
            actor=patient_actor(),
        )
        with pytest.raises(ConsentError, match="not answered yet"):
            sign(consent)
        consent_answer_question(
            consent=consent,
            question_id=question.pk,
            text="Yes, with help.",
            actor=surgeon_actor(surgeon),
        )
        question.refresh_from_db()
        assert question.answer == "Yes, with help." and question.answered_by == surgeon
        assert sign(consent).method == "typed"
        actions = list(consent.audit_events.values_list("action", flat=True))
        assert "question_asked" in actions and "question_answered" in actions

    def test_an_empty_or_too_long_question_is_refused(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        item = consent.items.first()
        with pytest.raises(ConsentError, match="Please write your question"):
            consent_ask_question(
                consent=consent, item_id=item.pk, text="   ", actor=patient_actor()
            )
        with pytest.raises(ConsentError, match="under 1000"):
            consent_ask_question(
                consent=consent, item_id=item.pk, text="x" * 1001, actor=patient_actor()
            )
        assert not Question.objects.exists()

    def test_a_question_about_another_consents_risk_is_refused(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        other, _ = issue(surgeon, full_name="Other Patient")
        with pytest.raises(ConsentError, match="That risk is not part of this consent"):
            consent_ask_question(
                consent=consent, item_id=other.items.first().pk, text="?", actor=patient_actor()
            )
        assert not Question.objects.exists()

    def test_only_the_surgeons_team_can_answer(self, surgeon, outsider):
        consent, _ = ready_to_sign(surgeon)
        q = consent_ask_question(
            consent=consent, item_id=consent.items.first().pk, text="Why?", actor=patient_actor()
        )
        from consent.actors import Actor

        for actor in (surgeon_actor(outsider), Actor.system(), patient_actor()):
            with pytest.raises(ConsentError, match="Only the surgeon's team can answer"):
                consent_answer_question(consent=consent, question_id=q.pk, text="Hi", actor=actor)
        q.refresh_from_db()
        assert not q.is_answered

    def test_answering_a_question_of_another_consent_is_refused(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        other, _ = ready_to_sign(surgeon, full_name="Other Patient")
        theirs = consent_ask_question(
            consent=other, item_id=other.items.first().pk, text="Why?", actor=patient_actor()
        )
        with pytest.raises(ConsentError, match="That question is not part of this consent"):
            consent_answer_question(
                consent=consent, question_id=theirs.pk, text="No.", actor=surgeon_actor(surgeon)
            )
        theirs.refresh_from_db()
        assert not theirs.is_answered

    def test_answering_twice_is_refused(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        q = consent_ask_question(
            consent=consent, item_id=consent.items.first().pk, text="Why?", actor=patient_actor()
        )
        consent_answer_question(
            consent=consent, question_id=q.pk, text="Because.", actor=surgeon_actor(surgeon)
        )
        with pytest.raises(ConsentError, match="already been answered"):
            consent_answer_question(
                consent=consent, question_id=q.pk, text="Again.", actor=surgeon_actor(surgeon)
            )

    def test_answering_on_a_revoked_consent_is_refused(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        q = consent_ask_question(
            consent=consent, item_id=consent.items.first().pk, text="Why?", actor=patient_actor()
        )
        consent_revoke(consent=consent, actor=surgeon_actor(surgeon), reason="Cancelled")
        with pytest.raises(ConsentError, match="revoked"):
            consent_answer_question(
                consent=consent, question_id=q.pk, text="Late.", actor=surgeon_actor(surgeon)
            )


class TestSign:
    def test_a_typed_signature_records_who_what_when_where(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        signature = sign(consent, name="  ada   LOVELACE ")
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.SIGNED and consent.signed_at == signature.signed_at
        assert signature.method == "typed" and signature.image_png is None
        assert signature.typed_name == "ada LOVELACE"
        assert signature.statement.startswith(f"I consent to {consent.procedure_name}.")
        assert signature.ip_address == "192.0.2.7" and signature.user_agent == "pytest"
        signed, sealed = consent.audit_events.order_by("-sequence")[:2][::-1]
        assert signed.action == "consent_signed" and signed.details["method"] == "typed"
        assert sealed.action == "document_sealed" and sealed.actor_type == "system"

    def test_a_drawn_signature_is_stored_with_its_hash(self, surgeon):
        import hashlib

        consent, _ = ready_to_sign(surgeon)
        png = png_signature()
        signature = sign(consent, png=png)
        assert signature.method == "drawn"
        assert bytes(signature.image_png) == png
        assert signature.image_sha256 == hashlib.sha256(png).hexdigest()

    @pytest.mark.parametrize(
        ("png", "message"),
        [
            (png_signature(fmt="JPEG"), "must be a PNG"),
            (png_signature(fmt="GIF"), "must be a PNG"),
            (b"\x89PNG\r\n\x1a\n" + b"garbage" * 50, "could not be read"),
            (png_signature()[:200], "could not be read"),
            (png_signature(blank=True), "empty"),
            (png_signature(width=20, height=10), "unusual size"),
            (png_signature(width=5000, height=100), "unusual size"),
            (b"\x89PNG\r\n\x1a\n" + b"\0" * (200 * 1024 + 1), "too large"),
        ],
        ids=["jpeg", "gif", "corrupt", "truncated", "blank", "tiny", "huge", "oversized"],
    )
    def test_a_bad_image_is_refused_and_nothing_changes(self, surgeon, png, message):
        consent, _ = ready_to_sign(surgeon)
        before = snapshot(consent)
        with pytest.raises(ConsentError, match=message):
            sign(consent, png=png)
        assert snapshot(consent) == before

    def test_missing_acknowledgments_are_named(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        item = consent.items.last()
        consent_acknowledge_item(
            consent=consent, item_id=item.pk, acknowledged=False, actor=patient_actor()
        )
        with pytest.raises(ConsentError, match=f"Not yet ticked: {item.title}"):
            sign(consent)

    def test_a_mismatched_name_is_refused(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        with pytest.raises(ConsentError, match="does not match the name"):
            sign(consent, name="Ada Byron")

    def test_the_statement_must_be_accepted(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        with pytest.raises(ConsentError, match="tick the box"):
            sign(consent, accepted=False)

    def test_signing_twice_is_refused(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        sign(consent)
        with pytest.raises(ConsentError, match="already been signed"):
            sign(consent)
        assert Signature.objects.count() == 1

    def test_signing_after_the_planned_date_is_refused_and_nothing_changes(self, surgeon):
        consent, _ = ready_to_sign(surgeon, planned_in_days=1)
        before = snapshot(consent)
        just_after = local_time(consent.planned_date + datetime.timedelta(days=1), 0, 5)
        with time_machine.travel(just_after), pytest.raises(ConsentError, match="date has passed"):
            sign(consent)
        assert snapshot(consent) == before
        assert not consent.audit_events.filter(action="consent_signed").exists()
        assert not SignedDocument.objects.filter(consent=consent).exists()

    def test_signing_late_on_the_planned_date_is_still_allowed(self, surgeon):
        consent, _ = ready_to_sign(surgeon, planned_in_days=1)
        with time_machine.travel(local_time(consent.planned_date, 23, 55)):
            sign(consent)
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.SIGNED

    def test_signing_before_opening_is_refused(self, surgeon):
        consent, _ = issue(surgeon)
        with pytest.raises(ConsentError, match="issued"):
            sign(consent)

    @pytest.mark.parametrize(
        ("typed", "expected", "match"),
        [
            ("ada lovelace", "Ada Lovelace", True),
            ("  Ada    Lovelace  ", "Ada Lovelace", True),
            ("ADA LOVELACE", "Ada  Lovelace", True),
            ("Ada", "Ada Lovelace", False),
            ("Ada Lovelace Byron", "Ada Lovelace", False),
        ],
    )
    def test_names_match_ignoring_case_and_spaces(self, typed, expected, match):
        assert names_match(typed, expected) is match


class TestAfterSigning:
    def test_no_service_can_change_a_signed_consent(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        item = consent.items.first()
        sign(consent)
        before = snapshot(consent)
        attempts = [
            lambda: consent_acknowledge_item(
                consent=consent, item_id=item.pk, acknowledged=False, actor=patient_actor()
            ),
            lambda: consent_ask_question(
                consent=consent, item_id=item.pk, text="Late?", actor=patient_actor()
            ),
            lambda: consent_revoke(consent=consent, actor=surgeon_actor(surgeon), reason="No"),
            lambda: sign(consent),
        ]
        for attempt in attempts:
            with pytest.raises(ConsentError):
                attempt()
        assert snapshot(consent) == before

    @pytest.mark.parametrize(
        "tamper",
        [
            lambda c: ConsentItemSnapshot.objects.filter(consent=c).update(title="Changed"),
            lambda c: ConsentItemSnapshot.objects.filter(consent=c).update(acknowledged_at=None),
            lambda c: Signature.objects.filter(consent=c).update(typed_name="Someone Else"),
            lambda c: Consent.objects.filter(pk=c.pk).update(procedure_text={"summary": "x"}),
            lambda c: Consent.objects.filter(pk=c.pk).update(status="in_review"),
            lambda c: Patient.objects.filter(pk=c.patient_id).update(full_name="Someone Else"),
            lambda c: Question.objects.create(consent=c, item=c.items.first(), text="Sneaky"),
        ],
        ids=[
            "item-text",
            "item-tick",
            "signature",
            "frozen-text",
            "status",
            "patient",
            "new-question",
        ],
    )
    def test_the_database_refuses_changes_to_a_signed_consent(self, surgeon, tamper):
        consent, _ = ready_to_sign(surgeon)
        sign(consent)
        before = snapshot(consent)
        with (
            pytest.raises(DatabaseError, match="signed consent cannot be changed"),
            transaction.atomic(),
        ):
            tamper(consent)
        assert snapshot(consent) == before

    def test_no_new_link_is_made_after_signing_and_the_old_one_still_opens(self, surgeon):
        consent, issued = ready_to_sign(surgeon)
        sign(consent)
        with pytest.raises(ConsentError, match="this consent is signed"):
            consent_reissue_link(consent=consent, actor=surgeon_actor(surgeon))
        assert link_state(link_find(issued.token)) == LinkState.OK  # to withdraw with


class TestWithdraw:
    def test_a_signed_consent_that_is_withdrawn_keeps_its_signature(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        signature = sign(consent)
        consent = consent_withdraw(
            consent=consent, reason="I want more time.", actor=patient_actor()
        )
        assert consent.status == ConsentStatus.WITHDRAWN
        assert consent.close_reason == "I want more time."
        assert consent.signed_at == signature.signed_at
        assert Signature.objects.get(consent=consent) == signature
        assert consent.audit_events.last().details == {
            "reason": "I want more time.",
            "was": "signed",
            "recorded_by_team": False,
        }

    def test_an_unsigned_consent_can_be_withdrawn(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        assert (
            consent_withdraw(consent=consent, reason="", actor=patient_actor()).status
            == "withdrawn"
        )

    def test_withdrawing_after_the_planned_date_is_refused(self, surgeon):
        consent, _ = ready_to_sign(surgeon, planned_in_days=2)
        sign(consent)
        later = time_machine.travel(timezone.now() + datetime.timedelta(days=4))
        with later, pytest.raises(ConsentError, match="has passed"):
            consent_withdraw(consent=consent, reason="", actor=patient_actor())
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.SIGNED

    def test_a_reason_over_the_limit_is_refused_and_nothing_changes(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        with pytest.raises(ConsentError, match="keep the reason under 1000 characters"):
            consent_withdraw(consent=consent, reason="x" * 1001, actor=patient_actor())
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.IN_REVIEW and consent.close_reason == ""

    def test_a_reason_at_the_limit_is_kept_without_surrounding_spaces(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        reason = "y" * 1000
        consent_withdraw(consent=consent, reason=f"  {reason}\n", actor=patient_actor())
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.WITHDRAWN and consent.close_reason == reason

    def test_withdrawing_twice_is_refused(self, surgeon):
        consent, _ = ready_to_sign(surgeon)
        consent_withdraw(consent=consent, reason="", actor=patient_actor())
        with pytest.raises(ConsentError, match="withdrawn"):
            consent_withdraw(consent=consent, reason="", actor=patient_actor())


@pytest.mark.django_db(transaction=True)
def test_concurrent_sign_requests_make_exactly_one_signature(surgeon, library):
    """Two tabs, a double click, two app servers: several sign requests at the same moment."""
    consent, _ = ready_to_sign(surgeon)
    files_before = stored_pdfs()

    def attempt():
        try:
            sign(Consent.objects.get(pk=consent.pk))
        except ConsentError as exc:
            return f"refused: {exc}"
        return "signed"

    results = [r if isinstance(r, str) else f"error: {r!r}" for r in run_concurrently(attempt, 6)]

    assert results.count("signed") == 1, results
    refusals = {
        "refused: This consent has already been signed.",
        "refused: Your signature is being saved from another window or tab. "
        "Wait a few seconds, then reload this page.",
    }
    assert all(r in refusals for r in results if r != "signed"), results
    assert Signature.objects.filter(consent=consent).count() == 1
    assert consent.audit_events.filter(action="consent_signed").count() == 1
    # One PDF rendered and stored: the refused requests made none.
    document = SignedDocument.objects.get(consent=consent)
    assert stored_pdfs() - files_before == {document.file.name}
    assert not SigningClaim.objects.exists()


def in_another_thread(work) -> bool:
    """Run work() in another thread with its own connection; True if it finished (did not
    have to wait for a lock held by the caller)."""
    import threading

    from django.db import connections

    def run():
        try:
            work()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=15)
    return not thread.is_alive()


@pytest.mark.django_db(transaction=True)
class TestSigningHoldsNoLockWhileRendering:
    """The PDF is rendered and sealed with no lock and no transaction held."""

    def test_another_patient_ticks_and_the_audit_log_moves_on_meanwhile(self, surgeon, monkeypatch):
        from consent import documents

        signing, _ = ready_to_sign(surgeon)
        other, _ = ready_to_sign(surgeon, full_name="Grace Hopper")
        item = other.items.filter(not_applicable=False).first()
        finished = []
        real_render = documents.render_sealed

        def render(*args, **kwargs):
            finished.append(
                in_another_thread(
                    lambda: consent_acknowledge_item(
                        consent=other, item_id=item.pk, acknowledged=False, actor=patient_actor()
                    )
                )
            )
            return real_render(*args, **kwargs)

        monkeypatch.setattr(documents, "render_sealed", render)
        sign(signing)
        assert finished == [True]
        assert other.audit_events.filter(action="item_unacknowledged").count() == 1

    def test_a_change_made_while_rendering_refuses_the_signature(self, surgeon, monkeypatch):
        from consent import documents

        consent, _ = ready_to_sign(surgeon)
        item = consent.items.filter(not_applicable=False).first()
        files_before = stored_pdfs()
        real_render = documents.render_sealed

        def render(*args, **kwargs):
            # The patient takes a tick back in another tab while the PDF is being made.
            assert in_another_thread(
                lambda: consent_acknowledge_item(
                    consent=consent, item_id=item.pk, acknowledged=False, actor=patient_actor()
                )
            )
            return real_render(*args, **kwargs)

        monkeypatch.setattr(documents, "render_sealed", render)
        with pytest.raises(ConsentError, match="Something changed while your signature"):
            sign(consent)
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.IN_REVIEW
        assert not Signature.objects.filter(consent=consent).exists()
        assert stored_pdfs() == files_before  # the PDF made for nothing was deleted
        assert not SigningClaim.objects.exists()


class TestTheSignedPdfAnchorsTheAuditLog:
    def test_it_carries_the_checkpoint_of_the_chain_as_it_was(self, surgeon):
        from consent.audit import audit_verify
        from consent.documents import read_checkpoint, read_document
        from consent.models import AuditEvent

        consent, _ = ready_to_sign(surgeon)
        head_before = AuditEvent.objects.order_by("-sequence").first()
        sign(consent)
        document = SignedDocument.objects.get(consent=consent)
        pdf = read_document(document)
        checkpoint = read_checkpoint(pdf)
        assert (checkpoint.sequence, checkpoint.hash) == (head_before.sequence, head_before.hash)
        assert (document.checkpoint_sequence, document.checkpoint_hash) == (
            checkpoint.sequence,
            checkpoint.hash,
        )
        sealed = consent.audit_events.get(action="document_sealed")
        assert sealed.details["checkpoint"] == f"{checkpoint.sequence}:{checkpoint.hash}"
        report = audit_verify()
        assert report.intact and report.checkpoints == 1

    def test_the_checkpoint_is_printed_for_people_too(self, surgeon):
        import io

        from pypdf import PdfReader

        from consent.documents import read_document

        consent, _ = ready_to_sign(surgeon)
        sign(consent)
        document = SignedDocument.objects.get(consent=consent)
        text = " ".join(
            page.extract_text() for page in PdfReader(io.BytesIO(read_document(document))).pages
        )
        assert f"Audit log checkpoint: event {document.checkpoint_sequence}" in text
        assert document.checkpoint_hash[:16] in text.replace("\n", "")

    def test_a_second_request_while_one_is_signing_is_told_to_wait(self, surgeon):
        from consent.models import SigningClaim as Claim
        from consent.services import SigningInProgress

        consent, _ = ready_to_sign(surgeon)
        Claim.objects.create(consent=consent, token="x" * 32, started_at=timezone.now())
        with pytest.raises(SigningInProgress, match="being saved from another window"):
            sign(consent)
        stale = timezone.now() + datetime.timedelta(seconds=settings.SIGNING_CLAIM_SECONDS + 1)
        with time_machine.travel(stale):
            sign(consent)
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.SIGNED


class TestStorageFailures:
    def test_a_full_disk_refuses_the_signature_plainly_and_changes_nothing(
        self, surgeon, monkeypatch
    ):
        consent, _ = ready_to_sign(surgeon)
        storage = SignedDocument._meta.get_field("file").storage

        def full(*args, **kwargs):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(storage, "save", full)
        with pytest.raises(ConsentError, match="nothing was signed"):
            sign(consent)
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.IN_REVIEW
        assert not SigningClaim.objects.exists()
        assert not Signature.objects.exists()

    def test_an_unused_file_that_cannot_be_deleted_is_logged(self, monkeypatch, caplog):
        from consent import documents

        storage = SignedDocument._meta.get_field("file").storage

        def stuck(name):
            raise OSError(13, "Permission denied")

        monkeypatch.setattr(storage, "delete", stuck)
        documents.delete_file("consents/x.pdf")
        assert "Could not delete the unused file consents/x.pdf" in caplog.text


@pytest.mark.django_db(transaction=True)
class TestAfterTheCommit:
    """Once the signature is committed, nothing that goes wrong afterwards may undo any of it:
    a worker timeout or shutdown (SystemExit) or a failing email while the surgeon is told."""

    @pytest.mark.parametrize("error", [SystemExit, KeyboardInterrupt, RuntimeError])
    def test_the_signed_pdf_survives_an_error_while_telling_the_surgeon(
        self, surgeon, monkeypatch, error
    ):
        from consent import notify

        def broken(*args, **kwargs):
            raise error("interrupted")

        monkeypatch.setattr(notify, "surgeon_event", broken)
        consent, _ = ready_to_sign(surgeon)
        if error is RuntimeError:
            sign(consent)  # an ordinary failure to email is logged, the patient signs
        else:
            with pytest.raises(error):
                sign(consent)
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.SIGNED
        document = SignedDocument.objects.get(consent=consent)
        assert document.file.storage.exists(document.file.name)
        from consent.audit import audit_verify

        assert audit_verify().intact


@pytest.mark.django_db(transaction=True)
def test_identity_checks_racing_revocation_and_reissue_never_deadlock(surgeon):
    """Every service locks the consent before its link; a review found 24 deadlocks in 30."""
    import itertools

    from consent.services import LinkState, link_verify_identity

    from .helpers import DOB

    for round_ in range(6):
        consent, issued = issue(surgeon, full_name=f"Patient {round_}")
        turn = itertools.count()

        def work(consent=consent, issued=issued, turn=turn, round_=round_):
            if next(turn) % 2:
                return link_verify_identity(
                    link=issued.link, date_of_birth=DOB, actor=patient_actor()
                ).state
            if round_ % 2:
                return consent_revoke(consent=consent, actor=surgeon_actor(surgeon), reason="x")
            return consent_reissue_link(consent=consent, actor=surgeon_actor(surgeon))

        results = run_concurrently(work, 4)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert all(isinstance(e, ConsentError) for e in errors), errors
        assert all(r in set(LinkState) for r in results if isinstance(r, str))


class TestAClaimThatLapsed:
    def test_a_signing_whose_claim_was_taken_over_is_refused_and_leaves_nothing(
        self, surgeon, monkeypatch
    ):
        """A render slower than SIGNING_CLAIM_SECONDS: another request takes the claim over;
        the slow one must not then write a second signature."""
        from consent import documents, services

        consent, _ = ready_to_sign(surgeon)
        files_before = stored_pdfs()
        real_render = documents.render_sealed
        later = timezone.now() + datetime.timedelta(seconds=settings.SIGNING_CLAIM_SECONDS + 1)

        def slow_render(*args, **kwargs):
            with time_machine.travel(later):
                services._claim_signing(consent=consent, typed_name="Ada Lovelace")
            return real_render(*args, **kwargs)

        monkeypatch.setattr(documents, "render_sealed", slow_render)
        with pytest.raises(services.SigningInProgress, match="took too long"):
            sign(consent)
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.IN_REVIEW
        assert not Signature.objects.filter(consent=consent).exists()
        assert stored_pdfs() == files_before
        assert SigningClaim.objects.filter(consent=consent).count() == 1  # the newer one's
