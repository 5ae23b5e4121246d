from django.core.management.base import BaseCommand
from django.utils import timezone

from consent.models import Consent
from consent.services import ConsentError, consent_expire


class Command(BaseCommand):
    help = (
        "Mark unsigned consents whose planned date has passed as expired (run daily, e.g. "
        "from cron). Patients' links to them stop working either way."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List them; change nothing.")

    def handle(self, *args, dry_run: bool, **options):
        overdue = Consent.objects.open().filter(planned_date__lt=timezone.localdate())
        expired = 0
        for consent in overdue.iterator():
            if dry_run:
                self.stdout.write(f"would expire: consent {consent.pk} ({consent.planned_date})")
                continue
            try:
                consent_expire(consent=consent)
                expired += 1
            except ConsentError as exc:  # signed or closed meanwhile
                self.stderr.write(f"consent {consent.pk}: {exc}")
        if options["verbosity"] >= 1 and not dry_run:
            self.stdout.write(self.style.SUCCESS(f"{expired} consent(s) expired."))
