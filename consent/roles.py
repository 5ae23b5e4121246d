"""Who may do what: the Surgeons group and its permissions."""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

SURGEONS_GROUP = "Surgeons"

# app_label.codename of every permission a surgeon needs.
SURGEON_PERMISSIONS = [
    "procedures.view_procedure",
    "procedures.view_consentitem",
    "consent.add_consent",
    "consent.view_consent",
]


def _permissions(names: list[str]) -> list[Permission]:
    query = Q()
    for name in names:
        app_label, codename = name.split(".")
        query |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.filter(query))
    if len(found) != len(names):
        missing = set(names) - {f"{p.content_type.app_label}.{p.codename}" for p in found}
        raise LookupError(f"permissions not found (run migrate first): {sorted(missing)}")
    return found


def ensure_roles(**kwargs) -> Group:
    """Create the Surgeons group, or bring its permissions up to date. Idempotent."""
    group, _ = Group.objects.get_or_create(name=SURGEONS_GROUP)
    group.permissions.set(_permissions(SURGEON_PERMISSIONS))
    return group


def is_surgeon(user) -> bool:
    return user.is_authenticated and user.groups.filter(name=SURGEONS_GROUP).exists()
