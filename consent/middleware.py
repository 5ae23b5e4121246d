"""Refuse NUL characters in a request with a plain 400 page, before other code sees them.

PostgreSQL cannot store NUL in text, so a NUL that reaches a query is a server error. Our
own views read every value through a form that refuses NUL with a message beside the field
and keeps what was typed (consent/forms.py). This is the backstop for everything else: the
path, headers and cookies of every request, and the query string and form fields of views
we do not own (the admin, Django's sign-out).
"""

from django.http import HttpRequest, QueryDict

from .views.errors import bad_request

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
