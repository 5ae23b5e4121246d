"""What the benchmarks that start their own servers share: a free port, and waiting for a
server to answer. Imported as a sibling module (`python bench/<script>.py` puts bench/ first
on the path)."""

import os
import secrets
import socket
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(base: str, timeout: float = 90) -> None:
    """Until base/verify/ answers, or exit the benchmark with a message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/verify/", timeout=5):  # noqa: S310
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{base} did not start")


def production_env(url: str, pki: Path, **extra: str) -> dict[str, str]:
    """The production profile on this machine for a benchmark's servers: DEBUG off, fresh keys,
    plain HTTP on 127.0.0.1, the database of url, the sealing certificate made in pki, no
    emails, and a patient-link limit a benchmark from one address does not hit; extra on top."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DOTENV_FILE": "",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "AUDIT_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": url,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_COOKIES": "0",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_HSTS_SECONDS": "0",
        "PDF_SIGNING_CERT": str(pki / "signer.crt"),
        "PDF_SIGNING_KEY": str(pki / "signer.key"),
        "PDF_TRUST_ROOTS": str(pki / "ca.crt"),
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "PATIENT_LINK_RATE_LIMIT": "100000/m",
        **extra,
    }
