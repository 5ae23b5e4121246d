"""The procedure library: what each operation is, and the risks a patient must acknowledge."""

import hashlib
import json

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

    def content(self, items=None) -> dict:
        """The patient-facing content as plain data: what a revision number stands for."""
        items = self.items.all() if items is None else items
        return {
            "name": self.name,
            "site": self.site,
            **{field: getattr(self, field) for field in PROCEDURE_TEXT_FIELDS},
            "risks": [
                {field: getattr(item, field) for field in ITEM_CONTENT_FIELDS}
                for item in sorted(items, key=lambda i: i.order)
            ],
        }

    def compute_content_sha256(self, items=None) -> str:
        canonical = json.dumps(self.content(items), sort_keys=True, separators=(",", ":"))
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
