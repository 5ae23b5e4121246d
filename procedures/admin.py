from django.contrib import admin
from django.utils.html import format_html, format_html_join

from .models import ConsentItem, Procedure
from .readability import TARGET_GRADE, median_grade, procedure_grades
from .services import procedure_refresh_revision


class ConsentItemInline(admin.TabularInline):
    model = ConsentItem
    fields = ("order", "title", "explanation", "severity", "frequency", "required")
    ordering = ("order",)
    extra = 0


@admin.register(Procedure)
class ProcedureAdmin(admin.ModelAdmin):
    inlines = [ConsentItemInline]
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
        return super().get_queryset(request).prefetch_related("items").distinct()

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

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if procedure_refresh_revision(procedure=form.instance):
            self.message_user(request, f"Content changed: now revision {form.instance.revision}.")
