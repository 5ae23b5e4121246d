"""HTTP middleware: no caching of anything a view makes."""

from django.http import HttpRequest, HttpResponse


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
