from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from .pki import is_dev_certificate


@register(Tags.security, deploy=True)
def sealing_certificate(app_configs, **kwargs):
    """`manage.py check --deploy`: a real sealing certificate must be configured."""
    cert = settings.PDF_SIGNING_CERT
    if not cert.exists() or not settings.PDF_SIGNING_KEY.exists():
        return [
            Error(
                "No PDF sealing certificate: signing a consent would fail.",
                hint="Set PDF_SIGNING_CERT, PDF_SIGNING_KEY and PDF_TRUST_ROOTS.",
                id="consent.E001",
            )
        ]
    if is_dev_certificate(cert):
        return [
            Warning(
                "PDFs are sealed with the DEVELOPMENT ONLY certificate.",
                hint="Configure the hospital's certificate: PDF_SIGNING_CERT, PDF_SIGNING_KEY.",
                id="consent.W001",
            )
        ]
    return []


@register(Tags.database, deploy=True)
def database_role(app_configs, databases=None, **kwargs):
    """`check --deploy --database default`: the app's role must not be able to switch off the
    guard triggers (a superuser, or the tables' owner, can). PostgreSQL only."""
    from django.db import connections

    problems = []
    for alias in databases or []:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT r.rolsuper, pg_has_role(current_user, c.relowner, 'MEMBER') "
                "FROM pg_roles r, pg_class c "
                "WHERE r.rolname = current_user AND c.relname = 'consent_auditevent'"
            )
            row = cursor.fetchone()
        if row and (row[0] or row[1]):
            problems.append(
                Warning(
                    "The app connects to the database as "
                    + ("a superuser" if row[0] else "the owner of its tables")
                    + ", which can switch off the triggers that protect signed consents and "
                    "the audit log.",
                    hint="Run the app as a role with only SELECT, INSERT, UPDATE and DELETE, "
                    "and migrate as the owner (docs/deploy.md, PostgreSQL).",
                    id="consent.W003",
                )
            )
    return problems
