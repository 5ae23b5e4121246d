"""Settings for the consent app: one module, read from the environment.

Every knob a hospital's IT team may turn is an environment variable, documented in the README.
"""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from whitenoise.compress import Compressor

from config.env import env_bool, env_int, env_list, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent


def read_dotenv(path: Path) -> None:
    """Load KEY=VALUE lines from a local .env file; real environment variables win.

    `make run` writes one for development (DEBUG=1 and a random SECRET_KEY) so that
    `manage.py` commands work in a development checkout. Never deploy a .env file.
    """
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            os.environ.setdefault(key.strip(), value.strip())


# DOTENV_FILE="" turns the .env file off (the settings tests do, to see the bare defaults).
read_dotenv(Path(os.environ.get("DOTENV_FILE", BASE_DIR / ".env")))


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it to a long random value in the environment "
            "(DEBUG is off, so there is no development default)."
        )
    SECRET_KEY = "django-insecure-development-only-never-use-in-production"  # noqa: S105

# The key of the audit log's hash chain (HMAC-SHA-256). It lives in the environment, never in
# the database, so that someone who can rewrite the database still cannot forge the chain.
# Rotate by moving the old key to AUDIT_PREVIOUS_KEYS (comma-separated): events keep the key
# they were written with, and verify_audit checks each with its own. See docs/audit.md.
AUDIT_KEY = env_str("AUDIT_KEY")
AUDIT_PREVIOUS_KEYS = env_list("AUDIT_PREVIOUS_KEYS", [])
if not AUDIT_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "AUDIT_KEY is not set. Set it to a long random value in the environment, kept apart "
            "from the database and its backups (DEBUG is off, so there is no development default)."
        )
    AUDIT_KEY = "development-only-audit-key-never-use-in-production"
# Events up to this sequence number were written before the chain was keyed (an upgrade from
# 0.1); verify_audit checks them with plain SHA-256. Any other event without a key is an error.
AUDIT_UNKEYED_UNTIL = env_int("AUDIT_UNKEYED_UNTIL", 0)
if len(AUDIT_KEY) < 32:
    raise ImproperlyConfigured("AUDIT_KEY must be at least 32 characters of random text.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Shown in the page header, on PDFs and in emails.
HOSPITAL_NAME = env_str("HOSPITAL_NAME", "Example Hospital")
# How patients reach the surgical teams: shown on every patient page that reports a problem, on
# the printed handout and in every email. A team's own phone and email (set in the admin)
# replace these for its consents. Leave empty to show none.
HOSPITAL_PHONE = env_str("HOSPITAL_PHONE")
HOSPITAL_EMAIL = env_str("HOSPITAL_EMAIL")
APP_NAME = "Surgical Consent"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "csp",
    "procedures",
    "consent",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # WhiteNoise: static files, compressed, hashed names cached for a year.
    "consent.middleware.StaticFilesMiddleware",
    # Pages compressed for phones on a weak signal (static files above never reach it: WhiteNoise
    # answers them). Django's GZipMiddleware pads each response with random bytes against BREACH,
    # CSRF tokens are masked afresh on every response, and a new patient link is shown only once.
    "django.middleware.gzip.GZipMiddleware",
    # Every response below this line gets the Content-Security-Policy and no-store headers.
    "csp.middleware.CSPMiddleware",
    "consent.middleware.NoStoreMiddleware",
    # Early: a NUL in the path, a header or a cookie gets a plain 400 before sessions or
    # django-axes look at it (PostgreSQL cannot store NUL). It reads form data only in
    # process_view, after the body limit below has had its say.
    "consent.middleware.RefuseNulMiddleware",
    # Before anything that may read a request body (CSRF, forms, other middleware).
    "consent.middleware.RequestBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses locked-out logins before checking them
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"
# A refused CSRF check gets a plain page (templates/403_csrf.html), rendered without the database.
CSRF_FAILURE_VIEW = "consent.views.errors.csrf_failure"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.site",
            ],
        },
    },
]

# Persistent connections: each app-server worker (or thread) keeps its connection for this many
# seconds instead of opening one per request (measured 1.3-1.95x pages per second on
# PostgreSQL). Off in development: runserver starts a thread per request, so a kept connection
# would only leak. Health checks reopen a connection the database dropped (a restart, a
# failover) instead of failing the next request with it.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0 if DEBUG else 60),
        conn_health_checks=env_bool("DATABASE_CONN_HEALTH_CHECKS", True),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Take the write lock when a transaction starts, so concurrent writers wait their turn
    # instead of failing with "database is locked" half-way through.
    # recursive_triggers: INSERT OR REPLACE's implicit delete then fires the guard triggers
    # that refuse deleting a signed consent's rows (SQLite skips them otherwise).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA recursive_triggers = ON;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Sign-in hardening ---
