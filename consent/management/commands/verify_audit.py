import argparse
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from consent.audit import Checkpoint, audit_verify
from consent.documents import document_anchors


class Command(BaseCommand):
    help = (
        "Check the audit log: every event's keyed hash and link to the one before, the chain "
        "head, the checkpoint carried by every stored signed PDF, checkpoints you kept outside "
        "the app, and that every signature, document and consent status has the events that "
        "explain it. Exits non-zero and lists every problem found."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--checkpoint",
            action="append",
            default=[],
            metavar="SEQUENCE:HASH",
            help="A checkpoint printed earlier by `audit_checkpoint` (repeatable).",
        )
        parser.add_argument(
            "--checkpoints-file",
            type=Path,
            help="A file of checkpoints, one per line: SEQUENCE:HASH alone or inside a log line "
            "(the app's 'audit checkpoint ...', syslog); lines starting with # are ignored.",
        )
        parser.add_argument(
            "--seals",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="Validate the seal of every stored PDF (the default; about 10 ms each), or "
            "with --no-seals compare only each file's hash: a quicker check that a file "
            "re-made by someone holding AUDIT_KEY would pass.",
        )

    def handle(self, *args, checkpoint, checkpoints_file, seals, **options):
        try:
            external = [Checkpoint.parse(text) for text in checkpoint]
            if checkpoints_file:
                external += [
                    Checkpoint.find(line)
                    for line in checkpoints_file.read_text().splitlines()
                    if line.strip() and not line.lstrip().startswith("#")
                ]
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from None
        report = audit_verify(external=external, documents=document_anchors(seals=seals))
        summary = (
            f"{report.events} event(s), {report.documents} stored document(s) "
            f"({report.checkpoints} checkpoint(s) in them), {len(external)} external checkpoint(s)"
        )
        if report.problems:
            for problem in report.problems:
                self.stderr.write(f"- {problem}")
            raise CommandError(
                f"Audit log BROKEN: {len(report.problems)} problem(s); first: {report.problem}. "
                f"Checked {summary}."
            )
        if options["verbosity"] >= 1:
            self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {summary}."))
