"""Public pages: anyone may check that a signed document is authentic and unchanged."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from ..documents import verify_bytes, verify_code
from ..forms import VerifyForm
from ..middleware import body_limit
from ..ratelimit import limit_by_address

# Room for the form around the file (multipart boundaries, headers, the CSRF token, the code).
FORM_OVERHEAD_BYTES = 64 * 1024


@body_limit(lambda: settings.VERIFY_UPLOAD_MAX_BYTES + FORM_OVERHEAD_BYTES)
@csrf_exempt  # checked by _check below, once the rate limit let the request through
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """Public: is this an authentic, unmodified document issued by this hospital?

    Before anything reads the body: RequestBodyLimitMiddleware has refused a body that is too
    large, and here each check (a POST, or a GET with a code from a QR code) counts against the
    client address's rate, since a check may validate a seal. Then CSRF, then the form.
    """
    checking = request.method == "POST" or "code" in request.GET
    if checking and (
        refused := limit_by_address(request, scope="verify", rate=settings.VERIFY_RATE_LIMIT)
    ):
        return refused
    return _check(request)


@never_cache
@csrf_protect
def _check(request: HttpRequest) -> HttpResponse:
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
