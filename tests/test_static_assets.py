"""Static files as production serves them, and what each patient page loads.

A phone on a weak signal pays for every byte of the first visit (bench/page_weight.py measures
it): so WhiteNoise must send the collected files compressed, under hashed names cached for a
year, and each patient page must load only the scripts it uses. These tests run against the
output of collectstatic (CompressedManifestStaticFilesStorage, as in production), made once and
kept between runs (tests/production.py).
"""

import gzip
import re
from html.parser import HTMLParser

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.test import Client, override_settings
from django.urls import reverse

from consent.services import consent_reissue_link
from tests.production import collected_static

from .helpers import issue, ready_to_sign, sign, surgeon_actor

pytestmark = pytest.mark.usefixtures("library")

RIGHT = {"day": "27", "month": "3", "year": "1964"}
YEAR = "max-age=31536000, public, immutable"
HASHED = re.compile(r"^/static/(?P<name>.+)\.[0-9a-f]{12}\.(?P<ext>[a-z]+)$")

# The scripts each patient page uses; every other patient page uses none.
# A refused form also brings the script that focuses its list of problems.
SCRIPTS = {
    "identity refused": {"js/error-summary.js"},
    "risks": {"js/reading-time.js", "js/acknowledge.js"},
    "question refused": {"js/error-summary.js", "js/reading-time.js", "js/acknowledge.js"},
    "review": {"vendor/signature_pad/signature_pad.umd.min.js", "js/signature.js"},
    "sign refused": {
        "js/error-summary.js",
        "vendor/signature_pad/signature_pad.umd.min.js",
        "js/signature.js",
    },
}


@pytest.fixture(scope="module")
def static_root(test_pki):
    return collected_static(test_pki)


@pytest.fixture
def production_static(static_root):
    """Settings as in production for static files: the manifest storage over the collected
    files, WhiteNoise serving them (no finders, no autorefresh)."""
    with override_settings(
        STATIC_ROOT=static_root,
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
        },
        WHITENOISE_USE_FINDERS=False,
        WHITENOISE_AUTOREFRESH=False,
    ):
        yield static_root


class Assets(HTMLParser):
    """The stylesheets, scripts and icons a page asks for."""

    def __init__(self, html: str):
        super().__init__()
        self.styles: list[str] = []
        self.scripts: list[str] = []
        self.icons: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            assert a.get("src"), "an inline script (the CSP refuses it)"
            self.scripts.append(a["src"])
        elif tag == "link" and a.get("rel") == "stylesheet":
            self.styles.append(a["href"])
        elif tag == "link" and a.get("rel") == "icon":
            self.icons.append(a["href"])

    @property
    def all(self) -> list[str]:
        return self.styles + self.scripts + self.icons


def unhashed(url: str) -> str:
    match = HASHED.match(url)
    assert match, f"{url} has no hashed name"
    return f"{match['name']}.{match['ext']}"


def patient_pages(surgeon) -> dict[str, tuple[Client, str, dict | None]]:
    """Every patient page: (the patient's browser, the URL, the form posted or None)."""

    def signed_in(issued) -> Client:
        client = Client()
        assert client.post(reverse("patient_link", args=[issued.token]), RIGHT).status_code == 302
        return client

    consent, issued = issue(surgeon)
    item = consent.items.first()
    walking = signed_in(issued)
    _, ready = ready_to_sign(surgeon)
    reviewing = signed_in(ready)
    signed, signed_link = ready_to_sign(surgeon)
    signed_client = signed_in(signed_link)
    sign(signed)
    replaced, _ = issue(surgeon)
    old_link = consent_reissue_link(consent=replaced, actor=surgeon_actor(surgeon))
    consent_reissue_link(consent=replaced, actor=surgeon_actor(surgeon))
    stranger = Client()
    return {
        "identity": (stranger, reverse("patient_link", args=[issued.token]), None),
        "identity refused": (
            Client(),
            reverse("patient_link", args=[issue(surgeon)[1].token]),
            {"day": "1", "month": "1", "year": "1990"},
        ),
        "overview": (walking, reverse("patient_start"), None),
        "risks": (walking, reverse("patient_risks"), None),
        "question refused": (
            walking,
            reverse("patient_question", args=[item.pk]),
            {"question": ""},
        ),
        "review": (reviewing, reverse("patient_review"), None),
        "sign refused": (reviewing, reverse("patient_sign"), {"typed_name": ""}),
        "done": (signed_client, reverse("patient_done"), None),
        "withdraw": (signed_client, reverse("patient_withdraw"), None),
        "leave": (walking, reverse("patient_sign_out"), None),
        "left": (Client(), reverse("patient_sign_out"), {}),
        "session ended": (stranger, reverse("patient_risks"), None),
        "link unknown": (stranger, reverse("patient_link", args=["no-such-link"]), None),
        "link replaced": (stranger, reverse("patient_link", args=[old_link.token]), None),
    }


