"""The consent lifecycle: patients, consents, frozen items, patient links, audit events.

State changes happen only in consent/services.py; nothing here changes a status by itself.
"""

import datetime
import hashlib
import json

from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models import Count, Exists, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from procedures.models import Section, Severity, rate_content


class Team(models.Model):
    """Surgeons who share consents: colleagues can view them and answer questions."""

    name = models.CharField(max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="consent_teams", blank=True
    )
    # How the team's patients reach it; empty: the hospital's (HOSPITAL_PHONE, HOSPITAL_EMAIL).
    phone = models.CharField(
        max_length=40,
        blank=True,
        help_text="Shown to this team's patients. Empty: the hospital's number is shown.",
    )
    email = models.EmailField(
        blank=True,
        help_text="Shown to this team's patients. Empty: the hospital's address is shown.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Patient(models.Model):
    full_name = models.CharField(max_length=200)
    date_of_birth = models.DateField()
    hospital_number = models.CharField(
        "hospital number (MRN)", max_length=50, blank=True, db_index=True
    )
    email = models.EmailField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["full_name"]

    def __str__(self) -> str:
        return self.full_name


class ConsentStatus(models.TextChoices):
    ISSUED = "issued", "Issued"
    IN_REVIEW = "in_review", "In review"
    SIGNED = "signed", "Signed"
    WITHDRAWN = "withdrawn", "Withdrawn"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


# States in which the patient may still read, tick and sign.
OPEN_STATES = (ConsentStatus.ISSUED, ConsentStatus.IN_REVIEW)
# States in which the patient may be sent a new link: only while there is something to read
# and sign. A signed consent's link stays as it was (the patient may withdraw with it).
REISSUABLE_STATES = OPEN_STATES


class ConsentQuerySet(models.QuerySet):
    def for_surgeon(self, user) -> "ConsentQuerySet":
        """Consents a signed-in user may see: their own, and those shared with their teams."""
        if user.has_perm("consent.view_all_consents"):
            return self
        return self.filter(Q(surgeon=user) | Q(team__in=Team.objects.filter(members=user)))

    def open(self) -> "ConsentQuerySet":
        return self.filter(status__in=OPEN_STATES)

    def signed(self) -> "ConsentQuerySet":
        return self.filter(status=ConsentStatus.SIGNED)

    def waiting_for_answer(self) -> "ConsentQuerySet":
        """Consents with a patient's question that nobody has answered yet, or what matters to
        the patient without a response: signing waits for either."""
        return self.filter(Q(Exists(_open_questions())) | Q(Exists(_open_priorities())))

    def with_informed(self) -> "ConsentQuerySet":
        """Annotate, with one subquery each whatever the number of rows: reading_seconds (the
        overview's time and each risk's time on screen), needed_help (checks answered wrong at
        the first try) and priorities_waiting (what matters to the patient, no response)."""
        risk_seconds = (
            ConsentItemSnapshot.objects.filter(consent=OuterRef("pk"), not_applicable=False)
            .order_by()
            .values("consent")
            .annotate(total=Sum("seconds_on_screen"))
            .values("total")
        )
        overview = StepTime.objects.filter(consent=OuterRef("pk"), step="overview").values(
            "seconds"
        )
        wrong_first = (
            CheckAttempt.objects.filter(consent=OuterRef("pk"), number=1, correct=False)
            .order_by()
            .values("consent")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return self.annotate(
            reading_seconds=Coalesce(Subquery(risk_seconds[:1]), 0)
            + Coalesce(Subquery(overview[:1]), 0),
            needed_help=Coalesce(Subquery(wrong_first[:1]), 0),
            priorities_waiting=Exists(_open_priorities()),
        )

    def with_link_locked(self) -> "ConsentQuerySet":
        """Annotate link_locked: the live link locked itself after wrong dates of birth. One
        subquery, whatever the number of rows; shown as "Locked", not a status of its own."""
        locked = PatientLink.objects.filter(
            consent=OuterRef("pk"), ended_at__isnull=True, locked_at__isnull=False
        )
        return self.annotate(link_locked=Exists(locked))

    def with_open_question_count(self) -> "ConsentQuerySet":
        """Annotate open_question_count with one subquery, whatever the number of rows."""
        count = _open_questions().order_by().values("consent").annotate(n=Count("pk")).values("n")
        return self.annotate(open_question_count=Coalesce(Subquery(count[:1]), 0))

    def search(self, text: str) -> "ConsentQuerySet":
        """By part of the patient's name, or their exact hospital number."""
        return self.filter(
            Q(patient__full_name__icontains=text) | Q(patient__hospital_number__iexact=text)
        )

    def status_counts(self) -> dict[str, int]:
        """In one query: how many per status, waiting for an answer, and signed this week."""
        week_ago = timezone.now() - datetime.timedelta(days=7)
        return self.aggregate(
            waiting=Count(
                "pk", filter=Q(Exists(_open_questions())) | Q(Exists(_open_priorities()))
            ),
            signed_this_week=Count(
                "pk", filter=Q(status=ConsentStatus.SIGNED, signed_at__gte=week_ago)
            ),
            **{status.value: Count("pk", filter=Q(status=status)) for status in ConsentStatus},
        )


def _open_questions() -> models.QuerySet:
    return Question.objects.filter(consent=OuterRef("pk"), answered_at__isnull=True)


def _open_priorities() -> models.QuerySet:
    return Priorities.objects.filter(consent=OuterRef("pk"), responded_at__isnull=True)


class Consent(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="consents")
    # The library procedure it was issued from; the wording shown lives in the frozen fields,
    # so editing or deleting the procedure never changes this consent.
    procedure = models.ForeignKey(
        "procedures.Procedure", on_delete=models.SET_NULL, null=True, related_name="consents"
    )
    surgeon = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consents_issued"
    )
    planned_date = models.DateField("planned date of surgery")
    team = models.ForeignKey(
        Team,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="consents",
        help_text="Colleagues in this team can view the consent and answer questions.",
    )
    email_patient = models.BooleanField(
        default=False, help_text="Send the patient's link to their email address."
    )
    status = models.CharField(
        max_length=20, choices=ConsentStatus.choices, default=ConsentStatus.ISSUED
    )

    # Frozen at issue: the procedure's wording as the patient will read it.
    procedure_name = models.CharField(max_length=200)
    procedure_site = models.CharField(max_length=100)
    procedure_slug = models.CharField(max_length=100)
    procedure_revision = models.PositiveIntegerField()
    procedure_text = models.JSONField(help_text="summary, what_happens, benefits, ...")
    content_sha256 = models.CharField(max_length=64)
    # Frozen at issue with the wording: how long reading it takes at 200 words a minute.
    predicted_reading_seconds = models.PositiveIntegerField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    opened_at = models.DateTimeField(null=True, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    # Set when the consent leaves the open states: revoked, expired or withdrawn. A withdrawn
    # consent that was signed keeps its signature and signed_at.
    closed_at = models.DateTimeField(null=True, blank=True)
    close_reason = models.TextField(blank=True)

    objects = ConsentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("view_all_consents", "Can see every surgeon's consents"),
            ("manage_all_consents", "Can revoke and reissue any surgeon's consents"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ConsentStatus.values), name="consent_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=ConsentStatus.SIGNED) | Q(signed_at__isnull=False),
                name="consent_signed_has_time",
            ),
        ]
        indexes = [
            # The surgeon's dashboard: their consents by planned date, filtered by status.
            models.Index(fields=["surgeon", "status", "planned_date"], name="consent_dashboard"),
        ]

    def __str__(self) -> str:
        return f"{self.procedure_name} for {self.patient}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES

    @property
    def read_quickly(self) -> bool:
        """Read in under half the predicted time (needs with_informed()'s reading_seconds)."""
        predicted = self.predicted_reading_seconds
        seconds = getattr(self, "reading_seconds", None)
        return bool(predicted) and seconds is not None and seconds * 2 < predicted

    def can_manage(self, user) -> bool:
        """Revoke, reissue and name corrections belong to the issuing surgeon (colleagues view
        and answer)."""
        return self.surgeon_id == user.pk or user.has_perm("consent.manage_all_consents")

    def text_sections(self) -> list[tuple[str, str]]:
        """The frozen procedure text, titled and in reading order."""
        return [(title, self.procedure_text.get(key, "")) for key, title in SECTION_TITLES]

    def frozen_content(self, items, checks=()) -> dict:
        items = sorted(items, key=lambda i: i.order)
        titles = {item.pk: item.title for item in items}
        content = {
            "procedure": {
                "slug": self.procedure_slug,
                "name": self.procedure_name,
                "site": self.procedure_site,
                "revision": self.procedure_revision,
                **self.procedure_text,
            },
            "items": [item.frozen_content() for item in items],
        }
        if checks:  # only then: a consent issued before checks existed keeps its fingerprint
            content["understanding_checks"] = [
                check.frozen_content(titles) for check in sorted(checks, key=lambda c: c.order)
            ]
        return content

    def compute_content_sha256(self, items=None, checks=None) -> str:
        items = self.items.all() if items is None else items
        checks = self.checks.all() if checks is None else checks
        content = self.frozen_content(items, checks)
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


