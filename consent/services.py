"""Every change to a consent happens here.

Each function is keyword-only, runs in one transaction, refuses an invalid transition with a
ConsentError whose message can be shown to people as it is, and writes an audit event.
Views, commands and the admin call these; they never set a status themselves.
"""

import datetime
import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from procedures.models import PROCEDURE_TEXT_FIELDS, Procedure, Severity
from procedures.sites import LevelsError, Side, clean_levels, consent_site

from . import documents, notify
from .actors import Actor, stored_ip, stored_text
from .audit import (
    audit_append,
    audit_checkpoint,
    issued_record,
    log_checkpoint,
    signed_record,
)
from .documents import DocumentError, read_document
from .models import (
    OPEN_STATES,
    REISSUABLE_STATES,
    Consent,
    ConsentCheck,
    ConsentItemSnapshot,
    ConsentStatus,
    ItemOrigin,
    LinkEndReason,
    Patient,
    PatientLink,
    Priorities,
    Question,
    Signature,
    SignatureMethod,
    SignatureRole,
    SignedDocument,
    SigningClaim,
    Team,
    UserSession,
)
from .names import name_problem, names_match, printable_text
from .reading import predicted_seconds
from .signature_image import SignatureImageError, check_png

logger = logging.getLogger(__name__)


class ConsentError(Exception):
    """A refused change. The message is plain words, fit to show to the person who asked."""


# --- issuing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtraRisk:
    title: str
    explanation: str
    severity: str
    frequency: str = ""


@dataclass(frozen=True)
class PatientDetails:
    full_name: str
    date_of_birth: datetime.date
    hospital_number: str = ""
    email: str = ""


@dataclass(frozen=True)
class IssuedLink:
    link: PatientLink
    token: str = field(repr=False)


# The range of dates a consent accepts: a patient at most 120 years old, and an operation
# planned at most one year ahead (a date beyond is a typing mistake; it also keeps date
# arithmetic far from year 9999). The patient's own date-of-birth form accepts any date from
# 1900, so that a patient issued a consent near the age bound is never refused later.
EARLIEST_DATE_OF_BIRTH = datetime.date(1900, 1, 1)
MAX_AGE_YEARS = 120
PLANNED_DATE_MAX_YEARS = 1


def _years_from(today: datetime.date, years: int) -> datetime.date:
    """The same day `years` later (earlier if negative); 28 Feb for 29 Feb."""
    try:
        return today.replace(year=today.year + years)
    except ValueError:
        return today.replace(year=today.year + years, day=28)


def latest_planned_date(today: datetime.date) -> datetime.date:
    """The last day a surgery may be planned for: one year from today."""
    return _years_from(today, PLANNED_DATE_MAX_YEARS)


def earliest_date_of_birth(today: datetime.date) -> datetime.date:
    """The earliest date of birth a new consent accepts: 120 years before today."""
    return _years_from(today, -MAX_AGE_YEARS)


def _end_of_day(day: datetime.date) -> datetime.datetime:
    """The first moment after `day` ends, in the hospital's time zone."""
    start_of_next = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min)
    return timezone.make_aware(start_of_next)


def _create_link(*, consent: Consent, actor: Actor, replaces: list[int] = ()) -> IssuedLink:
    now = timezone.now()
    token = secrets.token_urlsafe(32)  # 256 random bits
    expires_at = min(
        now + datetime.timedelta(days=settings.CONSENT_LINK_DAYS), _end_of_day(consent.planned_date)
    )
    link = PatientLink.objects.create(
        consent=consent,
        token_hash=PatientLink.hash_token(token),
        created_at=now,
        expires_at=expires_at,
    )
    audit_append(
        actor=actor,
        action="link_issued",
        consent=consent,
        details={
            "link": link.pk,
            "expires_at": expires_at.isoformat(),
            "token_hash": link.token_hash,
            "replaces": list(replaces),
        },
    )
    return IssuedLink(link=link, token=token)


def _end_live_link(*, consent: Consent, reason: str) -> list[int]:
    """End the consent's live link; returns the ids ended, for the audit event that says why."""
    live = list(consent.links.filter(ended_at__isnull=True).values_list("pk", flat=True))
    consent.links.filter(pk__in=live).update(ended_at=timezone.now(), end_reason=reason)
    return live


