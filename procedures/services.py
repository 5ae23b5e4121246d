"""Changes to the library go through here, so that the revision number stays honest."""

from django.db import transaction

from .models import Procedure


def procedure_refresh_revision(*, procedure: Procedure) -> bool:
    """Bump the revision if the patient-facing content changed since it was last recorded.

    Call after saving a procedure and its items. Returns True when the revision went up.
    """
    with transaction.atomic():
        current = Procedure.objects.select_for_update().get(pk=procedure.pk)
        digest = current.compute_content_sha256()
        if digest == current.content_sha256:
            return False
        bumped = bool(current.content_sha256)  # the first fingerprint is revision 1
        if bumped:
            current.revision += 1
        current.content_sha256 = digest
        current.save(update_fields=["revision", "content_sha256", "updated_at"])
    procedure.revision, procedure.content_sha256 = current.revision, current.content_sha256
    return bumped
