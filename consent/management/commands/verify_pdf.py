from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from consent.documents import verify_bytes


class Command(BaseCommand):
    help = (
        "Check that a consent PDF was issued by this hospital and is unchanged: its bytes match a "
        "stored document and its seal validates against the trust roots. Exits non-zero if not."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"{file}: cannot be read: {exc.strerror}") from None
        result = verify_bytes(data)
        if not result.authentic:
            raise CommandError(f"{file}: NOT AUTHENTIC: {result.reason}.")
        consent = result.document.consent
        self.stdout.write(
            self.style.SUCCESS(
                f"{file}: authentic and unchanged. {consent.procedure_name}, signed "
                f"{consent.signed_at:%Y-%m-%d %H:%M %Z}, patient {result.patient_initials}"
                + (" (since withdrawn)" if consent.status == "withdrawn" else "")
            )
        )