def consent_issue(
    *,
    actor: Actor,
    patient: PatientDetails,
    procedure: Procedure,
    planned_date: datetime.date,
    extra_risks: list[ExtraRisk] | tuple = (),
    not_applicable: dict[int, str] | None = None,
    team: Team | None = None,
    email_patient: bool = False,
    levels: str = "",
    side: str = "",
) -> tuple[Consent, IssuedLink]:
    """Issue a consent: freeze the procedure's current wording into it and create its link.

    not_applicable maps a library risk's id to the reason it does not apply to this patient.
    levels and side: given exactly when the procedure asks for them (Procedure.asks_for); they
    are frozen into the consent's site.
    """
    not_applicable = not_applicable or {}
    if actor.user is None:
        raise ConsentError("Only a signed-in surgeon can issue a consent.")
    if not procedure.is_active:
        raise ConsentError(f"{procedure.name} is not active in the library.")
    today = timezone.localdate()
    if planned_date < today:
        raise ConsentError("The planned date of surgery is in the past.")
    if planned_date > latest_planned_date(today):
        raise ConsentError("The planned date of surgery must be within one year from today.")
    if problem := name_problem(patient.full_name):
        raise ConsentError(problem)
    if patient.date_of_birth >= today:
        raise ConsentError("The date of birth must be in the past.")
    if patient.date_of_birth < earliest_date_of_birth(today):
        raise ConsentError(
            f"The date of birth must be within the last {MAX_AGE_YEARS} years. Check the year."
        )
    if team is not None and not team.members.filter(pk=actor.user.pk).exists():
        raise ConsentError("You can only share a consent with a team you belong to.")
    if email_patient and not patient.email.strip():
        raise ConsentError("Give the patient's email address to send them the link.")
    site = _consent_site(procedure, levels=levels, side=side)
    for risk in extra_risks:
        if not risk.title.strip() or not risk.explanation.strip():
            raise ConsentError("Each patient-specific risk needs a title and an explanation.")
        if risk.severity not in Severity.values:
            raise ConsentError(f'"{risk.severity}" is not a severity.')

    with transaction.atomic():
        library_items = list(procedure.items.all())
        unknown = set(not_applicable) - {item.pk for item in library_items}
        if unknown:
            raise ConsentError("A risk marked as not applicable is not part of this procedure.")
        if any(not reason.strip() for reason in not_applicable.values()):
            raise ConsentError("Give a reason for each risk marked as not applicable.")

        now = timezone.now()
        consent = Consent(
            patient=Patient.objects.create(
                full_name=" ".join(patient.full_name.split()),
                date_of_birth=patient.date_of_birth,
                hospital_number=patient.hospital_number.strip(),
                email=patient.email.strip(),
            ),
            procedure=procedure,
            surgeon=actor.user,
            planned_date=planned_date,
            team=team,
            email_patient=email_patient,
            status=ConsentStatus.ISSUED,
            procedure_name=procedure.name,
            procedure_site=site,
            procedure_slug=procedure.slug,
            procedure_revision=procedure.revision,
            procedure_text={key: getattr(procedure, key) for key in PROCEDURE_TEXT_FIELDS},
            created_at=now,
            updated_at=now,
        )
        consent.save()
        items = [
            ConsentItemSnapshot(
                consent=consent,
                source_item_id=item.pk,
                origin=ItemOrigin.LIBRARY,
                title=item.title,
                explanation=item.explanation,
                severity=item.severity,
                frequency=item.frequency,
                order=order,
                required=item.required,
                not_applicable=item.pk in not_applicable,
                not_applicable_reason=not_applicable.get(item.pk, "").strip(),
                one_in=item.one_in,
                per_1000=item.per_1000,
                rate_source=item.rate_source,
            )
            for order, item in enumerate(library_items, start=1)
        ]
        items += [
            ConsentItemSnapshot(
                consent=consent,
                origin=ItemOrigin.PATIENT_SPECIFIC,
                title=risk.title.strip(),
                explanation=risk.explanation.strip(),
                severity=risk.severity,
                frequency=risk.frequency.strip(),
                order=order,
                required=True,
            )
            for order, risk in enumerate(extra_risks, start=len(library_items) + 1)
        ]
        ConsentItemSnapshot.objects.bulk_create(items)
        checks = _freeze_checks(consent, procedure, items)
        consent.content_sha256 = consent.compute_content_sha256(items, checks)
        consent.predicted_reading_seconds = predicted_seconds(consent.procedure_text, items)
        consent.save(update_fields=["content_sha256", "predicted_reading_seconds"])
        audit_append(
            actor=actor,
            action="consent_issued",
            consent=consent,
            details={
                "procedure": procedure.slug,
                "revision": procedure.revision,
                "site": site,
                "content_sha256": consent.content_sha256,
                "items": len(items),
                "understanding_checks": len(checks),
                # Not part of the wording's hash: checked against this before signing and by
                # verify_audit, so that the "read quickly" flag cannot be moved meanwhile.
                "predicted_reading_seconds": consent.predicted_reading_seconds,
                "patient_specific": len(extra_risks),
                "not_applicable": sorted(
                    item.title for item in library_items if item.pk in not_applicable
                ),
                "team": team.name if team else None,
                "record": issued_record(consent),
            },
        )
        issued = _create_link(consent=consent, actor=actor)
    return consent, issued


def _freeze_checks(consent: Consent, procedure: Procedure, items) -> list[ConsentCheck]:
    """Copy the procedure's understanding checks into the consent, each tied to the frozen risk
    it is about. A check about a risk that does not apply to this patient is left out."""
    by_title = {item.title: item for item in items if item.origin == ItemOrigin.LIBRARY}
    checks = []
    for check in procedure.understanding_checks.all():
        item = by_title.get(check.risk_title) if check.risk_title else None
        if check.risk_title and (item is None or item.not_applicable):
            continue
        checks.append(
            ConsentCheck(
                consent=consent,
                order=len(checks) + 1,
                question=check.question,
                item=item,
                section=check.section,
                options=[check.answer, *check.wrong_answer_list],
                explanation=check.explanation,
            )
        )
    return ConsentCheck.objects.bulk_create(checks)


