"""HTTP middleware: static files with a year's caching, NUL characters refused with a plain
400, request bodies larger than their view accepts refused unread, and no caching of anything a
view makes.

NUL: PostgreSQL cannot store NUL in text, so a NUL that reaches a query is a server error. Our
own views read every value through a form that refuses NUL with a message beside the field
and keeps what was typed (consent/forms.py). RefuseNulMiddleware is the backstop for
everything else: the path, headers and cookies of every request, and the query string and
form fields of views we do not own (the admin, Django's sign-out).
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import Resolver404, resolve
from whitenoise.middleware import WhiteNoiseMiddleware

from .views.errors import bad_request


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, with files under hashed names cached for one year rather than its ten: a
    year is the longest lifetime HTTP/1.1 asked caches to keep a response (RFC 2616, 14.21),
    still the usual figure, and a file takes a new name whenever its content changes."""

    FOREVER = 365 * 24 * 60 * 60


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every response a view makes, unless the view set its own.

    Pages here show patients' names, hospital numbers and consents: no browser cache, shared
    computer's back button or proxy may keep them. Static files never reach this (WhiteNoise
    answers them first, with its own long-lived caching). A view that may be cached says so by
    setting Cache-Control itself.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Cache-Control" not in response:
            response["Cache-Control"] = "no-store"
        return response


def body_limit(max_bytes: Callable[[], int]):
    """Mark a view with the largest request body it accepts (a callable, so that settings are
    read per request). RequestBodyLimitMiddleware refuses larger bodies before they are read."""

    def decorator(view):
        view.max_body_bytes = max_bytes
        return view

    return decorator


class RequestBodyLimitMiddleware:
    """Refuse a request whose declared body is larger than its view accepts, with a 413, before
    anything (CSRF checks, form parsing, other middleware) reads a byte of it.

    Must come before every middleware that may touch request.POST or request.FILES. A body
    without a Content-Length is not read by Django at all (it reads CONTENT_LENGTH bytes).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = _content_length(request)
        if length:  # only requests with a body need their view's limit looked up
            limit = _view_body_limit(request)
            if limit is not None and length > limit:
                return render(request, "too_large.html", status=413)
        return self.get_response(request)


def _view_body_limit(request: HttpRequest) -> int | None:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    max_bytes = getattr(match.func, "max_body_bytes", None)
    return max_bytes() if max_bytes is not None else None


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # Django reads nothing of a body whose length it cannot read


# Views whose every input goes through one of our forms (see the module docstring).
OWN_VIEW_MODULES = ("consent.views.",)
REASON = "It contained a character that we cannot accept (a null character)."


def _has_nul(text) -> bool:
    return isinstance(text, str) and "\x00" in text


def _any_nul(pairs) -> bool:
    return any(_has_nul(key) or _has_nul(value) for key, value in pairs)


def _data_has_nul(data: QueryDict) -> bool:
    return _any_nul((key, value) for key, values in data.lists() for value in values)


class RefuseNulMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if (
            _has_nul(request.path_info)
            or _any_nul((k, v) for k, v in request.META.items() if k.startswith("HTTP_"))
            or _any_nul(request.COOKIES.items())
        ):
            return bad_request(request, reason=REASON)
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if view_func.__module__.startswith(OWN_VIEW_MODULES):
            return None
        if _data_has_nul(request.GET) or (request.method == "POST" and _data_has_nul(request.POST)):
            return bad_request(request, reason=REASON)
        return None
