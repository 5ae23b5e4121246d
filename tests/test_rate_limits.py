"""Limits on the public pages: rate limits per client address (held in the database, exact
under concurrency), request bodies refused before they are read, and seals validated only for
documents we issued."""

import datetime
import io
import socket

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from consent import documents
from consent.documents import read_document
from consent.models import RateLimitCounter
from consent.ratelimit import rate_limit_hit

from .helpers import issue, ready_to_sign, run_concurrently, sign

RIGHT = {"day": "27", "month": "3", "year": "1964"}
WRONG = {"day": "1", "month": "1", "year": "1970"}


def signed(surgeon):
    consent, _ = ready_to_sign(surgeon)
    sign(consent)
    consent.refresh_from_db()
    return consent


def pdf_upload(data: bytes, name="consent.pdf"):
    upload = io.BytesIO(data)
    upload.name = name
    return upload


@pytest.mark.django_db
class TestCounter:
    def test_it_allows_the_rate_then_refuses(self):
        hits = [rate_limit_hit(scope="test", key="192.0.2.1", rate=(3, 60)) for _ in range(5)]
        assert [h.allowed for h in hits] == [True, True, True, False, False]
        assert [h.count for h in hits] == [1, 2, 3, 4, 5]
        assert all(0 < h.retry_after <= 60 for h in hits)

    def test_addresses_and_scopes_are_counted_apart(self):
        for _ in range(2):
            rate_limit_hit(scope="test", key="192.0.2.1", rate=(2, 60))
        assert not rate_limit_hit(scope="test", key="192.0.2.1", rate=(2, 60)).allowed
        assert rate_limit_hit(scope="test", key="192.0.2.2", rate=(2, 60)).allowed
        assert rate_limit_hit(scope="other", key="192.0.2.1", rate=(2, 60)).allowed

    def test_a_new_window_starts_afresh(self):
        with time_machine.travel(datetime.datetime(2030, 1, 1, 9, 0, 10, tzinfo=datetime.UTC)):
            for _ in range(3):
                rate_limit_hit(scope="test", key="a", rate=(2, 60))
            refused = rate_limit_hit(scope="test", key="a", rate=(2, 60))
            assert not refused.allowed and refused.retry_after == 50
        with time_machine.travel(datetime.datetime(2030, 1, 1, 9, 1, 0, tzinfo=datetime.UTC)):
            assert rate_limit_hit(scope="test", key="a", rate=(2, 60)).count == 1

    def test_it_stores_no_address_and_drops_windows_that_ended(self):
        with time_machine.travel(datetime.datetime(2030, 1, 1, 9, 0, 0, tzinfo=datetime.UTC)):
            rate_limit_hit(scope="test", key="198.51.100.23", rate=(5, 60))
        row = RateLimitCounter.objects.get()
        assert "198.51.100.23" not in str(row.__dict__)
        with time_machine.travel(datetime.datetime(2030, 1, 1, 10, 0, 0, tzinfo=datetime.UTC)):
            rate_limit_hit(scope="test", key="198.51.100.99", rate=(5, 60))
        assert RateLimitCounter.objects.count() == 1  # the old window went


@pytest.mark.django_db(transaction=True)
def test_exactly_the_limit_passes_when_requests_race(settings):
    """Twelve simultaneous checks from one address, each a separate request with its own
    database connection, against a limit of five: exactly five are answered."""
    settings.VERIFY_RATE_LIMIT = (5, 3600)

    def check():
        client = Client(REMOTE_ADDR="203.0.113.9")
        return client.get(reverse("verify"), {"code": "AAAA-BBBB-CCCC"}).status_code

    results = run_concurrently(check, threads=12)
    assert sorted(results) == [200] * 5 + [429] * 7
    assert RateLimitCounter.objects.get().hits == 12