def _consent_site(procedure: Procedure, *, levels: str, side: str) -> str:
    """The site the consent states, with the levels and side the procedure asks for."""
    if procedure.asks_for_levels:
        try:
            levels = clean_levels(levels)
        except LevelsError as exc:
            raise ConsentError(f"{procedure.name}: {exc}") from None
    elif levels:
        raise ConsentError(f"{procedure.name} does not ask for levels: its site is fixed.")
    if procedure.asks_for_side:
        if side not in Side.values:
            raise ConsentError(f"{procedure.name}: choose the side (left, right or both).")
    elif side:
        raise ConsentError(f"{procedure.name} does not ask for a side.")
    site = consent_site(procedure.site, levels=levels, side=side)
    if len(site) > Consent._meta.get_field("procedure_site").max_length:
        raise ConsentError("The site with its levels is too long. Shorten the levels.")
    return site


def _require_manager(consent: Consent, actor: Actor, what: str) -> None:
    if actor.user is None or not consent.can_manage(actor.user):
        raise ConsentError(f"Only the issuing surgeon can {what}.")


class EmailOutcome(StrEnum):
    NOT_ASKED = "not_asked"
    SENT = "sent"
    FAILED = "failed"


def consent_email_link(
    *, consent: Consent, issued: IssuedLink, url: str, actor: Actor
) -> EmailOutcome:
    """Email the patient their link now, if this consent asks for it, and audit what happened:
    `link_emailed` only once the mail server took the email, `link_email_failed` if it did not.

    Sends while the caller waits, so call it outside any transaction (no lock is held while
    talking to the mail server); the link itself was committed before.
    """
    if not consent.email_patient or not consent.patient.email:
        return EmailOutcome.NOT_ASKED
    sent = notify.patient_link(consent, url=url, expires_at=issued.link.expires_at)
    audit_append(
        actor=actor,
        action="link_emailed" if sent else "link_email_failed",
        consent=consent,
        details={"link": issued.link.pk, "to_domain": consent.patient.email.split("@")[-1]},
    )
    return EmailOutcome.SENT if sent else EmailOutcome.FAILED


def link_email_failed(consent: Consent, link: PatientLink | None, events=None) -> bool:
    """Did the last attempt to email this live link fail?"""
    if link is None or not consent.email_patient:
        return False
    events = consent.audit_events.all() if events is None else events
    attempts = [
        e
        for e in events
        if e.action in ("link_emailed", "link_email_failed")
        and isinstance(e.details, dict)
        and e.details.get("link") == link.pk
    ]
    return bool(attempts) and attempts[-1].action == "link_email_failed"


# --- accounts -------------------------------------------------------------------------------


def user_end_sessions(*, actor: Actor) -> int:
    """End every session of the acting user, on every device and app server, however each was
    opened (sign-in page, admin, password reset). Returns how many were ended."""
    if actor.user is None:
        raise ConsentError("Only a signed-in user can sign out everywhere.")
    with transaction.atomic():
        ended, _ = UserSession.objects.filter(user_id=actor.user.pk).delete()
        audit_append(actor=actor, action="signed_out_everywhere", details={"sessions": ended})
    return ended


def _notify_surgeon(consent: Consent, action: str) -> None:
    # robust: a failure to tell the surgeon never undoes or hides the change it is about.
    transaction.on_commit(lambda: notify.surgeon_event(consent, action), robust=True)


def _email_after_commit(consent: Consent, send, *, action: str, actor: Actor) -> None:
    """Once the change commits, send an email and audit `<action>_emailed` only after the mail
    server took it (`<action>_email_failed` if not; nothing if there was nobody to send to),
    as link emails are. robust: a failed email never undoes the change it is about."""

    def run() -> None:
        sent = send(consent)
        if sent is None:
            return
        audit_append(
            actor=actor,
            action=f"{action}_emailed" if sent else f"{action}_email_failed",
            consent=consent,
        )

    transaction.on_commit(run, robust=True)


def _lock(consent: Consent) -> Consent:
    """Re-read the consent under a row lock, so that two requests never change it at once."""
    return Consent.objects.select_for_update().get(pk=consent.pk)


# Every status change there is, and the one service that makes each. Nothing else changes a
# status: _set_status refuses any move that is not in this table.
TRANSITIONS: dict[tuple[str, str], str] = {
    (ConsentStatus.ISSUED, ConsentStatus.IN_REVIEW): "link_verify_identity",
    (ConsentStatus.ISSUED, ConsentStatus.REVOKED): "consent_revoke",
    (ConsentStatus.IN_REVIEW, ConsentStatus.REVOKED): "consent_revoke",
    (ConsentStatus.ISSUED, ConsentStatus.EXPIRED): "consent_expire",
    (ConsentStatus.IN_REVIEW, ConsentStatus.EXPIRED): "consent_expire",
    (ConsentStatus.IN_REVIEW, ConsentStatus.SIGNED): "consent_sign",
    (ConsentStatus.IN_REVIEW, ConsentStatus.WITHDRAWN): "consent_withdraw",
    (ConsentStatus.SIGNED, ConsentStatus.WITHDRAWN): "consent_withdraw",
}


def allowed_from(status: str) -> set[str]:
    """The statuses a consent in `status` may move to."""
    return {to for (frm, to) in TRANSITIONS if frm == status}


def _set_status(consent: Consent, status: str, **fields) -> None:
    if (consent.status, status) not in TRANSITIONS:
        raise ConsentError(
            f"A consent cannot go from {consent.get_status_display().lower()} to "
            f"{ConsentStatus(status).label.lower()}."
        )
    consent.status = status
    consent.updated_at = timezone.now()
    for key, value in fields.items():
        setattr(consent, key, value)
    consent.save(update_fields=["status", "updated_at", *fields])


