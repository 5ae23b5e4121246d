from django.core.management.base import BaseCommand, CommandError

from consent.audit import audit_verify


class Command(BaseCommand):
    help = (
        "Check the audit log's hash chain from the first event to the last. Exits non-zero and "
        "names the first broken link if any event was changed or deleted."
    )

    def handle(self, *args, **options):
        report = audit_verify()
        if report.problem:
            raise CommandError(
                f"Audit chain BROKEN after {report.events} good event(s): {report.problem}"
            )
        if options["verbosity"] >= 1:
            self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {report.events} event(s)."))