SECTION_TITLES = [
    ("summary", "What the operation is"),
    ("what_happens", "What happens during the operation"),
    ("benefits", "How it may help you"),
    ("alternatives", "Other treatments"),
    ("no_surgery", "If you decide not to have the operation"),
    ("recovery", "Recovery"),
]


class ReadingMeasure(models.TextChoices):
    SCREEN = "screen", "Time on screen, measured by the page"
    PAGE = "page", "The page's time, shared among the risks ticked together (no script)"


class ItemOrigin(models.TextChoices):
    LIBRARY = "library", "From the procedure library"
    PATIENT_SPECIFIC = "patient", "Specific to this patient"


class ConsentItemSnapshot(models.Model):
    """One risk as frozen into a consent, with the patient's acknowledgment."""

    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="items")
    # The library risk this was copied from. A plain id, not a foreign key: the library may be
    # edited or pruned later, and a frozen row must never be touched by that.
    source_item_id = models.PositiveBigIntegerField(null=True, blank=True)
    origin = models.CharField(max_length=10, choices=ItemOrigin.choices)
    title = models.CharField(max_length=200)
    explanation = models.TextField()
    severity = models.CharField(max_length=20, choices=Severity.choices)
    frequency = models.CharField(max_length=100, blank=True)
    order = models.PositiveSmallIntegerField()
    required = models.BooleanField(default=True)
    not_applicable = models.BooleanField(default=False)
    not_applicable_reason = models.TextField(blank=True)
    # The frequency as a number, frozen from the library (see procedures.models.ConsentItem).
    one_in = models.PositiveIntegerField(null=True, blank=True)
    per_1000 = models.DecimalField(max_digits=7, decimal_places=3, null=True, blank=True)
    rate_source = models.CharField(max_length=300, blank=True, db_default="")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # Seconds the risk was on the patient's screen (the page's script: at least half of it in
    # view, the tab visible), or without the script the page's time shared among the risks
    # ticked with it. Kept by the server as a running total, so it survives a reload and
    # another device.
    seconds_on_screen = models.PositiveIntegerField(default=0, db_default=0)
    reading_measured = models.CharField(
        max_length=10, choices=ReadingMeasure.choices, blank=True, default="", db_default=""
    )

    class Meta:
        ordering = ["consent", "order"]
        constraints = [
            models.UniqueConstraint(fields=["consent", "order"], name="consent_item_unique_order"),
            models.CheckConstraint(
                condition=Q(not_applicable=False) | ~Q(not_applicable_reason=""),
                name="consent_item_not_applicable_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(not_applicable=False) | Q(acknowledged_at__isnull=True),
                name="consent_item_not_applicable_not_acknowledged",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def needs_acknowledgment(self) -> bool:
        return self.required and not self.not_applicable

    def frozen_content(self) -> dict:
        rate = (
            {"rate": rate_content(self)}
            if self.one_in is not None or self.per_1000 is not None or self.rate_source
            else {}
        )
        return {
            **rate,
            "origin": self.origin,
            "title": self.title,
            "explanation": self.explanation,
            "severity": self.severity,
            "frequency": self.frequency,
            "order": self.order,
            "required": self.required,
            "not_applicable": self.not_applicable,
            "not_applicable_reason": self.not_applicable_reason,
        }


class LinkEndReason(models.TextChoices):
    REISSUED = "reissued", "A newer link was issued"
    REVOKED = "revoked", "The consent was revoked"


def link_last_day(expires_at: datetime.datetime) -> datetime.date:
    """The last day a link works: it expires at the first moment of the next day."""
    return (timezone.localtime(expires_at) - datetime.timedelta(microseconds=1)).date()


class PatientLink(models.Model):
    """The patient's private link. Only a SHA-256 of the token is stored."""

    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=20, choices=LinkEndReason.choices, blank=True)
    # Wrong dates of birth so far; kept in the database so it holds across processes.
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["consent"],
                condition=Q(ended_at__isnull=True),
                name="consent_one_live_link_per_consent",
            ),
        ]

    def __str__(self) -> str:
        return f"link {self.pk} for consent {self.consent_id}"

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def is_expired(self, now=None) -> bool:
        return (now or timezone.now()) >= self.expires_at

    @property
    def last_day(self) -> datetime.date:
        return link_last_day(self.expires_at)


