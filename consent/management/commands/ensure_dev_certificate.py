from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from consent.pki import PkiPaths, create_dev_pki


class Command(BaseCommand):
    help = (
        "Development only (DEBUG on): create a local certificate authority and a PDF sealing "
        "certificate in var/dev-pki/ if no sealing certificate is configured."
    )

    def handle(self, *args, **options):
        cert, key = settings.PDF_SIGNING_CERT, settings.PDF_SIGNING_KEY
        if cert.exists() and key.exists():
            if options["verbosity"] >= 2:
                self.stdout.write(f"Sealing certificate in place: {cert}")
            return
        if not settings.DEBUG:
            raise CommandError(
                "No sealing certificate at PDF_SIGNING_CERT / PDF_SIGNING_KEY, and DEBUG is off: "
                "configure the hospital's certificate instead of a development one."
            )
        paths = PkiPaths.in_dir(cert.parent)
        if paths.signer_cert != cert or paths.signer_key != key:
            raise CommandError(
                f"PDF_SIGNING_CERT ({cert}) or PDF_SIGNING_KEY ({key}) is set but missing."
            )
        create_dev_pki(cert.parent, organisation=settings.HOSPITAL_NAME)
        self.stdout.write(
            self.style.WARNING(
                f"Created a DEVELOPMENT ONLY certificate authority and sealing certificate in "
                f"{cert.parent}/. PDFs sealed with it prove nothing outside this machine: "
                "configure the hospital's certificate (PDF_SIGNING_CERT, PDF_SIGNING_KEY, "
                "PDF_TRUST_ROOTS) before real use."
            )
        )
