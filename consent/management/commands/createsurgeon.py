import getpass
import sys

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

from consent.roles import ensure_roles


def create_surgeon(*, username: str, email: str, password: str, first_name="", last_name=""):
    """Create a surgeon account: staff (to read the library in the admin) in the Surgeons group."""
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise CommandError(f'A user named "{username}" already exists.')
    try:
        validate_email(email)
    except ValidationError:
        raise CommandError(f'"{email}" is not a valid email address.') from None
    user = User(
        username=username, email=email, first_name=first_name, last_name=last_name, is_staff=True
    )
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise CommandError("Password refused: " + " ".join(exc.messages)) from None
    user.set_password(password)
    with transaction.atomic():
        user.save()
        user.groups.add(ensure_roles())
    return user


class Command(BaseCommand):
    help = (
        "Create a surgeon account in the Surgeons group. The password is asked for twice, "
        "or read from the first line of standard input with --password-stdin."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", required=True)
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument(
            "--password-stdin", action="store_true", help="Read the password from standard input."
        )

    def handle(self, *args, username, email, first_name, last_name, password_stdin, **options):
        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The two passwords differ.")
        if not password:
            raise CommandError("The password is empty.")
        create_surgeon(
            username=username,
            email=email,
            password=password,
            first_name=first_name,
            last_name=last_name,
        )
        if options["verbosity"] >= 1:
            self.stdout.write(self.style.SUCCESS(f'Surgeon "{username}" created.'))
