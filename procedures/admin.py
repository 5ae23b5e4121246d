from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import F
from django.forms.models import BaseInlineFormSet
from django.utils.html import format_html, format_html_join

from .models import ConsentItem, Procedure, UnderstandingCheck
from .readability import TARGET_GRADE, median_grade, procedure_grades
from .services import procedure_refresh_revision

# The prefix of the risks' inline formset in the procedure's change form (Django names it after
# the related name, ConsentItem.procedure's "items").
RISKS_PREFIX = ConsentItem._meta.get_field("procedure").remote_field.get_accessor_name()
MAX_RISK_FORMS = 1000
# Added to the order of a row about to move (orders stay well under 32,767).
PARKED_ORDER = 10_000


class ConsentItemInline(admin.TabularInline):
    model = ConsentItem
    fields = (
        "order",
        "title",
        "explanation",
        "severity",
        "frequency",
        "one_in",
        "per_1000",
        "rate_source",
        "required",
    )
    ordering = ("order",)
    extra = 0


class UnderstandingCheckForm(forms.ModelForm):
    def __init__(self, *args, risk_titles: set[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # A risk may be renamed in the same save as the check that names it: the check must
        # name one of the risks as submitted, not as saved.
        self.instance.known_risk_titles = risk_titles


class UnderstandingCheckFormSet(BaseInlineFormSet):
    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "risk_titles": self.risk_titles()}

    def risk_titles(self) -> set[str] | None:
        """The titles of the risks submitted in the same form, less those marked for deletion;
        None (the saved ones) when the form is not submitted or holds no risks."""
        try:
            total = min(int(self.data[f"{RISKS_PREFIX}-TOTAL_FORMS"]), MAX_RISK_FORMS)
        except (KeyError, ValueError):
            return None
        titles = set()
        for number in range(total):
            if self.data.get(f"{RISKS_PREFIX}-{number}-DELETE"):
                continue
            title = (self.data.get(f"{RISKS_PREFIX}-{number}-title") or "").strip()
            if title:
                titles.add(title)
        return titles


class UnderstandingCheckInline(admin.StackedInline):
    model = UnderstandingCheck
    form = UnderstandingCheckForm
    formset = UnderstandingCheckFormSet
    fields = (
        ("order", "risk_title", "section"),
        "question",
        "answer",
        "wrong_answers",
        "explanation",
    )
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 3})}}
    ordering = ("order",)
    extra = 0
    verbose_name = "check of understanding"
    verbose_name_plural = "checks of understanding (asked after the risks)"


@admin.register(Procedure)
class ProcedureAdmin(admin.ModelAdmin):
    # The checks come after the risks: they are saved after them, and name them by title.
    inlines = [ConsentItemInline, UnderstandingCheckInline]
    list_display = (
        "name",
        "site",
        "revision",
        "risk_count",
        "reading_grade",
        "is_active",
        "needs_clinical_review",
    )
    list_filter = ("is_active", "needs_clinical_review", "items__severity")
    search_fields = ("name", "slug", "site", "items__title")
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("revision", "content_sha256", "updated_at", "readability_report")
    fieldsets = (
        (
            None,
            {"fields": ("name", "slug", "site", "asks_for", "is_active", "needs_clinical_review")},
        ),
        (
            "What the patient reads",
            {
                "fields": (
                    "summary",
                    "what_happens",
                    "benefits",
                    "alternatives",
                    "no_surgery",
                    "recovery",
                )
            },
        ),
        ("Version", {"fields": ("revision", "content_sha256", "updated_at")}),
        ("Readability", {"fields": ("readability_report",)}),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related("items", "understanding_checks")
            .distinct()
        )

    @admin.display(description="risks")
    def risk_count(self, obj: Procedure) -> int:
        return len(obj.items.all())

    @admin.display(description="reading grade (median)")
    def reading_grade(self, obj: Procedure) -> str:
        return f"{median_grade(obj):.1f}"

    @admin.display(description=f"reading grade of each passage (target {TARGET_GRADE:g} or lower)")
    def readability_report(self, obj: Procedure) -> str:
        if obj.pk is None:
            return "Shown once the procedure is saved."
        rows = format_html_join(
            "",
            "<li>{}: {}{}</li>",
            (
                (where, f"{value:.1f}", " (too hard)" if value > TARGET_GRADE else "")
                for where, value in procedure_grades(obj).items()
            ),
        )
        return format_html("<ul>{}</ul>", rows)

    def save_formset(self, request, form, formset, change):
        # Orders are unique per procedure, and the formset saves one row at a time: swapping two
        # rows' orders would collide half-way (a database error). Park the rows that move or go
        # out of the way first; each is then saved with its new order, or deleted.
        deleted = formset.deleted_forms
        moving = [
            inline.instance.pk
            for inline in formset.initial_forms
            if "order" in inline.changed_data or inline in deleted
        ]
        formset.model.objects.filter(pk__in=moving).update(order=F("order") + PARKED_ORDER)
        super().save_formset(request, form, formset, change)

    def save_related(self, request, form, formsets, change):
        # Saves every inline (risks, then checks) before the revision looks at the content.
        super().save_related(request, form, formsets, change)
        if procedure_refresh_revision(procedure=form.instance):
            self.message_user(request, f"Content changed: now revision {form.instance.revision}.")
