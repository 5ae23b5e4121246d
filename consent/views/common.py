"""What the surgeon's and the patient's views share."""

from django.http import Http404, HttpResponse

from ..actors import Actor
from ..models import Consent
from ..services import ConsentError, document_download


def pdf_response(consent: Consent, actor: Actor) -> HttpResponse:
    """The stored bytes of the signed PDF, as an audited download."""
    try:
        data, filename = document_download(consent=consent, actor=actor)
    except ConsentError:
        raise Http404("No signed document") from None
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
