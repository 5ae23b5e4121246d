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