@pytest.mark.django_db
class TestVerifyRateLimit:
    def test_checks_beyond_the_limit_get_a_plain_429_with_retry_after(self, client, settings):
        settings.VERIFY_RATE_LIMIT = (2, 60)
        for _ in range(2):
            assert client.post(reverse("verify"), {"code": "AAAA-BBBB-CCCC"}).status_code == 200
        response = client.post(reverse("verify"), {"code": "AAAA-BBBB-CCCC"})
        assert response.status_code == 429
        assert 0 < int(response["Retry-After"]) <= 60
        assert "too many tries" in response.text
        assert "Please try again in 1 minute" in response.text
        assert "no-store" in response["Cache-Control"]

    def test_uploads_and_qr_code_links_count_but_the_empty_form_does_not(self, client, settings):
        settings.VERIFY_RATE_LIMIT = (2, 60)
        for _ in range(5):
            assert client.get(reverse("verify")).status_code == 200
        client.get(reverse("verify"), {"code": "AAAA-BBBB-CCCC"})
        client.post(reverse("verify"), {"document": pdf_upload(b"%PDF-1.7 not ours")})
        assert client.get(reverse("verify"), {"code": "AAAA"}).status_code == 429

    def test_other_addresses_are_not_held_up(self, settings):
        settings.VERIFY_RATE_LIMIT = (1, 60)
        busy, other = Client(REMOTE_ADDR="192.0.2.1"), Client(REMOTE_ADDR="192.0.2.2")
        busy.post(reverse("verify"), {"code": "AAAA-BBBB-CCCC"})
        assert busy.post(reverse("verify"), {"code": "AAAA-BBBB-CCCC"}).status_code == 429
        assert other.post(reverse("verify"), {"code": "AAAA-BBBB-CCCC"}).status_code == 200

    def test_behind_a_proxy_each_client_address_counts_apart(self, settings):
        settings.VERIFY_RATE_LIMIT = (1, 60)
        settings.TRUSTED_PROXY_COUNT = 1
        proxy = Client(REMOTE_ADDR="10.0.0.2")
        first = {"HTTP_X_FORWARDED_FOR": "192.0.2.1"}
        second = {"HTTP_X_FORWARDED_FOR": "192.0.2.2"}
        url = reverse("verify")
        assert proxy.post(url, {"code": "AAAA-BBBB-CCCC"}, **first).status_code == 200
        assert proxy.post(url, {"code": "AAAA-BBBB-CCCC"}, **first).status_code == 429
        assert proxy.post(url, {"code": "AAAA-BBBB-CCCC"}, **second).status_code == 200

    def test_the_limit_is_lifted_when_the_window_ends(self, client, settings):
        settings.VERIFY_RATE_LIMIT = (1, 60)
        start = timezone.now().replace(second=5, microsecond=0)
        with time_machine.travel(start):
            client.post(reverse("verify"), {"code": "AAAA-BBBB-CCCC"})
            assert client.post(reverse("verify"), {"code": "AAAA"}).status_code == 429
        with time_machine.travel(start + datetime.timedelta(seconds=60)):
            assert client.post(reverse("verify"), {"code": "AAAA"}).status_code == 200