def _touch(consent: Consent) -> None:
    """Mark a change within the same status (a tick, a question, an answer)."""
    consent.updated_at = timezone.now()
    consent.save(update_fields=["updated_at"])


def reissue_refusal(consent: Consent) -> str | None:
    """Why no new link can be made for this consent now, in plain words; None if it can."""
    if consent.status not in REISSUABLE_STATES:
        return f"A new link cannot be made: this consent is {consent.get_status_display().lower()}."
    if consent.planned_date < timezone.localdate():
        return "A new link cannot be made: the planned date has passed."
    return None


def consent_reissue_link(*, consent: Consent, actor: Actor) -> IssuedLink:
    """Give the patient a new link; the old one stops working at once. Only for a consent the
    patient can still sign (views ask the surgeon to confirm first)."""
    _require_manager(consent, actor, "make a new link")
    with transaction.atomic():
        consent = _lock(consent)
        if refusal := reissue_refusal(consent):
            raise ConsentError(refusal)
        ended = _end_live_link(consent=consent, reason=LinkEndReason.REISSUED)
        return _create_link(consent=consent, actor=actor, replaces=ended)


def consent_revoke(*, consent: Consent, actor: Actor, reason: str) -> Consent:
    """The surgeon's team cancels a consent that the patient has not signed."""
    _require_manager(consent, actor, "revoke it")
    reason = reason.strip()
    if not reason:
        raise ConsentError("Give a reason for revoking this consent.")
    with transaction.atomic():
        consent = _lock(consent)
        if consent.status == ConsentStatus.SIGNED:
            raise ConsentError(
                "A signed consent cannot be revoked. The patient can withdraw it instead."
            )
        if consent.status not in OPEN_STATES:
            raise ConsentError(
                f"This consent cannot be revoked: it is {consent.get_status_display().lower()}."
            )
        ended = _end_live_link(consent=consent, reason=LinkEndReason.REVOKED)
        _set_status(consent, ConsentStatus.REVOKED, closed_at=timezone.now(), close_reason=reason)
        audit_append(
            actor=actor,
            action="consent_revoked",
            consent=consent,
            details={"reason": reason, "links_ended": ended},
        )
    return consent


PATIENT_NAME_MAX_LENGTH = 200


def consent_correct_patient_name(*, consent: Consent, full_name: str, actor: Actor) -> Consent:
    """The issuing surgeon corrects the patient's name (a typo, a missing name) before the
    patient signs. The audit event keeps the old and the new name, and the new record that
    signing and audit_verify check the consent against from then on."""
    _require_manager(consent, actor, "correct the patient's name")
    full_name = " ".join(stored_text(full_name, PATIENT_NAME_MAX_LENGTH + 1).split())
    if not full_name:
        raise ConsentError("Enter the patient's full name.")
    if problem := name_problem(full_name):
        raise ConsentError(problem)
    if len(full_name) > PATIENT_NAME_MAX_LENGTH:
        raise ConsentError(
            f"The patient's name can have at most {PATIENT_NAME_MAX_LENGTH} characters."
        )
    with transaction.atomic():
        consent = _lock(consent)
        if consent.status == ConsentStatus.SIGNED or consent.signed_at is not None:
            raise ConsentError("The patient has signed this consent, so their name cannot change.")
        if consent.status not in OPEN_STATES:
            raise ConsentError(
                "The patient's name cannot be changed: this consent is "
                f"{consent.get_status_display().lower()}."
            )
        patient = Patient.objects.select_for_update().get(pk=consent.patient_id)
        if patient.consents.exclude(pk=consent.pk).exists():
            # Never the case for a consent issued here (each has its own patient row).
            raise ConsentError(
                "This patient record belongs to more than one consent, so it cannot be "
                "corrected here."
            )
        old = patient.full_name
        if full_name == old:
            raise ConsentError("That is already the patient's name on this consent.")
        # The new record is the logged one with the name changed, never a copy of the rows:
        # a correction must not make a change made behind the app's back the trusted record.
        issued = (
            consent.audit_events.filter(action="consent_issued")
            .values_list("details", flat=True)
            .first()
        ) or {}
        logged = _latest_record(consent, issued)
        if logged is not None and logged != issued_record(consent):
            logger.error("Consent %s differs from what was logged when it was issued", consent.pk)
            raise ConsentError(
                "This consent's details changed after it was issued, so the name cannot be "
                "corrected. Run verify_audit, and issue a new consent."
            )
        patient.full_name = full_name
        patient.save(update_fields=["full_name"])
        consent.patient = patient
        # A signature being made right now sees the change and stops (_check_claim_still_good).
        _touch(consent)
        audit_append(
            actor=actor,
            action="patient_name_corrected",
            consent=consent,
            details={
                "old": old,
                "new": full_name,
                "record": {**(logged or issued_record(consent)), "patient_name": full_name},
            },
        )
    return consent


def consent_expire(*, consent: Consent, actor: Actor | None = None) -> Consent:
    """Close an unsigned consent whose planned date has passed."""
    with transaction.atomic():
        consent = _lock(consent)
        if consent.status not in OPEN_STATES:
            raise ConsentError(
                f"Only an unsigned consent can expire, not one that is {consent.status}."
            )
        if consent.planned_date >= timezone.localdate():
            raise ConsentError("This consent's planned date has not passed yet.")
        _set_status(consent, ConsentStatus.EXPIRED, closed_at=timezone.now())
        audit_append(actor=actor or Actor.system(), action="consent_expired", consent=consent)
    return consent


