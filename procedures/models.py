"""The procedure library: what each operation is, and the risks a patient must acknowledge."""

import hashlib
import json
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class Severity(models.TextChoices):
    COMMON = "common", "Common"
    UNCOMMON = "uncommon", "Uncommon"
    RARE_SERIOUS = "rare_serious", "Rare but serious"


# The procedure's patient-facing text fields, in the order a patient reads them.
PROCEDURE_TEXT_FIELDS = (
    "summary",
    "what_happens",
    "benefits",
    "alternatives",
    "no_surgery",
    "recovery",
)
# Fields of a risk that are part of its content (what a patient is shown).
ITEM_CONTENT_FIELDS = ("title", "explanation", "severity", "frequency", "required")
# A risk's frequency as a number, shown as a picture; part of the content only when given, so
# that risks without one keep the fingerprint (and revision) they had before numbers existed.
ITEM_RATE_FIELDS = ("one_in", "per_1000", "rate_source")
# Fields of an understanding check that are part of the content.
CHECK_CONTENT_FIELDS = (
    "question",
    "risk_title",
    "section",
    "answer",
    "wrong_answers",
    "explanation",
)


class AsksFor(models.TextChoices):
    """What the surgeon must give when issuing: the spinal levels, the side, both or nothing."""

    NOTHING = "", "Nothing (the site is fixed)"
    LEVELS = "levels", "The spinal levels"
    SIDE = "side", "The side"
    LEVELS_AND_SIDE = "levels_and_side", "The spinal levels and the side"


class ProcedureQuerySet(models.QuerySet):
    def active(self) -> "ProcedureQuerySet":
        return self.filter(is_active=True)