@pytest.mark.django_db
class TestVerifyUploads:
    def test_a_body_over_the_limit_is_refused_with_a_plain_413(self, client, settings):
        settings.VERIFY_UPLOAD_MAX_BYTES = 1024
        big = pdf_upload(b"%PDF-1.7" + b"0" * (100 * 1024))
        response = client.post(reverse("verify"), {"document": big})
        assert response.status_code == 413
        assert "too large" in response.text
        assert "no-store" in response["Cache-Control"]
        assert not RateLimitCounter.objects.exists()  # refused before anything else ran

    def test_a_file_just_over_the_limit_gets_the_forms_message(self, client, settings):
        settings.VERIFY_UPLOAD_MAX_BYTES = 1024
        response = client.post(reverse("verify"), {"document": pdf_upload(b"%PDF-" + b"0" * 1100)})
        assert response.status_code == 400
        assert "too large to check here" in response.text

    def test_an_unknown_file_is_answered_without_validating_a_seal(
        self, client, surgeon, library, monkeypatch
    ):
        consent = signed(surgeon)
        data = bytearray(read_document(consent.document))
        data[len(data) // 2] ^= 0x01  # a sealed PDF, changed: not one we issued
        validated = []
        real_check = documents.check_seal
        monkeypatch.setattr(
            documents,
            "check_seal",
            lambda pdf, **kw: validated.append(pdf) or real_check(pdf, **kw),
        )
        response = client.post(reverse("verify"), {"document": pdf_upload(bytes(data))})
        assert "Not authentic" in response.text
        assert "not a document we issued" in response.text
        assert validated == []
        response = client.post(
            reverse("verify"), {"document": pdf_upload(read_document(consent.document))}
        )
        assert "Authentic and unchanged" in response.text
        assert len(validated) == 1  # ours: the seal is validated in full


def test_a_large_body_is_refused_before_it_is_read(live_server, settings):
    """A client declares a 50 MB upload and sends almost none of it: the answer (413) comes at
    once. Had the server tried to read the body it would wait for bytes that never come."""
    settings.VERIFY_UPLOAD_MAX_BYTES = 5 * 1024 * 1024
    host, port = live_server.thread.host, live_server.thread.port
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(
            b"POST /verify/ HTTP/1.1\r\n"
            + f"Host: {host}:{port}\r\n".encode()
            + b"Content-Type: multipart/form-data; boundary=x\r\n"
            # A CSRF cookie, so that a CSRF check would have to read the body for the token.
            + b"Cookie: csrftoken="
            + b"a" * 32
            + b"\r\n"
            + f"Content-Length: {50 * 1024 * 1024}\r\n".encode()
            + b"\r\n"
            + b"--x\r\n"
            + b'Content-Disposition: form-data; name="document"; filename="big.pdf"\r\n\r\n'
            + b"%PDF-1.7 " * 100
        )
        status_line = conn.makefile("rb").readline()
    assert status_line.split()[1] == b"413"


@pytest.mark.django_db
@pytest.mark.usefixtures("library")
class TestPatientLinkRateLimit:
    def test_opening_links_from_one_address_is_limited(self, settings, surgeon):
        settings.PATIENT_LINK_RATE_LIMIT = (3, 600)
        _, issued = issue(surgeon)
        client = Client(REMOTE_ADDR="192.0.2.50")
        url = reverse("patient_link", args=[issued.token])
        assert [client.get(url).status_code for _ in range(3)] == [200, 200, 200]
        response = client.get(url)
        assert response.status_code == 429 and "Retry-After" in response
        # Guessing other links from the same address is held up too.
        assert client.get(reverse("patient_link", args=["guess"])).status_code == 429
        assert Client(REMOTE_ADDR="192.0.2.51").get(url).status_code == 200

    def test_dates_of_birth_tried_from_one_address_are_limited(self, settings, surgeon):
        settings.PATIENT_LINK_RATE_LIMIT = (3, 600)
        client = Client(REMOTE_ADDR="192.0.2.60")
        links = [issue(surgeon, full_name=f"Patient {n}")[1] for n in range(4)]
        # One wrong date on each of several links: no link locks, but the address is limited.
        statuses = [
            client.post(reverse("patient_link", args=[i.token]), WRONG).status_code for i in links
        ]
        assert statuses == [400, 400, 400, 429]
        # Once limited, even the right date waits: the limit comes before any check.
        response = client.post(reverse("patient_link", args=[links[0].token]), RIGHT)
        assert response.status_code == 429
        assert "patient" not in client.session


@pytest.mark.django_db
def test_addresses_in_one_ipv6_64_share_a_count(client, settings):
    """Any IPv6 host can take a new address in its /64 at will: the /64 is one client."""
    settings.VERIFY_RATE_LIMIT = (2, 60)
    statuses = [
        client.get("/verify/", {"code": "ABCD"}, REMOTE_ADDR=f"2001:db8:1:2::{n}").status_code
        for n in range(1, 4)
    ]
    assert statuses[:2] != [429, 429] and statuses[2] == 429
    other = client.get("/verify/", {"code": "ABCD"}, REMOTE_ADDR="2001:db8:1:3::1")
    assert other.status_code != 429
