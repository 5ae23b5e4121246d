from pathlib import Path

from django.core.management.base import BaseCommand

from procedures.library import export_library


class Command(BaseCommand):
    help = (
        "Write the whole procedure library as a YAML file that load_procedures reads back "
        "(to standard output, or to --output FILE)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", type=Path, help="File to write (default: stdout).")

    def handle(self, *args, output: Path | None, **options):
        text = export_library()
        if output is None:
            self.stdout.write(text, ending="")
            return
        output.write_text(text, encoding="utf-8")
        if options["verbosity"] >= 1:
            self.stdout.write(self.style.SUCCESS(f"Library written to {output}"))