class Procedure(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    site = models.CharField(
        "spinal levels or site", max_length=100, help_text='For example "L4-L5-S1".'
    )
    asks_for = models.CharField(
        "the surgeon gives at issue",
        max_length=20,
        choices=AsksFor.choices,
        blank=True,
        default=AsksFor.NOTHING,
        help_text=(
            "Levels or side that differ from patient to patient. The issue form asks for them "
            "and the consent states them after the site."
        ),
    )
    summary = models.TextField("what the operation is", help_text="Plain words, grade 8 or lower.")
    what_happens = models.TextField("what happens during the operation")
    benefits = models.TextField("expected benefits")
    alternatives = models.TextField(
        "other treatments", help_text="The conservative treatments and other options."
    )
    no_surgery = models.TextField(
        "not having the operation",
        help_text="What to expect if the patient chooses not to have the operation.",
    )
    recovery = models.TextField()
    revision = models.PositiveIntegerField(
        default=1, editable=False, help_text="Goes up by one whenever the content changes."
    )
    content_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    is_active = models.BooleanField("active", default=True)
    needs_clinical_review = models.BooleanField(
        default=True,
        help_text=(
            "Starter content bundled with the app. A clinician at your hospital must review "
            "and approve it before it is used with patients."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProcedureQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(revision__gte=1), name="procedures_procedure_revision_positive"
            ),
            models.CheckConstraint(
                condition=Q(asks_for__in=AsksFor.values),
                name="procedures_procedure_asks_for_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def asks_for_levels(self) -> bool:
        return self.asks_for in (AsksFor.LEVELS, AsksFor.LEVELS_AND_SIDE)

    @property
    def asks_for_side(self) -> bool:
        return self.asks_for in (AsksFor.SIDE, AsksFor.LEVELS_AND_SIDE)

    def content(self, items=None, checks=None) -> dict:
        """The patient-facing content as plain data: what a revision number stands for."""
        items = self.items.all() if items is None else items
        if checks is None:
            checks = self.understanding_checks.all() if self.pk else []
        checks = sorted(checks, key=lambda c: c.order)
        return {
            "name": self.name,
            "site": self.site,
            **{field: getattr(self, field) for field in PROCEDURE_TEXT_FIELDS},
            "risks": [item.content() for item in sorted(items, key=lambda i: i.order)],
            # Only when there are checks: a procedure without any keeps its old fingerprint.
            **({"understanding_checks": [check.content() for check in checks]} if checks else {}),
        }

    def compute_content_sha256(self, items=None, checks=None) -> str:
        canonical = json.dumps(self.content(items, checks), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class ConsentItem(models.Model):
    """One risk of a procedure that the patient must read and acknowledge."""

    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="items")
    title = models.CharField(max_length=200)
    explanation = models.TextField(help_text="Plain words, grade 8 or lower.")
    severity = models.CharField(max_length=20, choices=Severity.choices)
    frequency = models.CharField(
        max_length=100, blank=True, help_text='In natural words, for example "about 1 in 50".'
    )
    # How often, as a number: "1 in N" or a number per 1,000 people (one of the two, or none).
    one_in = models.PositiveIntegerField(
        '"1 in N": N',
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="For example 20 for about 1 in 20. Shown as a picture of 100 or 1,000 people.",
    )
    per_1000 = models.DecimalField(
        "per 1,000 people",
        max_digits=7,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.001")), MaxValueValidator(1000)],
        help_text="Instead of 1 in N: how many of 1,000 people, for example 50.",
    )
    rate_source = models.CharField(
        "source of the number",
        max_length=300,
        blank=True,
        help_text="Where the number comes from, for example a published study or local audit.",
    )
    order = models.PositiveSmallIntegerField()
    required = models.BooleanField(
        default=True, help_text="The patient must acknowledge this risk before signing."
    )

    class Meta:
        ordering = ["procedure", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["procedure", "order"], name="procedures_item_unique_order"
            ),
            models.CheckConstraint(
                condition=Q(one_in__isnull=True) | Q(per_1000__isnull=True),
                name="procedures_item_one_rate",
            ),
            models.CheckConstraint(
                condition=Q(one_in__isnull=True) | Q(one_in__gte=1),
                name="procedures_item_one_in_positive",
            ),
            models.CheckConstraint(
                condition=Q(per_1000__isnull=True) | Q(per_1000__gt=0, per_1000__lte=1000),
                name="procedures_item_per_1000_range",
            ),
            models.UniqueConstraint(
                fields=["procedure", "title"], name="procedures_item_unique_title"
            ),
            models.CheckConstraint(
                condition=Q(severity__in=Severity.values), name="procedures_item_severity_valid"
            ),
            models.CheckConstraint(
                condition=Q(order__gte=1), name="procedures_item_order_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self):
        if self.one_in is not None and self.per_1000 is not None:
            # On a field, so that a form shows this and not the constraint's technical message.
            raise ValidationError(
                {"per_1000": 'Give the number as "1 in N" or per 1,000 people, not both.'}
            )

    def content(self) -> dict:
        content = {field: getattr(self, field) for field in ITEM_CONTENT_FIELDS}
        if self.one_in is not None or self.per_1000 is not None or self.rate_source:
            content.update(rate_content(self))
        return content


def rate_content(item) -> dict:
    """A risk's number as plain data (per_1000 as text: a Decimal is not JSON)."""
    return {
        "one_in": item.one_in,
        "per_1000": None
        if item.per_1000 is None
        else format(Decimal(item.per_1000).normalize(), "f"),
        "rate_source": item.rate_source,
    }


class Section(models.TextChoices):
    """The parts of a procedure's text that an understanding check may be about."""

    SUMMARY = "summary", "What the operation is"
    WHAT_HAPPENS = "what_happens", "What happens during the operation"
    BENEFITS = "benefits", "How it may help"
    ALTERNATIVES = "alternatives", "Other treatments"
    NO_SURGERY = "no_surgery", "Not having the operation"
    RECOVERY = "recovery", "Recovery"


# The longest answer to a check, right or wrong (a patient's answer is kept in 300 characters).
ANSWER_MAX_LENGTH = 300


class UnderstandingCheck(models.Model):
    """A multiple-choice question the patient answers after the risks (teach-back): about one
    risk (by its title) or one section of the procedure's text."""

    procedure = models.ForeignKey(
        Procedure, on_delete=models.CASCADE, related_name="understanding_checks"
    )
    order = models.PositiveSmallIntegerField()
    question = models.TextField(help_text="Plain words, grade 8 or lower.")
    risk_title = models.CharField(
        "about the risk",
        max_length=200,
        blank=True,
        help_text="The title of the risk it checks, exactly. Or choose a section instead.",
    )
    section = models.CharField(
        "or about the section", max_length=20, choices=Section.choices, blank=True
    )
    answer = models.CharField("the right answer", max_length=ANSWER_MAX_LENGTH)
    wrong_answers = models.TextField(
        help_text="One wrong answer per line: between 1 and 4 of them.",
    )
    explanation = models.TextField(
        "why it is right", help_text="Shown once the patient answers; plain words."
    )

    class Meta:
        ordering = ["procedure", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["procedure", "order"], name="procedures_check_unique_order"
            ),
            models.CheckConstraint(
                condition=(Q(risk_title="") & ~Q(section="")) | (~Q(risk_title="") & Q(section="")),
                name="procedures_check_about_one_thing",
            ),
            models.CheckConstraint(
                condition=Q(section__in=["", *Section.values]),
                name="procedures_check_section_valid",
            ),
            models.CheckConstraint(
                condition=Q(order__gte=1), name="procedures_check_order_positive"
            ),
        ]

    # Not a field. The titles that clean() accepts for risk_title when the saved ones are not
    # the right ones: the admin sets those of the risks submitted in the same form, where a risk
    # may be renamed, added or removed along with the check that names it.
    known_risk_titles: set[str] | None = None

    def __str__(self) -> str:
        return self.question

    @property
    def wrong_answer_list(self) -> list[str]:
        return [line.strip() for line in self.wrong_answers.splitlines() if line.strip()]

    def clean(self):
        if bool(self.risk_title) == bool(self.section):
            # On a field, so that a form shows this and not the constraint's technical message.
            raise ValidationError(
                {"section": "Choose either the risk it checks or the section, not both."}
            )
        wrong = self.wrong_answer_list
        if not 1 <= len(wrong) <= 4:
            raise ValidationError({"wrong_answers": "Give between 1 and 4 wrong answers."})
        # As a library file is checked (procedures.library): a patient cannot choose a longer
        # answer (consent.forms.CheckAnswerForm), and "Infection" and "infection" read as the
        # same choice.
        if any(len(line) > ANSWER_MAX_LENGTH for line in wrong):
            raise ValidationError(
                {"wrong_answers": f"Keep each wrong answer under {ANSWER_MAX_LENGTH} characters."}
            )
        answers = [self.answer.strip().casefold(), *(line.casefold() for line in wrong)]
        if len(set(answers)) != len(answers):
            raise ValidationError({"wrong_answers": "Every answer must be different."})
        if self.risk_title and (self.known_risk_titles is not None or self.procedure_id):
            titles = self.known_risk_titles
            if titles is None:
                titles = set(self.procedure.items.values_list("title", flat=True))
            if self.risk_title not in titles:
                raise ValidationError({"risk_title": "No risk of this procedure has this title."})

    def content(self) -> dict:
        content = {field: getattr(self, field) for field in CHECK_CONTENT_FIELDS}
        content["wrong_answers"] = self.wrong_answer_list
        return content
