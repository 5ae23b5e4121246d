"""The WSGI (gunicorn) and ASGI entry points serve the app as the test client does."""

import asyncio

import pytest
from asgiref.sync import async_to_sync

pytestmark = pytest.mark.django_db


def test_the_wsgi_application_serves_the_sign_in_page():
    from wsgiref.util import setup_testing_defaults

    from config.wsgi import application

    environ = {"PATH_INFO": "/accounts/login/", "HTTP_HOST": "testserver"}
    setup_testing_defaults(environ)
    started = {}

    def start_response(status, headers, exc_info=None):
        started.update(status=status, headers=dict(headers))

    body = b"".join(application(environ, start_response))
    assert started["status"] == "200 OK"
    assert started["headers"]["Content-Type"].startswith("text/html")
    assert b"Sign in" in body


def test_the_asgi_application_serves_the_sign_in_page():
    from config.asgi import application

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/accounts/login/",
        "raw_path": b"/accounts/login/",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent = []
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays connected until the response is sent

    async def send(message):
        sent.append(message)

    async_to_sync(application)(scope, receive, send)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert b"Sign in" in body
