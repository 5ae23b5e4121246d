"""HTTP middleware: no caching of anything a view makes, and request-body limits enforced
before anything reads the body."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve


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