class ActorType(models.TextChoices):
    SURGEON = "surgeon", "Surgeon or staff"
    PATIENT = "patient", "Patient"
    SYSTEM = "system", "System"


# What each audit action means, in words for the consent timeline and the PDF.
AUDIT_ACTION_LABELS = {
    "consent_issued": "Consent issued by the surgeon",
    "link_issued": "Private link made",
    "link_emailed": "Link emailed to the patient",
    "link_email_failed": "Emailing the link to the patient failed",
    "identity_failed": "Wrong date of birth entered",
    "link_locked": "Link locked after too many wrong dates of birth",
    "lock_emailed": "Surgeon's team emailed that the link locked",
    "lock_email_failed": "Emailing the surgeon's team that the link locked failed",
    "identity_confirmed": "Identity confirmed (date of birth)",
    "consent_opened": "Link opened for review",
    "item_acknowledged": "Risk ticked",
    "item_unacknowledged": "Tick taken back",
    "question_asked": "Question asked",
    "question_answered": "Question answered",
    "answer_emailed": "Patient emailed that their questions are answered",
    "answer_email_failed": "Emailing the patient that their questions are answered failed",
    "check_answered": "Check of understanding answered",
    "priorities_stated": "Patient said what matters to them",
    "priorities_cleared": "Patient took back what matters to them",
    "priorities_responded": "Surgeon's team responded to what matters to the patient",
    "consent_signed": "Signed by the patient",
    "document_sealed": "Signed PDF sealed and stored",
    "document_downloaded": "Signed PDF downloaded",
    "consent_withdrawn": "Withdrawn by the patient",
    "consent_revoked": "Revoked by the surgeon's team",
    "patient_name_corrected": "Patient's name corrected by the surgeon",
    "consent_expired": "Expired: the planned date passed unsigned",
}