# Failed surgeon logins are counted in the database (so every app server sees them); after
# AXES_FAILURE_LIMIT failures for one username from one address, that pair is locked out
# for LOGIN_LOCKOUT_MINUTES.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("LOGIN_LOCKOUT_MINUTES", 30) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "consent.actors.client_network"
AXES_VERBOSE = False
# Database sessions that know their user (consent.UserSession), so that "sign out everywhere"
# ends every session of a user, however it was opened.
SESSION_ENGINE = "consent.sessions"
# Sessions end after this many minutes without a request (each request renews them).
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_MINUTES", 60) * 60
SESSION_SAVE_EVERY_REQUEST = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "Europe/London")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where `manage.py collectstatic` gathers the files WhiteNoise serves in production.
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Front-end packages are installed from the npm registry (package-lock.json) into
# node_modules/ and served from there: never copied into the repository.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/bootstrap", BASE_DIR / "node_modules" / "bootstrap" / "dist"),
    ("vendor/signature_pad", BASE_DIR / "node_modules" / "signature_pad" / "dist"),
]
STORAGES = {
    # Signed PDFs. For S3-compatible object storage, install django-storages and set
    # STORAGE_BACKEND=storages.backends.s3.S3Storage with its AWS_* variables.
    "default": {
        "BACKEND": env_str("STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# collectstatic compresses every file for WhiteNoise. Source maps are only ever fetched by a
# developer's browser tools: leaving them uncompressed takes collectstatic from 45 s to 18 s.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [*Compressor.SKIP_COMPRESS_EXTENSIONS, "map"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "media/"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Security headers; the HTTPS-only ones switch on outside development, so that a production
# deployment is HTTPS-only unless someone turns that off on purpose (docs/deploy.md explains
# each choice). `manage.py check --deploy` passes with these defaults.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Plain-HTTP requests are redirected to HTTPS. Behind a TLS-terminating proxy, set
# BEHIND_TLS_PROXY so that the proxy's X-Forwarded-Proto says which requests were HTTPS.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
)
# Content-Security-Policy (django-csp): our own scripts, stylesheets and images only; no inline
# script or style anywhere (templates carry classes, static/css/app.css the styles), no plugins,
# no framing, forms post only here. The admin needs nothing more. data: images are Bootstrap's
# and the admin's icons inside their stylesheets.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],  # the risks page saves each tick with fetch()
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}

# HSTS: browsers that once reached the app over HTTPS refuse plain HTTP to it for a year. Only
# ever sent on HTTPS responses, so local plain-HTTP use is unaffected.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
# Every handler passes records through RedactPatientTokens: a patient's link token must never
# reach a log ("Not Found: /p/<token>/", runserver's request lines, tracebacks).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": "config.logs.RedactPatientTokens"}},
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_tokens"]},
        # runserver's request log, as Django configures it, plus the redaction.
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_tokens"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own defaults would also print django.* records through an unfiltered
        # handler (and email them to ADMINS, which this app does not use): send them to ours.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        # WeasyPrint logs every rendering step at INFO.
        "weasyprint.progress": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

# --- Email ---
# Development prints emails to the console; production sends through SMTP.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Emails are sent while the surgeon waits (so the page can say whether it went): never hang.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT_SECONDS", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "consent@localhost")
# Where the file-based backend (django.core.mail.backends.filebased, used by `make serve`)
# writes emails.
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))

# --- Consents ---
# Days a patient link stays valid (never beyond the planned date of surgery).
CONSENT_LINK_DAYS = env_int("CONSENT_LINK_DAYS", 30)
# Wrong dates of birth before a link locks.
IDENTITY_MAX_ATTEMPTS = env_int("IDENTITY_MAX_ATTEMPTS", 5)
# A patient's session ends after this many minutes without a request.
PATIENT_SESSION_IDLE_MINUTES = env_int("PATIENT_SESSION_IDLE_MINUTES", 30)
# A signature being made (PDF rendered and sealed) holds a claim on its consent for at most
# this long; a second request meanwhile is asked to wait. A worker killed mid-signing leaves a
# claim that lapses after this.
SIGNING_CLAIM_SECONDS = env_int("SIGNING_CLAIM_SECONDS", 60)
# Reverse proxies in front of the app that append to X-Forwarded-For (0: use REMOTE_ADDR).
# Set it behind a proxy, or every client shares the proxy's address (and its rate limits).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# Requests per client address to the patient's private link (opening it and each date of
# birth tried), on top of the per-link lock after IDENTITY_MAX_ATTEMPTS wrong dates. Patients
# on a hospital's Wi-Fi or a mobile network share one address: a tester on one address hit
# 30 in ten minutes, so the default leaves room for a busy clinic and still stops a scan.
PATIENT_LINK_RATE_LIMIT = env_rate("PATIENT_LINK_RATE_LIMIT", "200/10m")

# --- Signed PDF documents ---
# The hospital's sealing certificate and key (PEM), and the root certificate(s) a document must
# chain to. Without them, `make run` creates a local development CA in var/dev-pki/ (refused
# by `manage.py check --deploy` when DEBUG is off).
_DEV_PKI = BASE_DIR / "var" / "dev-pki"
PDF_SIGNING_CERT = Path(env_str("PDF_SIGNING_CERT", str(_DEV_PKI / "signer.crt")))
PDF_SIGNING_KEY = Path(env_str("PDF_SIGNING_KEY", str(_DEV_PKI / "signer.key")))
PDF_SIGNING_KEY_PASSPHRASE = env_str("PDF_SIGNING_KEY_PASSPHRASE")
PDF_SIGNING_CHAIN = [Path(p) for p in env_list("PDF_SIGNING_CHAIN", [])]
PDF_TRUST_ROOTS = [Path(p) for p in env_list("PDF_TRUST_ROOTS", [str(_DEV_PKI / "ca.crt")])]
# Largest PDF accepted on the public verification page. A larger request is refused before
# it is read (the request may be VERIFY_UPLOAD_MAX_BYTES plus 64 KiB for the form around it).
VERIFY_UPLOAD_MAX_BYTES = env_int("VERIFY_UPLOAD_MAX_BYTES", 5 * 1024 * 1024)
# Checks per client address on the verification page (each may validate a seal).
VERIFY_RATE_LIMIT = env_rate("VERIFY_RATE_LIMIT", "20/m")
# The address people use to reach the app; printed on PDFs for the verification page and used
# in emails. Unset, it follows PORT (which `make run` and `make serve` set), so that a server
# on another port prints addresses that work.
SITE_URL = env_str("SITE_URL") or f"http://127.0.0.1:{env_int('PORT', 8000)}"