def open_page(client: Client, url: str, form: dict | None):
    response = client.get(url) if form is None else client.post(url, form)
    assert response.status_code in {200, 400, 401, 403, 404, 410}, (url, response.status_code)
    assert response["Content-Type"].startswith("text/html"), url
    return response


class TestCollectedFiles:
    def test_it_serves_a_hashed_stylesheet_compressed_and_cached_for_a_year(
        self, production_static
    ):
        url = staticfiles_storage.url("vendor/bootstrap/css/bootstrap.min.css")
        assert unhashed(url) == "vendor/bootstrap/css/bootstrap.min.css"
        client = Client()  # a new client: WhiteNoise reads the collected files when it starts
        for offered, sent in (("gzip, deflate, br", "br"), ("gzip, deflate", "gzip")):
            response = client.get(url, HTTP_ACCEPT_ENCODING=offered)
            body = b"".join(response.streaming_content)
            response.close()
            assert response.status_code == 200
            assert response["Content-Encoding"] == sent, offered
            assert response["Cache-Control"] == YEAR
            assert "Accept-Encoding" in response["Vary"]
            assert len(body) < 40_000  # Bootstrap's 232 KB, compressed

    def test_it_keeps_a_file_asked_for_by_its_plain_name_for_a_minute_only(self, production_static):
        client = Client()
        response = client.get("/static/css/app.css", HTTP_ACCEPT_ENCODING="gzip")
        response.close()
        assert response.status_code == 200
        assert "immutable" not in response["Cache-Control"]
        assert "max-age=60" in response["Cache-Control"]


class TestPatientPages:
    def test_they_load_only_hashed_files_that_have_compressed_copies(
        self, production_static, surgeon
    ):
        for name, (client, url, form) in patient_pages(surgeon).items():
            assets = Assets(open_page(client, url, form).text)
            assert assets.styles, name
            for asset in assets.all:
                path = production_static / unhashed(asset)
                collected = production_static / asset.removeprefix("/static/")
                assert path.exists() and collected.exists(), (name, asset)
                if not asset.endswith(".svg"):  # too small for WhiteNoise to compress
                    assert collected.with_name(collected.name + ".gz").exists(), (name, asset)
                    assert collected.with_name(collected.name + ".br").exists(), (name, asset)

    def test_each_loads_only_the_scripts_it_uses(self, production_static, surgeon):
        for name, (client, url, form) in patient_pages(surgeon).items():
            scripts = Assets(open_page(client, url, form).text).scripts
            assert {unhashed(s) for s in scripts} == SCRIPTS.get(name, set()), name
            assert len(scripts) == len(set(scripts)), name

    def test_scripts_come_in_the_order_they_need(self, production_static, surgeon):
        client, url, form = patient_pages(surgeon)["review"]
        scripts = [unhashed(s) for s in Assets(open_page(client, url, form).text).scripts]
        assert scripts == ["vendor/signature_pad/signature_pad.umd.min.js", "js/signature.js"]


class TestSurgeonPages:
    def test_the_menu_brings_its_script_for_narrow_screens(self, production_static, surgeon):
        client = Client()
        client.force_login(surgeon)
        page = client.get(reverse("home"))
        assert 'data-bs-toggle="collapse"' in page.text
        scripts = [unhashed(s) for s in Assets(page.text).scripts]
        assert scripts == ["vendor/bootstrap/js/bootstrap.bundle.min.js"]
        assert "defer" in page.text.split("bootstrap.bundle.min.")[1].split(">")[0]

    def test_pages_without_the_menu_go_without_it(self, production_static):
        for url in (reverse("login"), reverse("verify")):
            page = Client().get(url)
            assert page.status_code == 200
            assert Assets(page.text).scripts == [], url


class TestPagesCompressed:
    """Pages go out compressed to a browser that accepts it (a 12-risk page is 26 KB raw)."""

    def test_a_patient_page_is_gzipped_with_random_padding(self, surgeon):
        _, issued = issue(surgeon, "lumbar-fusion-l4-l5-s1")
        client = Client()
        assert client.post(reverse("patient_link", args=[issued.token]), RIGHT).status_code == 302
        pages = [
            client.get(reverse("patient_risks"), HTTP_ACCEPT_ENCODING="gzip") for _ in range(2)
        ]
        for page in pages:
            assert page.status_code == 200
            assert page["Content-Encoding"] == "gzip"
            assert "Accept-Encoding" in page["Vary"]
            assert len(page.content) < 10_000
        assert "I have read and understood" in gzip.decompress(pages[0].content).decode()
        # Django's BREACH mitigation: the same page never compresses to the same bytes.
        assert pages[0].content != pages[1].content

    def test_a_browser_that_does_not_ask_gets_plain_text(self):
        page = Client().get(reverse("login"))
        assert not page.has_header("Content-Encoding")
