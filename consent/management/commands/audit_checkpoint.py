from django.core.management.base import BaseCommand
from django.utils import timezone

from consent.audit import audit_checkpoint


class Command(BaseCommand):
    help = (
        "Print the end of the audit chain now, as SEQUENCE:HASH, for the hospital's own log "
        "system (syslog, a SIEM, a write-once store). Later, `verify_audit --checkpoint "
        "SEQUENCE:HASH` proves nothing up to that point was rewritten or deleted, even by "
        "someone holding the database and AUDIT_KEY. Run it often, e.g. hourly from cron."
    )

    def handle(self, *args, **options):
        checkpoint = audit_checkpoint()
        if options["verbosity"] >= 2:
            self.stdout.write(f"# audit checkpoint at {timezone.now().isoformat()}")
        self.stdout.write(str(checkpoint))
