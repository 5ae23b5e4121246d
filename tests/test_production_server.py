"""The production profile, end to end: gunicorn with config/gunicorn.conf.py and DEBUG off, on a
database of its own, driven over real HTTP from issuing one consent to its PDF.

Plain HTTP on 127.0.0.1, so secure cookies and the HTTPS redirect are off, as for `make serve`;
everything else is as a hospital would run it (collectstatic, migrate, a surgeon made with
createsurgeon, the sealed PDF verified on /verify/).
"""

import datetime
import http.cookiejar
import os
import re
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
from html import escape as html_escape
from html.parser import HTMLParser

import psycopg
import pytest
from django.conf import settings

from procedures.library import BUNDLED_LIBRARY, read_library_file
from tests.conftest import PASSWORD
from tests.production import (
    Server,
    collected_static,
    free_port,
    manage,
    production_env,
)

WORKERS = 2
SURGEON = "prod.surgeon"


# --- the server -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    """A new, empty database: on PostgreSQL created here and dropped afterwards."""
    default = settings.DATABASES["default"]
    if default["ENGINE"] != "django.db.backends.postgresql":
        yield f"sqlite:///{tmp_path_factory.mktemp('prod-db') / 'db.sqlite3'}"
        return
    name = default["NAME"].removeprefix("test_") + "_prodserver"
    admin = psycopg.connect(
        host=default["HOST"] or None,
        port=default["PORT"] or None,
        user=default["USER"] or None,
        password=default["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    admin.execute(drop)
    admin.execute(f'CREATE DATABASE "{name}"')
    url = urllib.parse.urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{name}").geturl()
    try:
        yield url
    finally:
        admin.execute(drop)
        admin.close()


@pytest.fixture(scope="module")
def static_root(test_pki):
    return collected_static(test_pki)


@pytest.fixture(scope="module")
def server(test_pki, database_url, static_root, tmp_path_factory):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = production_env(
        test_pki,
        DATABASE_URL=database_url,
        ALLOWED_HOSTS="127.0.0.1",
        SITE_URL=url,
        STATIC_ROOT=str(static_root),
        MEDIA_ROOT=str(tmp_path_factory.mktemp("prod-media")),
        SECURE_COOKIES="0",  # plain HTTP: a browser would not send secure cookies back
        SECURE_SSL_REDIRECT="0",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS=str(WORKERS),
    )
    for command in (
        ["migrate", "--no-input"],
        ["load_procedures", "--skip-existing"],
    ):
        result = manage(*command, "--verbosity", "0", env=env)
        assert result.returncode == 0, result.stderr
    result = manage(
        "createsurgeon", SURGEON, "--email", "prod@example.org", "--password-stdin",
        env=env, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr

    with Server(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py"], env=env, url=url
    ) as running:
        started = running.wait_for(
            running.stderr,
            lambda lines: sum("is warm" in x or "starts cold" in x for x in lines) >= WORKERS,
        )
        if not started:
            pytest.fail(f"gunicorn did not start:\n{running.error_log}")
        yield running


# --- a small browser: cookies, forms, no JavaScript ----------------------------------------


class Forms(HTMLParser):
    """Each <form> on a page, with the values a browser would submit without changes."""

    def __init__(self, html: str):
        super().__init__()
        self.forms: list[list[tuple[str, str]]] = []
        self._open = False
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append([])
            self._open = True
        elif not self._open or (not a.get("name") and tag != "option"):
            return
        elif tag == "input":
            kind = a.get("type", "text")
            if kind in {"submit", "button", "file"} or (
                kind in {"checkbox", "radio"} and "checked" not in a
            ):
                return
            self.forms[-1].append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self.forms[-1].append((a["name"], ""))
        elif tag == "select":
            self._select, self._options = a["name"], []
        elif tag == "option" and self._select:
            self._options.append((a.get("value", ""), "selected" in a))

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = False
        elif tag == "select" and self._select:
            chosen = [v for v, selected in self._options if selected] or [self._options[0][0]]
            self.forms[-1].append((self._select, chosen[0]))
            self._select = None

    def with_field(self, name: str) -> list[tuple[str, str]]:
        return next(form for form in self.forms if any(n == name for n, _ in form))


def filled(form: list[tuple[str, str]], **values) -> list[tuple[str, str]]:
    """The form's own values, with `values` (a list for a repeated field) put in."""
    data = [(n, v) for n, v in form if n not in values]
    for name, value in values.items():
        data += [(name, v) for v in value] if isinstance(value, list) else [(name, value)]
    return data


class Browser:
    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def request(self, path, data=None, *, headers=None, content_type=None):
        url = path if path.startswith("http") else self.base + path
        if isinstance(data, list):
            data = urllib.parse.urlencode(data).encode()
        request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.url, response.headers, response.read()
        except urllib.error.HTTPError as error:  # 4xx pages are answers too
            with error:
                return error.code, error.url, error.headers, error.read()

    def page(self, path, data=None, **kwargs) -> tuple[int, str, str]:
        status, url, _, body = self.request(path, data, **kwargs)
        return status, url, body.decode()


def multipart(fields: list[tuple[str, str]], name: str, filename: str, content: bytes):
    boundary = secrets.token_hex(16)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n{v}\r\n'.encode()
        for n, v in fields
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"'
        "\r\nContent-Type: application/pdf\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


# --- the tests ------------------------------------------------------------------------------


def test_one_consent_goes_from_issue_to_a_verified_pdf_through_gunicorn(server):
    surgeon = Browser(server.url)

    # The surgeon signs in.
    status, _, html = surgeon.page("/accounts/login/")
    assert status == 200
    login = Forms(html).with_field("username")
    status, url, html = surgeon.page(
        "/accounts/login/", filled(login, username=SURGEON, password=PASSWORD)
    )
    assert status == 200 and url == server.url + "/", html
    assert SURGEON in html or "New consent" in html

    # ...and issues a consent through the form.
    status, _, html = surgeon.page("/consents/new/lumbar-rhizotomy/")
    assert status == 200
    planned = datetime.date.today() + datetime.timedelta(days=30)
    issue = filled(
        Forms(html).with_field("full_name"),
        full_name="Ada Lovelace",
        date_of_birth="1964-03-27",
        hospital_number="MRN-1815",
        planned_date=planned.isoformat(),
    )
    status, url, html = surgeon.page("/consents/new/lumbar-rhizotomy/", issue)
    assert status == 200, html
    consent_url = url
    assert re.fullmatch(rf"{server.url}/consents/\d+/", consent_url)
    # The patient's link is shown once, on the consent's page.
    link = re.search(r'id="patient-link" type="text" readonly value="([^"]+)"', html).group(1)
    assert link.startswith(f"{server.url}/p/")
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert len(token) >= 40
    _, _, again = surgeon.page(consent_url)
    assert token not in again

    # The patient opens the link (from their email client, say) and proves who they are.
    patient = Browser(server.url)
    status, _, html = patient.page(link)
    assert status == 200 and "Day" in html
    identity = Forms(html).with_field("day")
    status, _, html = patient.page(
        link, filled(identity, day="1", month="1", year="1970"), headers={"Referer": link}
    )
    assert status == 400 and "does not match our records" in html
    identity = Forms(html).with_field("day")
    status, url, html = patient.page(
        link, filled(identity, day="27", month="3", year="1964"), headers={"Referer": link}
    )
    assert status == 200 and url == f"{server.url}/patient/", html
    assert "/p/" not in url

    # Every risk ticked, in one go, as the page's form does without JavaScript.
    status, _, html = patient.page("/patient/risks/", headers={"Referer": link})
    assert status == 200
    risks = Forms(html).with_field("shown")
    items = [v for n, v in risks if n == "shown"]
    assert len(items) == 6
    status, url, html = patient.page(
        "/patient/risks/", filled(risks, acknowledged=items, action="continue")
    )

    # Answers the check of understanding: the right answers are in the library file (the page
    # does not tell them apart).
    [rhizotomy] = [p for p in read_library_file(BUNDLED_LIBRARY) if p.slug == "lumbar-rhizotomy"]
    answers = {html_escape(check.question): check.answer for check in rhizotomy.checks}
    for _ in answers:
        assert url == f"{server.url}/patient/check/", html
        question = next(q for q in answers if q in html)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        status, url, html = patient.page(
            "/patient/check/", [("csrfmiddlewaretoken", token), ("answer", answers[question])]
        )
    assert url == f"{server.url}/patient/review/", html

    # Signs with the typed name.
    sign = Forms(html).with_field("typed_name")
    status, url, html = patient.page(
        "/patient/sign/", filled(sign, typed_name="Ada Lovelace", statement="on")
    )
    assert url == f"{server.url}/patient/done/", html
    assert "Your consent is signed" in html

    # Downloads the sealed PDF.
    status, _, headers, pdf = patient.request("/patient/document.pdf")
    assert status == 200 and headers["Content-Type"] == "application/pdf"
    assert pdf.startswith(b"%PDF")

    # Anyone can check it on /verify/: by uploading it...
    visitor = Browser(server.url)
    _, _, html = visitor.page("/verify/")
    body, content_type = multipart(Forms(html).with_field("code"), "document", "consent.pdf", pdf)
    status, _, html = visitor.page("/verify/", body, content_type=content_type)
    assert status == 200 and "Authentic and unchanged" in html, html

    # ...or by the code the surgeon's page shows.
    _, _, html = surgeon.page(consent_url)
    assert "Signed by <strong>Ada Lovelace</strong>" in html
    code = re.search(r"Verification code ([A-Z0-9-]+)", html).group(1)
    status, _, html = visitor.page("/verify/?" + urllib.parse.urlencode({"code": code}))
    assert status == 200 and "Authentic and unchanged" in html

    # The surgeon downloads the very same bytes.
    status, _, _, stored = surgeon.request(consent_url + "document.pdf")
    assert status == 200 and stored == pdf

    # Nothing logged the token: not gunicorn's access log (request line, Referer), not
    # Django's "Bad Request: /p/..." warning for the wrong date of birth.
    server.wait_for_access(f'"GET {urllib.parse.urlsplit(consent_url).path}document.pdf ')
    server.wait_for_error("Bad Request: /p/[redacted]/")
    assert token not in server.access_log
    assert token not in server.error_log
    assert '"GET /p/[redacted]/ HTTP/1.1" 200' in server.access_log
    assert f'"{server.url}/p/[redacted]/"' in server.access_log  # the Referer, redacted


def test_every_worker_is_warm_before_its_first_request(server):
    warm = [line for line in server.stderr if "is warm" in line]
    assert len(warm) == WORKERS
    assert "starts cold" not in server.error_log


def test_a_request_the_tls_proxy_marks_as_https_gets_hsts(server):
    # gunicorn trusts X-Forwarded-Proto from a proxy on 127.0.0.1 (FORWARDED_ALLOW_IPS).
    browser = Browser(server.url)
    _, _, headers, _ = browser.request("/verify/", headers={"X-Forwarded-Proto": "https"})
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    _, _, headers, _ = browser.request("/verify/")
    assert "Strict-Transport-Security" not in headers  # never on plain HTTP


def test_an_unknown_patient_link_is_logged_without_its_token(server):
    token = secrets.token_urlsafe(32)
    status, _, _, _ = Browser(server.url).request(f"/p/{token}/?next=%2Fp%2F{token}%2F")
    assert status == 404
    server.wait_for_access('"GET /p/[redacted]/?next=%2Fp%2F[redacted]%2F HTTP/1.1" 404')
    server.wait_for_error("Not Found: /p/[redacted]/")
    assert token not in server.access_log and token not in server.error_log
