"""Public pages: anyone may check that a signed document is authentic and unchanged."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from ..documents import verify_bytes, verify_code
from ..forms import VerifyForm


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """Public: is this an authentic, unmodified document issued by this hospital?"""
    data = (
        request.POST
        if request.method == "POST"
        else (request.GET if "code" in request.GET else None)
    )
    form = VerifyForm(data, request.FILES or None, max_bytes=settings.VERIFY_UPLOAD_MAX_BYTES)
    result = None
    if data is not None and form.is_valid():
        if form.cleaned_data.get("document"):
            result = verify_bytes(form.cleaned_data["document"])
        else:
            result = verify_code(form.cleaned_data["code"])
    return render(
        request,
        "consent/verify.html",
        {"form": form, "result": result},
        status=400 if form.errors else 200,
    )
