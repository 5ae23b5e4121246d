import datetime
import hashlib
import io
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from consent import documents
from consent.documents import RestrictedURLFetcher, check_seal, html_to_pdf, read_document
from consent.models import AuditEvent, ConsentStatus, SignedDocument
from consent.services import (
    ConsentError,
    consent_answer_question,
    consent_ask_question,
    consent_withdraw,
)

from .helpers import EXTRA, patient_actor, png_signature, ready_to_sign, sign, surgeon_actor
from .test_patient_views import sign_in

pytestmark = pytest.mark.usefixtures("library")

NASTY = (
    '<img src="file:///etc/passwd"> <link rel="attachment" href="file:///etc/passwd"> Will it hurt?'
)


def signed_consent(surgeon, question=NASTY, slug="lumbar-fusion-l4-l5-s1"):
    consent, issued = ready_to_sign(surgeon, slug=slug, extra_risks=[EXTRA])
    q = consent_ask_question(
        consent=consent, item_id=consent.items.first().pk, text=question, actor=patient_actor()
    )
    consent_answer_question(
        consent=consent,
        question_id=q.pk,
        text="A little, for a few days.",
        actor=surgeon_actor(surgeon),
    )
    sign(consent, png=png_signature())
    consent.refresh_from_db()
    return consent, issued


def pdf_text(data: bytes) -> list[str]:
    return [
        " ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(data)).pages
    ]


class TestContent:
    def test_the_pdf_says_everything_that_was_shown_and_agreed(self, surgeon):
        consent, _ = signed_consent(surgeon)
        data = read_document(consent.document)
        text = " ".join(pdf_text(data))
        for expected in [
            "Example Hospital",
            "Ada Lovelace",
            "27 March 1964",
            "MRN123",
            consent.procedure_name,
            f"Revision {consent.procedure_revision}",
            consent.content_sha256,
            "Will it hurt?",
            "A little, for a few days.",
            EXTRA.title,
            "I consent to Lumbar fusion at L4-L5-S1.",
            "Drawn signature and typed name",
            consent.document.display_code,
            "Identity confirmed (date of birth)",
            "192.0.2.7",
        ]:
            assert expected in text, expected
        for item in consent.items.all():
            assert item.title in text, item.title

    def test_every_page_has_its_number_and_the_patient_name(self, surgeon):
        consent, _ = signed_consent(surgeon)
        pages = pdf_text(read_document(consent.document))
        assert len(pages) >= 2
        for number, text in enumerate(pages, start=1):
            assert f"Page {number} of {len(pages)}" in text
            assert "Ada Lovelace" in text

    def test_it_is_tagged_with_a_title_and_language(self, surgeon):
        consent, _ = signed_consent(surgeon)
        reader = PdfReader(io.BytesIO(read_document(consent.document)))
        root = reader.trailer["/Root"]
        assert root["/Lang"] in ("en", "en-GB", "en-gb")
        assert bool(root["/MarkInfo"]["/Marked"])
        assert "/StructTreeRoot" in root
        assert reader.metadata.title.startswith("Informed consent: Lumbar fusion at L4-L5-S1")
        xmp = root["/Metadata"].get_object().get_data()
        assert b"pdfuaid:part>1<" in xmp or b'pdfuaid:part="1"' in xmp  # PDF/UA-1

    def test_the_file_is_small(self, surgeon):
        consent, _ = signed_consent(surgeon)
        assert consent.document.size < 150 * 1024


