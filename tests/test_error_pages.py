"""Error pages: plain words, a way back, no stack trace, with DEBUG off as in production."""

import pytest
from django.db import connection
from django.template import loader
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from consent.views.errors import server_error

from .test_patient_views import visible

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def production(settings):
    settings.DEBUG = False
    settings.HOSPITAL_NAME = "St Elsewhere"


@pytest.fixture
def web():
    return Client(raise_request_exception=False)


def looks_like_our_page(response) -> str:
    text = visible(response)
    assert "St Elsewhere" in text and "Surgical Consent" in text
    assert "Go to the start page" in text and f'href="{reverse("home")}"' in response.text
    for leak in ("Traceback", "RuntimeError", "a bug, on purpose", 'File "', "DEBUG"):
        assert leak not in response.text
    return text


def test_an_unknown_page_is_a_plain_404(web):
    response = web.get("/no/such/page/")
    assert response.status_code == 404
    assert "We cannot find that page" in looks_like_our_page(response)


def test_a_signed_in_surgeon_keeps_the_menu_on_a_404(web, surgeon):
    web.force_login(surgeon)
    response = web.get(reverse("consent_detail", args=[999999]))
    assert response.status_code == 404
    assert "Sign out" in looks_like_our_page(response)


def test_a_server_error_is_a_plain_500(web, settings):
    settings.ROOT_URLCONF = "tests.error_urls"
    response = web.get("/boom/")
    assert response.status_code == 500
    assert "Something went wrong on our side" in looks_like_our_page(response)


def test_the_500_page_needs_no_database_and_no_context():
    with CaptureQueriesContext(connection) as queries:
        response = server_error(RequestFactory().get("/"))
    assert len(queries) == 0
    assert b"Something went wrong on our side" in response.content
    bare = loader.get_template("500.html").render()  # as Django's own handler would
    assert "Something went wrong on our side" in bare


def test_a_bad_request_is_a_plain_400(web):
    response = web.get("/patient/%00/")
    assert response.status_code == 400
    assert "We could not understand that request" in looks_like_our_page(response)


def test_a_forbidden_page_is_a_plain_403(web, plain_user):
    web.force_login(plain_user)
    response = web.get(reverse("consent_new"))
    assert response.status_code == 403
    assert "You do not have access to this page" in looks_like_our_page(response)


def test_a_refused_csrf_check_says_what_to_do(surgeon):
    from .conftest import PASSWORD

    web = Client(enforce_csrf_checks=True)
    response = web.post(reverse("login"), {"username": "owner", "password": PASSWORD})
    assert response.status_code == 403
    text = looks_like_our_page(response)
    assert "The form could not be sent" in text and "Nothing was saved" in text
