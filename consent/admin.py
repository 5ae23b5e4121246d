"""Consents in the admin are for looking, never for changing.

Every change goes through consent/services.py, and a signed consent never changes, so these
admins are read-only: no add, no edit, no delete, for anyone.
"""

from django.contrib import admin

from .models import (
    AuditEvent,
    Consent,
    ConsentItemSnapshot,
    Patient,
    Question,
    Signature,
    Team,
)


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ItemInline(ReadOnlyMixin, admin.TabularInline):
    model = ConsentItemSnapshot
    fields = ("order", "title", "severity", "origin", "not_applicable", "acknowledged_at")
    readonly_fields = fields
    extra = 0


class QuestionInline(ReadOnlyMixin, admin.TabularInline):
    model = Question
    fields = ("item", "text", "asked_at", "answer", "answered_by", "answered_at")
    readonly_fields = fields
    extra = 0


class SignatureInline(ReadOnlyMixin, admin.TabularInline):
    model = Signature
    fields = ("role", "typed_name", "method", "signed_at", "ip_address", "image_sha256")
    readonly_fields = fields
    extra = 0


@admin.register(Consent)
class ConsentAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("patient", "procedure_name", "surgeon", "planned_date", "status")
    list_filter = ("status", "procedure_name")
    search_fields = ("patient__full_name", "patient__hospital_number", "procedure_name")
    list_select_related = ("patient", "surgeon")
    inlines = [ItemInline, QuestionInline, SignatureInline]
    exclude = ("procedure_text",)

    def get_queryset(self, request):
        return Consent.objects.for_surgeon(request.user)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    """Teams are managed here: who is in them, and the phone and email their patients see."""

    list_display = ("name", "phone", "email")
    search_fields = ("name",)
    filter_horizontal = ("members",)


@admin.register(Patient)
class PatientAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("full_name", "date_of_birth", "hospital_number")
    search_fields = ("full_name", "hospital_number")

    def get_queryset(self, request):
        visible = Consent.objects.for_surgeon(request.user).values("patient_id")
        return super().get_queryset(request).filter(pk__in=visible)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("sequence", "created_at", "action", "actor_label", "consent", "ip_address")
    list_filter = ("action", "actor_type")
    search_fields = ("action", "actor_label")

    def get_queryset(self, request):
        visible = Consent.objects.for_surgeon(request.user)
        return super().get_queryset(request).filter(consent__in=visible).select_related("consent")