class AuditEvent(models.Model):
    """One entry of the append-only audit log, chained by a keyed hash to the one before it.

    Written only by consent.audit.audit_append, which also computes and checks the hash.
    """

    sequence = models.PositiveBigIntegerField(unique=True)
    consent = models.ForeignKey(
        Consent, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=50)
    details = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64, unique=True)
    # HMAC-SHA-256 of prev_hash and the event, keyed with the key named by key_id (see
    # consent/audit.py). Empty key_id: an event written before the chain was keyed.
    hash = models.CharField(max_length=64, unique=True)
    key_id = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["sequence"]
        indexes = [
            # A consent's timeline, oldest first.
            models.Index(fields=["consent", "sequence"], name="consent_audit_timeline"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action}"

    @property
    def label(self) -> str:
        label = AUDIT_ACTION_LABELS.get(self.action, self.action.replace("_", " ").capitalize())
        title = self.details.get("title") if isinstance(self.details, dict) else None
        return f"{label}: {title}" if title else label


class AuditChainHead(models.Model):
    """A single row: the end of the audit chain. Appends lock it, so the chain never forks."""

    last_sequence = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="consent_audit_head_single")]

    def __str__(self) -> str:
        return f"audit chain head at #{self.last_sequence}"


class Question(models.Model):
    """A patient's question about one risk, and the surgeon's team's answer."""

    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="questions")
    item = models.ForeignKey(
        ConsentItemSnapshot, on_delete=models.CASCADE, related_name="questions"
    )
    text = models.TextField()
    asked_at = models.DateTimeField(default=timezone.now)
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["asked_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(answer="", answered_by__isnull=True, answered_at__isnull=True)
                    | (~Q(answer="") & Q(answered_by__isnull=False, answered_at__isnull=False))
                ),
                name="consent_question_answer_complete",
            ),
        ]
        indexes = [
            # "Waiting for your answer": a consent's unanswered questions.
            models.Index(fields=["consent", "answered_at"], name="consent_question_open"),
        ]

    def __str__(self) -> str:
        return f"Question on {self.item}"

    @property
    def is_answered(self) -> bool:
        return self.answered_at is not None


