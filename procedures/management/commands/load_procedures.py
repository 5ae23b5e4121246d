from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from procedures.library import BUNDLED_LIBRARY, LibraryError, load_library, read_library_file


class Command(BaseCommand):
    help = (
        "Load a procedure library file (YAML, see docs/library-format.md) into the database. "
        "Without FILE, loads the bundled starter library. Idempotent: procedures are matched by "
        "slug, changed ones are updated (their revision goes up), unchanged ones are left alone. "
        "The whole file is checked first and loaded in one transaction."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", type=Path, default=BUNDLED_LIBRARY)
        parser.add_argument(
            "--dry-run", action="store_true", help="Check the file and report; change nothing."
        )
        parser.add_argument(
            "--skip-existing",
            action="store_true",
            help="Only add procedures whose slug is not in the database yet; never overwrite "
            "local edits (what `make run` uses).",
        )

    def handle(self, *args, file: Path, dry_run: bool, skip_existing: bool, **options):
        try:
            specs = read_library_file(file)
            report = load_library(specs, dry_run=dry_run, skip_existing=skip_existing)
        except LibraryError as exc:
            raise CommandError(str(exc)) from None

        verb = "would be" if dry_run else "were"
        if options["verbosity"] >= 2:
            for label, slugs in vars(report).items():
                for slug in slugs:
                    self.stdout.write(f"  {label}: {slug}")
        if options["verbosity"] >= 1:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{file.name}: {len(specs)} procedure(s); {len(report.created)} {verb} "
                    f"created, {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
                    f"{len(report.skipped)} skipped (already present)."
                    + (" Dry run: nothing was saved." if dry_run else "")
                )
            )