# --- the patient's link ---------------------------------------------------------------------


class LinkState(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REISSUED = "reissued"
    REVOKED = "revoked"
    LOCKED = "locked"
    CLOSED = "closed"  # the consent itself expired


def link_find(token: str) -> PatientLink | None:
    return (
        PatientLink.objects.select_related("consent", "consent__patient")
        .filter(token_hash=PatientLink.hash_token(token))
        .first()
    )


def link_state(link: PatientLink | None) -> LinkState:
    if link is None:
        return LinkState.UNKNOWN
    if link.end_reason == LinkEndReason.REISSUED:
        return LinkState.REISSUED
    if link.end_reason == LinkEndReason.REVOKED or link.consent.status == ConsentStatus.REVOKED:
        return LinkState.REVOKED
    if link.consent.status == ConsentStatus.EXPIRED:
        return LinkState.CLOSED
    if link.locked_at is not None:
        return LinkState.LOCKED
    if link.is_expired():
        return LinkState.EXPIRED
    return LinkState.OK


@dataclass(frozen=True)
class IdentityResult:
    state: LinkState
    confirmed: bool = False
    attempts_left: int = 0


def link_verify_identity(
    *, link: PatientLink, date_of_birth: datetime.date, actor: Actor
) -> IdentityResult:
    """Check the patient's date of birth against the consent's patient.

    Wrong answers are counted in the database; the link locks after IDENTITY_MAX_ATTEMPTS.
    A right answer opens the consent for review (issued -> in review) the first time.
    """
    max_attempts = settings.IDENTITY_MAX_ATTEMPTS
    with transaction.atomic():
        # Locks in the order every service takes them, the consent before its link, so that
        # this never deadlocks with a revoke or a reissue.
        _lock(link.consent)
        link = (
            PatientLink.objects.select_for_update(of=("self",))
            .select_related("consent__patient")
            .get(pk=link.pk)
        )
        state = link_state(link)
        if state != LinkState.OK:
            return IdentityResult(state=state)
        consent = link.consent
        if consent.is_open and consent.planned_date < timezone.localdate():
            consent_expire(consent=consent)
            return IdentityResult(state=LinkState.CLOSED)

        if date_of_birth != consent.patient.date_of_birth:
            link.failed_attempts += 1
            locked = link.failed_attempts >= max_attempts
            if locked:
                link.locked_at = timezone.now()
            link.save(update_fields=["failed_attempts", "locked_at"])
            audit_append(
                actor=actor,
                action="identity_failed",
                consent=consent,
                details={"link": link.pk, "attempt": link.failed_attempts},
            )
            if locked:
                audit_append(
                    actor=actor, action="link_locked", consent=consent, details={"link": link.pk}
                )
                # The surgeon's team learns of it now, not when the patient calls.
                _email_after_commit(
                    consent, notify.link_locked, action="lock", actor=Actor.system()
                )
                return IdentityResult(state=LinkState.LOCKED)
            return IdentityResult(
                state=LinkState.OK, attempts_left=max_attempts - link.failed_attempts
            )

        if link.failed_attempts:
            link.failed_attempts = 0
            link.save(update_fields=["failed_attempts"])
        audit_append(
            actor=actor, action="identity_confirmed", consent=consent, details={"link": link.pk}
        )
        if consent.status == ConsentStatus.ISSUED:
            consent = _lock(consent)
            _set_status(consent, ConsentStatus.IN_REVIEW, opened_at=timezone.now())
            audit_append(actor=actor, action="consent_opened", consent=consent)
    return IdentityResult(state=LinkState.OK, confirmed=True)


# --- the patient's review -------------------------------------------------------------------


def _require_in_review(consent: Consent) -> None:
    if consent.status != ConsentStatus.IN_REVIEW:
        raise ConsentError(
            f"This consent can no longer be changed: it is {consent.get_status_display().lower()}."
        )


def consent_acknowledge_item(
    *, consent: Consent, item_id: int, acknowledged: bool, actor: Actor
) -> ConsentItemSnapshot:
    """Record (or take back) the patient's "I have read and understood this" for one risk."""
    with transaction.atomic():
        consent = _lock(consent)
        _require_in_review(consent)
        item = consent.items.filter(pk=item_id).first()
        if item is None:
            raise ConsentError("That risk is not part of this consent.")
        if item.not_applicable:
            raise ConsentError("That risk does not apply to you, so it needs no tick.")
        _set_acknowledgment(consent, item, acknowledged, actor)
    return item


def consent_set_acknowledgments(*, consent: Consent, ticks: dict[int, bool], actor: Actor) -> None:
    """Save the ticks of a whole form at once (the page without JavaScript): one lock, and a
    write and an audit event only for the risks whose tick changed. Unknown ids are ignored."""
    with transaction.atomic():
        consent = _lock(consent)
        _require_in_review(consent)
        for item in consent.items.filter(pk__in=ticks, not_applicable=False):
            _set_acknowledgment(consent, item, ticks[item.pk], actor)


def _set_acknowledgment(
    consent: Consent, item: ConsentItemSnapshot, acknowledged: bool, actor: Actor
) -> None:
    if acknowledged == (item.acknowledged_at is not None):
        return  # already so: keep the time of the first tick
    item.acknowledged_at = timezone.now() if acknowledged else None
    item.save(update_fields=["acknowledged_at"])
    _touch(consent)
    audit_append(
        actor=actor,
        action="item_acknowledged" if acknowledged else "item_unacknowledged",
        consent=consent,
        details={"item": item.pk, "order": item.order, "title": item.title},
    )


def unacknowledged_items(consent: Consent, items=None) -> list[ConsentItemSnapshot]:
    items = consent.items.all() if items is None else items
    return [item for item in items if item.needs_acknowledgment and item.acknowledged_at is None]


# --- questions ------------------------------------------------------------------------------

QUESTION_MAX_LENGTH = 1000
ANSWER_MAX_LENGTH = 2000


def _plain_text(text: str, *, what: str, max_length: int) -> str:
    text = printable_text(text).strip()
    if not text:
        raise ConsentError(f"Please write your {what}.")
    if len(text) > max_length:
        raise ConsentError(
            f"Your {what} is {len(text)} characters long. Please keep it under {max_length}."
        )
    return text


def consent_ask_question(*, consent: Consent, item_id: int, text: str, actor: Actor) -> Question:
    """The patient asks about one risk. Signing waits until it is answered."""
    text = _plain_text(text, what="question", max_length=QUESTION_MAX_LENGTH)
    with transaction.atomic():
        consent = _lock(consent)
        _require_in_review(consent)
        item = consent.items.filter(pk=item_id).first()
        if item is None:
            raise ConsentError("That risk is not part of this consent.")
        question = Question.objects.create(consent=consent, item=item, text=text)
        _touch(consent)
        audit_append(
            actor=actor,
            action="question_asked",
            consent=consent,
            details={"question": question.pk, "item": item.pk, "title": item.title, "text": text},
        )
        _notify_surgeon(consent, "question_asked")
    return question


def consent_answer_question(
    *, consent: Consent, question_id: int, text: str, actor: Actor
) -> Question:
    """The surgeon's team answers a question. Callers check that the user may see the consent."""
    text = _plain_text(text, what="answer", max_length=ANSWER_MAX_LENGTH)
    if (
        actor.user is None
        or not Consent.objects.for_surgeon(actor.user).filter(pk=consent.pk).exists()
    ):
        raise ConsentError("Only the surgeon's team can answer this consent's questions.")
    with transaction.atomic():
        consent = _lock(consent)
        if consent.status != ConsentStatus.IN_REVIEW:
            raise ConsentError(
                f"Questions cannot be answered: this consent is {consent.get_status_display().lower()}."
            )
        question = consent.questions.select_for_update().filter(pk=question_id).first()
        if question is None:
            raise ConsentError("That question is not part of this consent.")
        if question.is_answered:
            raise ConsentError("That question has already been answered.")
        question.answer = text
        question.answered_by = actor.user
        question.answered_at = timezone.now()
        question.save(update_fields=["answer", "answered_by", "answered_at"])
        _touch(consent)
        audit_append(
            actor=actor,
            action="question_answered",
            consent=consent,
            details={"question": question.pk, "text": text},
        )
        if consent.patient.email and not _waiting_for_surgeon(consent):
            # The patient waits for every answer before signing: one email, when the last comes.
            _email_after_commit(consent, notify.patient_answer_ready, action="answer", actor=actor)
    return question


# --- signing and withdrawal -----------------------------------------------------------------


def _waiting_for_surgeon(consent: Consent) -> bool:
    """Signing waits for the surgeon's team: an unanswered question, or what matters to the
    patient without a response."""
    return (
        consent.questions.filter(answered_at__isnull=True).exists()
        or Priorities.objects.filter(consent=consent, responded_at__isnull=True).exists()
    )


def consent_statement(consent: Consent) -> str:
    """The words the patient agrees to: the meaning of their signature."""
    return (
        f"I consent to {consent.procedure_name}. I have read and understood the risks above "
        "and my questions have been answered."
    )


NAME_MISMATCH_MESSAGE = (
    "The name you typed does not match the name on this consent. Type your first and "
    "last name as they are shown at the top of this page. You can leave out middle "
    "names. If the name shown is wrong, ask your surgeon's team to correct it."
)


class SigningInProgress(ConsentError):
    """Another request is making this consent's signature right now."""


def consent_sign(
    *,
    consent: Consent,
    typed_name: str,
    statement_accepted: bool,
    drawn_png: bytes | None,
    actor: Actor,
) -> Signature:
    """The patient signs. Exactly one signature per consent, whatever races with it, and no
    lock held while the PDF is rendered and sealed, so no other patient ever waits for it.

    1. A short transaction with the consent row locked: every check, then a signing claim, so
       that a second request (a double click, another tab) is told to wait instead of
       rendering a second PDF.
    2. No lock, no transaction: render, seal and store the PDF of exactly what will be stored,
       with the audit chain's current checkpoint in it.
    3. A short transaction with the consent row locked: if nothing changed since step 1 (same
       claim, same updated_at: no tick, question, withdrawal or revocation meanwhile), write
       the status, the signature, the document and their audit events together. Otherwise the
       stored file is deleted and the patient is asked to look again.
    A process killed at any point leaves either no signature or all of it (step 3 is one
    transaction); at worst an unreferenced file and a claim that lapses after
    SIGNING_CLAIM_SECONDS.
    """
    if not statement_accepted:
        raise ConsentError("Please tick the box to confirm that you consent.")
    image = None
    if drawn_png is not None:
        try:
            image = check_png(drawn_png)
        except SignatureImageError as exc:
            raise ConsentError(str(exc)) from None

    consent, claim = _claim_signing(consent=consent, typed_name=typed_name)
    now = timezone.now()
    signature = Signature(
        consent=consent,
        role=SignatureRole.PATIENT,
        typed_name=" ".join(typed_name.split()),
        method=SignatureMethod.DRAWN if image else SignatureMethod.TYPED,
        image_png=image.png if image else None,
        image_sha256=image.sha256 if image else "",
        statement=consent_statement(consent),
        signed_at=now,
        ip_address=stored_ip(actor.ip_address),
        user_agent=stored_text(actor.user_agent, 500),
    )
    stored_name = None
    written = False  # once True, the file belongs to a committed (or committing) document
    try:
        checkpoint = audit_checkpoint()
        code = documents.unused_verification_code()
        sealed = documents.render_sealed(
            consent, signature=signature, verification_code=code, checkpoint=checkpoint
        )
        stored_name = documents.store_file(consent, sealed)
        with transaction.atomic():
            locked = (
                Consent.objects.select_for_update().select_related("patient").get(pk=consent.pk)
            )
            _check_claim_still_good(locked, claim)
            _set_status(locked, ConsentStatus.SIGNED, signed_at=now)
            signature.consent = locked
            signature.save(force_insert=True)
            document = SignedDocument.objects.create(
                consent=locked,
                file=stored_name,
                sha256=hashlib.sha256(sealed).hexdigest(),
                size=len(sealed),
                verification_code=code,
                checkpoint_sequence=checkpoint.sequence,
                checkpoint_hash=checkpoint.hash,
            )
            SigningClaim.objects.filter(pk=claim.pk).delete()
            audit_append(
                actor=actor,
                action="consent_signed",
                consent=locked,
                details={
                    "signature": signature.pk,
                    "method": signature.method,
                    "typed_name": signature.typed_name,
                    "image_sha256": signature.image_sha256,
                    "content_sha256": locked.content_sha256,
                    "record": signed_record(locked, signature, locked.items.all()),
                },
            )
            audit_append(
                actor=Actor.system(),
                action="document_sealed",
                consent=locked,
                details={
                    "sha256": document.sha256,
                    "size": document.size,
                    "checkpoint": str(checkpoint),
                },
            )
            written = True
    except BaseException as exc:
        # Only a file that no document row can point to is deleted. If the final commit itself
        # failed, the database says whether the document row is there.
        if written and not _document_committed(stored_name):
            written = False
        if stored_name is not None and not written:
            documents.delete_file(stored_name)
        if not written:
            SigningClaim.objects.filter(pk=claim.pk).delete()
        if isinstance(exc, DocumentError):
            logger.error("Signed document for consent %s could not be made: %s", consent.pk, exc)
            raise ConsentError(
                "We could not create your signed document just now, so nothing was signed. "
                "Your ticks and answers are saved. Please try again in a few minutes."
            ) from exc
        raise
    _notify_surgeon(locked, "consent_signed")
    log_checkpoint()
    return signature


def _document_committed(stored_name: str | None) -> bool:
    """After a failure at the very end of signing: is the document row in the database? If the
    database cannot tell us now, assume it is, and keep the file (a lapsed claim and an
    unreferenced file are harmless; a deleted signed PDF is not)."""
    try:
        return SignedDocument.objects.filter(file=stored_name).exists()
    except Exception:
        logger.exception("Could not tell whether the signed document %s was saved", stored_name)
        return True


@dataclass(frozen=True)
class _Claim:
    pk: int
    token: str
    consent_updated_at: datetime.datetime


def _claim_signing(*, consent: Consent, typed_name: str) -> tuple[Consent, _Claim]:
    """Step 1 of signing: check everything under the consent's row lock and claim it."""
    with transaction.atomic():
        consent = Consent.objects.select_for_update().select_related("patient").get(pk=consent.pk)
        if consent.status == ConsentStatus.SIGNED:
            raise ConsentError("This consent has already been signed.")
        _require_in_review(consent)
        _check_ready_to_sign(consent, typed_name)
        now = timezone.now()
        claim = SigningClaim.objects.filter(consent=consent).first()
        if claim is not None:
            age = (now - claim.started_at).total_seconds()
            if age < settings.SIGNING_CLAIM_SECONDS:
                raise SigningInProgress(
                    "Your signature is being saved from another window or tab. "
                    "Wait a few seconds, then reload this page."
                )
            claim.delete()  # its worker died mid-signing; the claim has lapsed
        row = SigningClaim.objects.create(
            consent=consent, token=secrets.token_hex(16), started_at=now
        )
    return consent, _Claim(row.pk, row.token, consent.updated_at)


def _check_ready_to_sign(consent: Consent, typed_name: str) -> None:
    issued = (
        consent.audit_events.filter(action="consent_issued")
        .values_list("details", flat=True)
        .first()
    ) or {}
    content = consent.compute_content_sha256()
    record = _latest_record(consent, issued)
    if (
        content != consent.content_sha256
        or issued.get("content_sha256", content) != content
        or (record is not None and record != issued_record(consent))
        or issued.get("predicted_reading_seconds", consent.predicted_reading_seconds)
        != consent.predicted_reading_seconds
    ):
        logger.error("Consent %s differs from what was logged when it was issued", consent.pk)
        raise ConsentError(
            "This consent cannot be signed: its wording or details changed after it was "
            "issued. Please contact your surgeon's team."
        )
    if consent.planned_date < timezone.localdate():
        raise ConsentError("This consent can no longer be signed: the planned date has passed.")
    missing = unacknowledged_items(consent)
    if missing:
        raise ConsentError(
            "Please tick every risk before you sign. Not yet ticked: "
            + ", ".join(item.title for item in missing)
            + "."
        )
    if consent.questions.filter(answered_at__isnull=True).exists():
        raise ConsentError(
            "You have a question that the surgeon's team has not answered yet. "
            "You can sign once it is answered."
        )
    if Priorities.objects.filter(consent=consent, responded_at__isnull=True).exists():
        raise ConsentError(
            "Your surgeon's team has not yet responded to what matters to you. "
            "You can sign once they have."
        )
    if consent.checks.filter(passed_at__isnull=True).exists():
        raise ConsentError(
            "Please answer the questions that check your understanding before you sign."
        )
    if not names_match(typed_name, consent.patient.full_name):
        raise ConsentError(NAME_MISMATCH_MESSAGE)


def _latest_record(consent: Consent, issued: dict) -> dict | None:
    """Whose consent it is, as the log last recorded it: at issue, or at the latest name
    correction (audit_verify reads them the same way, in audit._collect)."""
    corrected = (
        consent.audit_events.filter(action="patient_name_corrected")
        .order_by("-sequence")
        .values_list("details", flat=True)
        .first()
    )
    if isinstance(corrected, dict) and isinstance(corrected.get("record"), dict):
        return corrected["record"]
    return issued.get("record")


def _check_claim_still_good(consent: Consent, claim: _Claim) -> None:
    """Step 3 of signing: the consent is still exactly as it was checked in step 1."""
    if consent.status == ConsentStatus.SIGNED:
        raise ConsentError("This consent has already been signed.")
    if not SigningClaim.objects.filter(pk=claim.pk, token=claim.token).exists():
        raise SigningInProgress(
            "Your signature took too long to save and another attempt took over. "
            "Reload this page to see where things stand."
        )
    if consent.status != ConsentStatus.IN_REVIEW or consent.updated_at != claim.consent_updated_at:
        raise ConsentError(
            "Something changed while your signature was being saved (a tick, a question or "
            "the consent itself), so nothing was signed. Please check the page and sign again."
        )
    if consent.planned_date < timezone.localdate():
        raise ConsentError("This consent can no longer be signed: the planned date has passed.")


def document_download(*, consent: Consent, actor: Actor) -> tuple[bytes, str]:
    """The stored bytes of the signed PDF and a meaningful file name; audited."""
    document = SignedDocument.objects.filter(consent=consent).first()
    if document is None:
        raise ConsentError("This consent has no signed document.")
    data = read_document(document)
    surname = (consent.patient.full_name.split() or ["patient"])[-1]
    filename = (
        f"consent-{consent.procedure_slug}-{slugify(surname)}-"
        f"{timezone.localtime(consent.signed_at):%Y-%m-%d}.pdf"
    )
    audit_append(
        actor=actor,
        action="document_downloaded",
        consent=consent,
        details={"sha256": document.sha256},
    )
    return data, filename


def consent_withdraw(
    *, consent: Consent, reason: str, actor: Actor, recorded_by_team: bool = False
) -> Consent:
    """The patient withdraws, before or after signing, up to the planned date.

    A signed consent keeps its signature and its document; it is marked withdrawn. A patient
    who tells the team (by phone, in clinic) is recorded by the issuing surgeon with
    recorded_by_team: the audit event then names the surgeon as the one who recorded it.
    """
    reason = reason.strip()
    if recorded_by_team:
        _require_manager(consent, actor, "record a withdrawal")
        if not reason:
            raise ConsentError("Say how the patient told you, and why they are withdrawing.")
    if len(reason) > QUESTION_MAX_LENGTH:
        raise ConsentError(f"Please keep the reason under {QUESTION_MAX_LENGTH} characters.")
    with transaction.atomic():
        consent = _lock(consent)
        if consent.status not in (ConsentStatus.IN_REVIEW, ConsentStatus.SIGNED):
            raise ConsentError(
                f"This consent cannot be withdrawn: it is {consent.get_status_display().lower()}."
            )
        if recorded_by_team and consent.status != ConsentStatus.SIGNED:
            raise ConsentError("Before the patient signs, revoke the consent instead.")
        if consent.planned_date < timezone.localdate():
            raise ConsentError(
                "The planned date of your operation has passed, so this consent can no longer be "
                "withdrawn here. Please contact your surgeon's team."
            )
        was = consent.status
        _set_status(consent, ConsentStatus.WITHDRAWN, closed_at=timezone.now(), close_reason=reason)
        audit_append(
            actor=actor,
            action="consent_withdrawn",
            consent=consent,
            details={"reason": reason, "was": was, "recorded_by_team": recorded_by_team},
        )
        _notify_surgeon(consent, "consent_withdrawn")
    return consent