class ConsentCheck(models.Model):
    """An understanding check as frozen into a consent: the patient must answer it right
    before signing. The right answer is options[0]; the page shuffles them."""

    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="checks")
    order = models.PositiveSmallIntegerField()
    question = models.TextField()
    # What it checks: one of this consent's risks, or one section of the procedure's text.
    item = models.ForeignKey(
        ConsentItemSnapshot,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="checks",
    )
    section = models.CharField(max_length=20, choices=Section.choices, blank=True)
    options = models.JSONField(help_text="The right answer first, then the wrong ones.")
    explanation = models.TextField()
    passed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["consent", "order"]
        constraints = [
            models.UniqueConstraint(fields=["consent", "order"], name="consent_check_unique_order"),
            models.CheckConstraint(
                condition=Q(item__isnull=True, section__in=Section.values)
                | Q(item__isnull=False, section=""),
                name="consent_check_about_one_thing",
            ),
        ]

    def __str__(self) -> str:
        return self.question

    @property
    def answer(self) -> str:
        return self.options[0]

    @property
    def about(self) -> str:
        """What it checks, in words: the risk's title or the section's title."""
        if self.section:
            return dict(SECTION_TITLES)[self.section]
        return self.item.title

    def frozen_content(self, titles: dict[int, str]) -> dict:
        return {
            "order": self.order,
            "question": self.question,
            "risk": titles.get(self.item_id, "") if self.item_id else "",
            "section": self.section,
            "options": list(self.options),
            "explanation": self.explanation,
        }


class CheckAttempt(models.Model):
    """One answer the patient gave to an understanding check: every attempt is kept."""

    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="check_attempts")
    check_item = models.ForeignKey(ConsentCheck, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    chosen = models.CharField(max_length=300)
    correct = models.BooleanField()
    # The options in the order the patient saw them; empty when that is not known (an answer
    # posted without the page having been shown in that session).
    shown = models.JSONField()
    answered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["check_item", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["check_item", "number"], name="consent_attempt_unique_number"
            ),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} at check {self.check_item_id}"


class PatientStep(models.TextChoices):
    OVERVIEW = "overview", "About the operation"
    PRIORITIES = "priorities", "What matters to the patient"
    RISKS = "risks", "Risks"
    CHECK = "check", "Check of understanding"
    REVIEW = "review", "Review and sign"


class StepTime(models.Model):
    """Seconds the patient spent on one step of their consent, as a running total."""

    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="step_times")
    step = models.CharField(max_length=20, choices=PatientStep.choices)
    seconds = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["consent", "step"], name="consent_step_time_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.seconds} s on {self.step}"


# What may matter most to a patient: offered as tick boxes; they may add their own words.
PRIORITY_CHOICES = [
    ("work", "Getting back to work"),
    ("walking", "Walking further"),
    ("sleep", "Sleeping without pain"),
    ("no_more_surgery", "Avoiding another operation"),
    ("caring", "Caring for someone"),
    ("hobbies", "Getting back to a sport or hobby"),
    ("independence", "Looking after myself at home"),
]
PRIORITY_OWN_WORDS_MAX = 1000