class TestSeal:
    def test_the_seal_validates_against_the_trust_root(self, surgeon):
        consent, _ = signed_consent(surgeon)
        data = read_document(consent.document)
        assert check_seal(data).valid
        assert hashlib.sha256(data).hexdigest() == consent.document.sha256
        signature = PdfReader(io.BytesIO(data)).trailer["/Root"]["/AcroForm"]["/Fields"][0]["/V"]
        assert signature["/Reason"] == "Patient informed consent"
        assert signature["/Location"] == "Example Hospital"
        assert signature["/SubFilter"] == "/ETSI.CAdES.detached"

    def test_a_flipped_byte_breaks_the_seal(self, surgeon):
        consent, _ = signed_consent(surgeon)
        data = bytearray(read_document(consent.document))
        data[len(data) // 3] ^= 0x01
        assert not check_seal(bytes(data)).valid

    def test_a_seal_from_another_authority_is_not_trusted(self, surgeon, tmp_path, settings):
        from consent.pki import create_dev_pki

        consent, _ = signed_consent(surgeon)
        other = create_dev_pki(tmp_path / "other", organisation="Other Hospital")
        settings.PDF_TRUST_ROOTS = [other.ca_cert]
        result = check_seal(read_document(consent.document))
        assert not result.valid and "not from this hospital" in result.reason

    def test_a_document_stays_authentic_after_its_certificate_expires(self, surgeon):
        """Checked as of when we sealed it: years later, once the sealing certificate has
        expired, the hospital's records must still verify."""
        consent, _ = signed_consent(surgeon)
        data = read_document(consent.document)
        code = consent.document.verification_code
        with time_machine.travel(timezone.now() + datetime.timedelta(days=3 * 365)):
            assert not check_seal(data).valid  # as of today the certificate has expired
            assert documents.verify_bytes(data).authentic
            assert documents.verify_code(code).authentic

    def test_a_seal_made_after_the_certificate_expired_is_refused(self, surgeon):
        consent, _ = signed_consent(surgeon)
        later = timezone.now() + datetime.timedelta(days=3 * 365)
        assert not check_seal(read_document(consent.document), sealed_at=later).valid

    def test_signing_is_rolled_back_when_the_document_cannot_be_made(self, surgeon, monkeypatch):
        consent, _ = ready_to_sign(surgeon)

        def broken(pdf):
            raise documents.DocumentError("no key")

        monkeypatch.setattr(documents, "seal_pdf", broken)
        with pytest.raises(ConsentError, match="nothing was signed"):
            sign(consent)
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.IN_REVIEW
        assert not SignedDocument.objects.exists()
        assert not consent.signatures.exists()


class TestNothingIsFetched:
    def test_html_and_links_in_a_question_are_neither_rendered_nor_fetched(
        self, surgeon, monkeypatch
    ):
        fetched: list[str] = []
        original = RestrictedURLFetcher.fetch

        def spy(self, url, headers=None):
            fetched.append(url)
            return original(self, url, headers)

        monkeypatch.setattr(RestrictedURLFetcher, "fetch", spy)
        consent, _ = signed_consent(surgeon)
        data = read_document(consent.document)
        assert not any("passwd" in url for url in fetched), fetched
        assert all(url.startswith("data:") for url in fetched), fetched
        assert b"root:x:0" not in data
        assert "/EmbeddedFiles" not in str(
            PdfReader(io.BytesIO(data)).trailer["/Root"].get("/Names", {})
        )
        assert '<img src="file:///etc/passwd">' in " ".join(pdf_text(data))  # shown as text

    def test_the_fetcher_refuses_files_outside_static_and_the_network(self):
        fetcher = RestrictedURLFetcher(documents._static_roots())
        html = """<html lang="en"><head><title>t</title>
            <link rel="attachment" href="file:///etc/passwd">
            <link rel="stylesheet" href="http://127.0.0.1:9/evil.css"></head><body>
            <img src="file:///etc/passwd" alt="x"><img src="https://example.org/x.png" alt="y">
            <img src="../../../../etc/hostname" alt="z">
            <a rel="attachment" href="file:///etc/passwd">a</a>
            <img src="pdf/consent.css" alt="static is allowed"></body></html>"""
        data = html_to_pdf(html, fetcher=fetcher)
        assert "file:///etc/passwd" in fetcher.refused
        assert "http://127.0.0.1:9/evil.css" in fetcher.refused
        assert "https://example.org/x.png" in fetcher.refused
        assert any(url.endswith("/etc/hostname") for url in fetcher.refused)
        assert not any(url.endswith("pdf/consent.css") for url in fetcher.refused)
        assert b"root:x:0" not in data
        assert b"/EmbeddedFile" not in data


class TestDownloads:
    def test_the_surgeon_downloads_the_stored_bytes(self, client, surgeon, monkeypatch):
        consent, _ = signed_consent(surgeon)
        stored = read_document(consent.document)
        monkeypatch.setattr(documents, "html_to_pdf", lambda *a, **k: pytest.fail("re-rendered"))
        client.force_login(surgeon)
        url = reverse("consent_document", args=[consent.pk])
        first, second = client.get(url), client.get(url)
        assert first.status_code == 200
        assert first.content == second.content == stored
        assert first["Content-Type"] == "application/pdf"
        assert first["Content-Disposition"].startswith(
            'attachment; filename="consent-lumbar-fusion-l4-l5-s1-lovelace-'
        )
        assert first["Cache-Control"] == "no-store"
        assert AuditEvent.objects.filter(consent=consent, action="document_downloaded").count() == 2

    def test_another_surgeon_gets_404(self, client, surgeon, outsider):
        consent, _ = signed_consent(surgeon)
        client.force_login(outsider)
        assert client.get(reverse("consent_document", args=[consent.pk])).status_code == 404

    def test_anonymous_users_are_refused(self, client, surgeon):
        consent, _ = signed_consent(surgeon)
        response = client.get(reverse("consent_document", args=[consent.pk]))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        assert b"%PDF" not in response.content

    def test_staff_with_the_permission_can_download(self, client, surgeon, plain_user):
        consent, _ = signed_consent(surgeon)
        plain_user.user_permissions.add(Permission.objects.get(codename="view_all_consents"))
        client.force_login(plain_user)
        assert client.get(reverse("consent_document", args=[consent.pk])).status_code == 200

    def test_an_unsigned_consent_has_no_document(self, client, surgeon):
        consent, _ = ready_to_sign(surgeon)
        client.force_login(surgeon)
        assert client.get(reverse("consent_document", args=[consent.pk])).status_code == 404

    def test_the_patient_downloads_their_copy_from_the_confirmation(self, client, surgeon):
        consent, issued = signed_consent(surgeon)
        sign_in(client, issued)
        page = client.get(reverse("patient_done"))
        assert "Download your copy (PDF)" in page.text
        response = client.get(reverse("patient_document"))
        assert response.status_code == 200
        assert response.content == read_document(consent.document)
        assert AuditEvent.objects.filter(
            consent=consent, action="document_downloaded", actor_type="patient"
        ).exists()

    def test_the_surgeon_page_links_the_pdf_and_its_code(self, client, surgeon):
        consent, _ = signed_consent(surgeon)
        client.force_login(surgeon)
        page = client.get(reverse("consent_detail", args=[consent.pk]))
        assert "Download the signed PDF" in page.text
        assert consent.document.display_code in page.text

    def test_a_withdrawn_consent_keeps_its_document(self, client, surgeon):
        consent, _ = signed_consent(surgeon)
        consent_withdraw(consent=consent, reason="", actor=patient_actor())
        client.force_login(surgeon)
        assert client.get(reverse("consent_document", args=[consent.pk])).status_code == 200


class TestVerify:
    def test_a_code_shows_procedure_date_and_initials_only(self, client, surgeon):
        consent, _ = signed_consent(surgeon)
        response = client.post(reverse("verify"), {"code": consent.document.display_code.lower()})
        assert "Authentic and unchanged" in response.text
        assert consent.procedure_name in response.text
        assert "A.L." in response.text
        assert "Ada Lovelace" not in response.text
        assert "1964" not in response.text

    def test_the_qr_code_link_checks_at_once(self, client, surgeon):
        consent, _ = signed_consent(surgeon)
        response = client.get(reverse("verify"), {"code": consent.document.verification_code})
        assert "Authentic and unchanged" in response.text

    def test_an_unknown_code_asks_to_check_what_was_typed(self, client):
        response = client.post(reverse("verify"), {"code": "AAAA-BBBB-CCCC"})
        assert "No document has this code" in response.text
        assert "no document has this verification code" in response.text
        assert "Authentic" not in response.text

    def test_a_code_says_it_checked_our_copy_not_the_readers(self, client, surgeon):
        consent, _ = signed_consent(surgeon)
        response = client.post(reverse("verify"), {"code": consent.document.verification_code})
        assert "This checks our copy, not yours" in response.text

    def test_a_withdrawn_consent_is_said_to_be_withdrawn_first(self, client, surgeon):
        consent, _ = signed_consent(surgeon)
        consent_withdraw(consent=consent, reason="", actor=patient_actor())
        response = client.post(reverse("verify"), {"code": consent.document.verification_code})
        text = response.text
        assert text.index("Withdrawn by the patient") < text.index("Authentic and unchanged")
        assert "no longer gives consent" in text

    def test_an_uploaded_original_is_authentic(self, client, surgeon):
        consent, _ = signed_consent(surgeon)
        upload = io.BytesIO(read_document(consent.document))
        upload.name = "consent.pdf"
        response = client.post(reverse("verify"), {"document": upload})
        assert "Authentic and unchanged" in response.text

    def test_an_upload_with_one_flipped_byte_is_not_authentic(self, client, surgeon):
        consent, _ = signed_consent(surgeon)
        data = bytearray(read_document(consent.document))
        data[len(data) // 2] ^= 0x01
        upload = io.BytesIO(bytes(data))
        upload.name = "consent.pdf"
        response = client.post(reverse("verify"), {"document": upload})
        assert "Not authentic" in response.text

    def test_a_stored_file_changed_on_disk_is_not_authentic(self, client, surgeon):
        consent, _ = signed_consent(surgeon)
        path = Path(consent.document.file.path)
        data = bytearray(path.read_bytes())
        data[-100] ^= 0x01
        path.write_bytes(bytes(data))
        response = client.post(reverse("verify"), {"code": consent.document.verification_code})
        assert "Not authentic" in response.text and "changed after it was sealed" in response.text

    def test_a_non_pdf_gets_a_clear_message(self, client):
        upload = io.BytesIO(b"GIF89a not a pdf")
        upload.name = "photo.gif"
        response = client.post(reverse("verify"), {"document": upload})
        assert response.status_code == 400
        assert "This file is not a PDF" in response.text

    def test_a_large_upload_is_refused(self, client, settings):
        settings.VERIFY_UPLOAD_MAX_BYTES = 1024
        upload = io.BytesIO(b"%PDF-1.7" + b"0" * 2048)
        upload.name = "big.pdf"
        response = client.post(reverse("verify"), {"document": upload})
        assert "too large" in response.text

    def test_an_empty_form_says_what_to_do(self, client):
        response = client.post(reverse("verify"), {})
        assert "Enter the verification code, or upload the PDF" in response.text


class TestVerifyCommand:
    def test_an_authentic_file_passes(self, surgeon, tmp_path):
        consent, _ = signed_consent(surgeon)
        path = tmp_path / "consent.pdf"
        path.write_bytes(read_document(consent.document))
        out = StringIO()
        call_command("verify_pdf", str(path), stdout=out)
        assert "authentic and unchanged" in out.getvalue() and "A.L." in out.getvalue()

    def test_a_flipped_byte_fails(self, surgeon, tmp_path):
        consent, _ = signed_consent(surgeon)
        data = bytearray(read_document(consent.document))
        data[len(data) // 2] ^= 0x01
        path = tmp_path / "consent.pdf"
        path.write_bytes(bytes(data))
        with pytest.raises(CommandError, match="NOT AUTHENTIC"):
            call_command("verify_pdf", str(path))

    def test_a_non_pdf_fails(self, tmp_path):
        path = tmp_path / "notes.txt"
        path.write_text("hello")
        with pytest.raises(CommandError, match="not a PDF"):
            call_command("verify_pdf", str(path))
