"""Error pages: plain words, a way back, never a stack trace.

The 400, 500 and CSRF pages are rendered without the request, so that no context processor
runs: they must work when the database or the session is what failed. They get the site's
names from settings instead. 403 and 404 use Django's own views (with the request, so a
signed-in surgeon keeps the menu) and our templates.
"""

from django.conf import settings
from django.http import (
    HttpRequest,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseServerError,
)
from django.template import loader

from ..contact import hospital_contact


def _site() -> dict:
    return {
        "APP_NAME": settings.APP_NAME,
        "HOSPITAL_NAME": settings.HOSPITAL_NAME,
        "contact": hospital_contact(),
    }


def _render(template_name: str, **context) -> str:
    return loader.get_template(template_name).render({**_site(), **context})


def bad_request(
    request: HttpRequest, exception=None, *, reason: str = ""
) -> HttpResponseBadRequest:
    return HttpResponseBadRequest(_render("400.html", reason=reason))


def server_error(request: HttpRequest) -> HttpResponseServerError:
    return HttpResponseServerError(_render("500.html"))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponseForbidden:
    return HttpResponseForbidden(_render("403_csrf.html"))
