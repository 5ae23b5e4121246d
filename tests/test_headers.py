"""Response headers: a strict Content-Security-Policy everywhere, and no caching of any page a
view makes (patients' names, hospital numbers, consents, PDFs)."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from consent.middleware import NoStoreMiddleware

from .helpers import issue, ready_to_sign, sign

pytestmark = pytest.mark.usefixtures("library")


def directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


class TestContentSecurityPolicy:
    def test_it_allows_only_our_own_scripts_styles_and_images(self, client, surgeon):
        client.force_login(surgeon)
        policy = directives(client.get(reverse("home")))
        assert policy["default-src"] == "'none'"
        assert policy["script-src"] == "'self'"
        assert policy["style-src"] == "'self'"
        assert policy["img-src"] == "'self' data:"
        assert policy["connect-src"] == "'self'"
        assert policy["form-action"] == "'self'"
        assert policy["frame-ancestors"] == "'none'"
        assert policy["base-uri"] == "'none'"
        assert policy["object-src"] == "'none'"
        assert "unsafe" not in " ".join(policy.values())

    def test_every_kind_of_page_has_it(self, client, surgeon, admin_user):
        _, issued = issue(surgeon)
        assert "script-src" in client.get(reverse("login"))["Content-Security-Policy"]
        assert "script-src" in client.get(reverse("verify"))["Content-Security-Policy"]
        link = client.get(reverse("patient_link", args=[issued.token]))
        assert "script-src" in link["Content-Security-Policy"]
        client.force_login(admin_user)
        assert "script-src" in client.get(reverse("admin:index"))["Content-Security-Policy"]

    def test_no_template_has_an_inline_script_style_or_event_handler(self):
        """What the browser test checks page by page, checked here for every template."""
        inline = re.compile(
            r"""\sstyle\s*=|<style[\s>]|<script(?![^>]*\ssrc=)[^>]*>|\son[a-z]+\s*=|javascript:""",
            re.IGNORECASE,
        )
        offenders = []
        for path in Path(settings.BASE_DIR, "templates").rglob("*.html"):
            if "pdf" in path.parts:  # rendered by WeasyPrint, never by a browser
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if inline.search(line):
                    offenders.append(f"{path.name}:{number}: {line.strip()}")
        assert offenders == []


class TestNoStore:
    def test_the_dashboard_is_not_stored(self, client, surgeon):
        issue(surgeon)
        client.force_login(surgeon)
        response = client.get(reverse("home"))
        assert "Ada Lovelace" in response.text and "MRN123" in response.text
        assert "no-store" in response["Cache-Control"]

    def test_no_page_showing_patient_data_is_stored(self, client, surgeon, admin_user):
        consent, issued = ready_to_sign(surgeon)
        sign(consent)
        client.force_login(surgeon)
        surgeon_pages = [
            reverse("home"),
            reverse("library"),
            reverse("consent_new"),
            reverse("consent_detail", args=[consent.pk]),
            reverse("consent_document", args=[consent.pk]),
            reverse("verify") + f"?code={consent.document.verification_code}",
        ]
        for url in surgeon_pages:
            response = client.get(url)
            assert response.status_code == 200, url
            assert "no-store" in response["Cache-Control"], url

        patient = client.__class__()
        # The link issued before signing still opens the signed consent (to withdraw).
        link = reverse("patient_link", args=[issued.token])
        patient.post(link, {"day": "27", "month": "3", "year": "1964"})
        for url in [reverse("patient_done"), reverse("patient_document")]:
            response = patient.get(url)
            assert response.status_code == 200, url
            assert "no-store" in response["Cache-Control"], url

        admin = client.__class__()
        admin.force_login(admin_user)
        for url in [
            reverse("admin:consent_consent_changelist"),
            reverse("admin:consent_consent_change", args=[consent.pk]),
            reverse("admin:consent_patient_changelist"),
        ]:
            response = admin.get(url)
            assert response.status_code == 200, url
            assert "no-store" in response["Cache-Control"], url

    def test_redirects_and_errors_are_not_stored_either(self, client, surgeon, outsider):
        consent, _ = issue(surgeon)
        assert client.get(reverse("home"))["Cache-Control"] == "no-store"  # to the sign-in
        client.force_login(outsider)
        response = client.get(reverse("consent_detail", args=[consent.pk]))
        assert response.status_code == 404
        assert "no-store" in response["Cache-Control"]

    def test_static_files_keep_their_own_caching(self, client):
        response = client.get("/static/css/app.css")
        response.close()
        assert response.status_code == 200
        assert "no-store" not in response.get("Cache-Control", "")

    def test_a_view_that_sets_its_own_cache_control_keeps_it(self):
        def view(request):
            response = HttpResponse("public")
            response["Cache-Control"] = "public, max-age=60"
            return response

        response = NoStoreMiddleware(view)(RequestFactory().get("/"))
        assert response["Cache-Control"] == "public, max-age=60"
