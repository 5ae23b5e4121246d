"""Test settings: the real settings, with only what tests need overridden."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault("AUDIT_KEY", "tests-only-audit-key-0123456789abcdef")
# Tests see the same configuration on every machine, whatever a developer's .env says.
os.environ.setdefault("DOTENV_FILE", "")

from config.settings import *  # noqa: F403

# The tests' own app: a flush command that lifts the database guards (see tests/insider.py).
INSTALLED_APPS = ["tests", *INSTALLED_APPS]  # noqa: F405

# The test client and the live server speak plain HTTP (production redirects it to HTTPS).
SECURE_SSL_REDIRECT = False

# Fast hashing: tests create many users and nothing here guards real passwords.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files through the finders, as in development: tests never run collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not shared-cache memory, so that concurrency tests see SQLite's real locking.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test-db.sqlite3")}  # noqa: F405

# Tests seal PDFs with their own throwaway PKI (created by tests/conftest.py) and store them
# under a throwaway media root.
_TEST_PKI = BASE_DIR / "var" / "test-pki"  # noqa: F405
PDF_SIGNING_CERT = _TEST_PKI / "signer.crt"
PDF_SIGNING_KEY = _TEST_PKI / "signer.key"
PDF_SIGNING_CHAIN = []
PDF_TRUST_ROOTS = [_TEST_PKI / "ca.crt"]
MEDIA_ROOT = BASE_DIR / "var" / "test-media"  # noqa: F405