class Priorities(models.Model):
    """What matters most to the patient (optional), and the surgeon's response to it. Signing
    waits for the response, as it waits for answers to questions."""

    consent = models.OneToOneField(Consent, on_delete=models.CASCADE, related_name="priorities")
    chosen = models.JSONField(default=list, blank=True)
    own_words = models.TextField(blank=True)
    stated_at = models.DateTimeField()
    response = models.TextField(blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "priorities"
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(response="", responded_by__isnull=True, responded_at__isnull=True)
                    | (~Q(response="") & Q(responded_by__isnull=False, responded_at__isnull=False))
                ),
                name="consent_priorities_response_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"What matters to the patient of consent {self.consent_id}"

    @property
    def chosen_labels(self) -> list[str]:
        labels = dict(PRIORITY_CHOICES)
        return [labels[key] for key in self.chosen if key in labels]

    @property
    def is_answered(self) -> bool:
        return self.responded_at is not None


class SignatureRole(models.TextChoices):
    PATIENT = "patient", "Patient"


class SignatureMethod(models.TextChoices):
    DRAWN = "drawn", "Drawn signature and typed name"
    TYPED = "typed", "Typed name only"


class Signature(models.Model):
    """The patient's signature. Written once, in the signing transaction, never changed."""

    consent = models.ForeignKey(Consent, on_delete=models.PROTECT, related_name="signatures")
    role = models.CharField(
        max_length=20, choices=SignatureRole.choices, default=SignatureRole.PATIENT
    )
    typed_name = models.CharField(max_length=200)
    method = models.CharField(max_length=10, choices=SignatureMethod.choices)
    image_png = models.BinaryField(null=True, blank=True)
    image_sha256 = models.CharField(max_length=64, blank=True)
    statement = models.TextField(
        help_text="What the patient agreed to: the meaning of the signature."
    )
    signed_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["consent", "role"], name="consent_one_signature_per_role"
            ),
            models.CheckConstraint(
                condition=(
                    Q(method=SignatureMethod.TYPED, image_sha256="")
                    | Q(method=SignatureMethod.DRAWN, image_png__isnull=False) & ~Q(image_sha256="")
                ),
                name="consent_signature_image_matches_method",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} signature on consent {self.consent_id}"


class SignedDocument(models.Model):
    """The sealed PDF of a signed consent: rendered once, stored once, served as stored."""

    consent = models.OneToOneField(Consent, on_delete=models.PROTECT, related_name="document")
    file = models.FileField(upload_to="consents/%Y/%m/")
    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveIntegerField()
    # Printed on the PDF and typed into /verify/; stored upper-case without dashes.
    verification_code = models.CharField(max_length=16, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The end of the audit chain when the PDF was made, printed and embedded in the sealed file:
    # an anchor outside the database that verify_audit checks the chain against.
    checkpoint_sequence = models.PositiveBigIntegerField(null=True, blank=True)
    checkpoint_hash = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"Signed PDF of consent {self.consent_id}"

    @property
    def display_code(self) -> str:
        code = self.verification_code
        return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


class SigningClaim(models.Model):
    """A signature being made: taken under the consent's row lock before the PDF is rendered,
    so a second request (a double click, another tab) does not render a second PDF. Deleted
    when the signature is written or refused; a claim older than SIGNING_CLAIM_SECONDS (its
    worker died) may be taken over."""

    consent = models.OneToOneField(Consent, on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=32, unique=True)
    started_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"signing claim on consent {self.consent_id}"


class UserSession(AbstractBaseSession):
    """Django's database session, with the signed-in user's id beside it.

    Filled in on every save by consent.sessions.SessionStore, however the session was opened
    (our sign-in page, /admin/login/, a password reset), so that "sign out everywhere" can find
    and end every session of a user. Patients' sessions have no user.
    """

    # A plain id, as Django's documentation does it: a session may outlive its user's row for
    # a moment, and a foreign key would make saving it fail.
    user_id = models.BigIntegerField(null=True, db_index=True)

    @classmethod
    def get_session_store_class(cls):
        from .sessions import SessionStore

        return SessionStore


class RateLimitCounter(models.Model):
    """Requests counted per client address and window (see consent/ratelimit.py)."""

    bucket = models.CharField(max_length=64, unique=True, help_text="SHA-256 of scope and key")
    window_start = models.BigIntegerField(help_text="Unix time")
    # Finding the windows that ended, to delete them.
    window_end = models.BigIntegerField(db_index=True, help_text="Unix time")
    hits = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.hits} hit(s) until {self.window_end}"
