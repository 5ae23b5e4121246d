import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from .createsurgeon import create_surgeon

DEMO_USERNAME = "demo.surgeon"


class Command(BaseCommand):
    help = (
        "Development only (DEBUG on): create a demo surgeon on first run with a random password, "
        "kept in .demo-credentials, and print how to sign in."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--credentials",
            type=Path,
            default=Path(settings.BASE_DIR) / ".demo-credentials",
            help="Where the password is kept (make serve keeps its own: another database).",
        )

    def handle(self, *args, credentials: Path, **options):
        if not settings.DEBUG:
            raise CommandError("Refusing to create a demo account: DEBUG is off.")
        exists = get_user_model().objects.filter(username=DEMO_USERNAME).exists()
        if not exists:
            password = secrets.token_urlsafe(12)
            create_surgeon(
                username=DEMO_USERNAME,
                email="demo.surgeon@example.invalid",
                password=password,
                first_name="Demo",
                last_name="Surgeon",
            )
            credentials.write_text(f"{DEMO_USERNAME}\n{password}\n", encoding="utf-8")
            credentials.chmod(0o600)
        if options["verbosity"] < 1:
            return  # `make run` prints the sign-in line last, once the demo data is there
        if credentials.exists():
            username, password = credentials.read_text(encoding="utf-8").split()[:2]
            self.stdout.write(
                self.style.SUCCESS(
                    f"Sign in at {settings.SITE_URL.rstrip('/')}/ as {username} with password "
                    f"{password}"
                    + ("" if exists else f" (new demo account, kept in {credentials.name})")
                )
            )
        else:
            self.stdout.write(
                f"The demo surgeon {DEMO_USERNAME} exists but .demo-credentials is gone; "
                f"reset it with: .venv/bin/python manage.py changepassword {DEMO_USERNAME}"
            )
