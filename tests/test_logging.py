"""No patient link token in any log: Django's own logging, runserver's request log, tracebacks.
(gunicorn's access log is covered in tests/test_production_server.py.)"""

import contextlib
import io
import logging
import secrets
import sys
import urllib.error
import urllib.request

import pytest

from config.logs import redact
from tests.production import Server, free_port, manage, production_env


@contextlib.contextmanager
def captured(logger_name: str, handler_name: str):
    """What the configured handler writes, exactly as it would reach the console."""
    handler = next(h for h in logging.getLogger(logger_name).handlers if h.name == handler_name)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


def test_it_redacts_the_token_in_a_path_a_full_url_and_an_encoded_query_string():
    assert redact("GET /p/Ab-_9xYz/ HTTP/1.1") == "GET /p/[redacted]/ HTTP/1.1"
    assert redact("https://consent.example.org/p/Ab-_9xYz/") == (
        "https://consent.example.org/p/[redacted]/"
    )
    assert redact("/accounts/login/?next=%2Fp%2FAb-_9xYz%2F&x=1") == (
        "/accounts/login/?next=%2Fp%2F[redacted]%2F&x=1"
    )
    assert redact("Not Found: /p/Ab-_9xYz") == "Not Found: /p/[redacted]"
    # Django serves /%70/<token>/ as /p/<token>/: the encoded form is redacted too.
    assert redact("GET /%70/Ab-_9xYz/ HTTP/1.1") == "GET /%70/[redacted]/ HTTP/1.1"


def test_it_leaves_other_paths_alone():
    for text in ("/patient/risks/", "/p/", "/consents/12/document.pdf", "GET / HTTP/1.1"):
        assert redact(text) == text


def test_djangos_request_warnings_never_show_the_token(client, db):
    token = secrets.token_urlsafe(32)
    with captured("", "console") as console:
        response = client.get(f"/p/{token}/")
    assert response.status_code == 404
    assert "Not Found: /p/[redacted]/" in console.getvalue()
    assert token not in console.getvalue()


def test_tracebacks_never_show_the_token():
    token = secrets.token_urlsafe(32)
    with captured("", "console") as console:
        try:
            raise ValueError(f"could not load /p/{token}/")
        except ValueError:
            logging.getLogger("consent").exception("Failed on %s", f"/p/{token}/")
    assert "Failed on /p/[redacted]/" in console.getvalue()
    assert "ValueError: could not load /p/[redacted]/" in console.getvalue()
    assert token not in console.getvalue()


@pytest.fixture
def runserver(test_pki, tmp_path):
    port = free_port()
    env = production_env(
        test_pki,
        DEBUG="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        ALLOWED_HOSTS="127.0.0.1",
    )
    result = manage("migrate", "--no-input", "--verbosity", "0", env=env)
    assert result.returncode == 0, result.stderr
    command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    with Server(command, env=env, url=f"http://127.0.0.1:{port}") as server:
        started = server.wait_for(server.stdout, lambda lines: any("Quit the" in x for x in lines))
        assert started, server.error_log
        yield server


def test_runservers_request_log_never_shows_the_token(runserver):
    token = secrets.token_urlsafe(32)
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"{runserver.url}/p/{token}/", timeout=30)  # noqa: S310
    error.value.close()
    assert error.value.code == 404
    runserver.wait_for_error('"GET /p/[redacted]/ HTTP/1.1" 404')
    runserver.wait_for_error("Not Found: /p/[redacted]/")
    assert token not in runserver.error_log + runserver.access_log
