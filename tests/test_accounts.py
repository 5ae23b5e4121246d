from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from consent.roles import SURGEONS_GROUP, is_surgeon


def createsurgeon(*args, stdin: str):
    import sys

    old = sys.stdin
    sys.stdin = StringIO(stdin)
    try:
        out = StringIO()
        call_command("createsurgeon", *args, stdout=out)
        return out.getvalue()
    finally:
        sys.stdin = old


@pytest.mark.django_db
class TestCreateSurgeon:
    def test_it_creates_a_staff_user_in_the_surgeons_group(self):
        out = createsurgeon(
            "jsmith", "--email", "j@example.org", "--password-stdin", stdin="a long passphrase\n"
        )
        user = get_user_model().objects.get(username="jsmith")
        assert 'Surgeon "jsmith" created.' in out
        assert user.check_password("a long passphrase")
        assert user.is_staff and not user.is_superuser
        assert is_surgeon(user)
        assert user.has_perm("procedures.view_procedure")
        assert not user.has_perm("procedures.change_procedure")

    def test_it_prompts_twice_for_the_password(self, monkeypatch):
        answers = iter(["a long passphrase", "a long passphrase"])
        monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
        call_command("createsurgeon", "asked", "--email", "a@example.org", stdout=StringIO())
        assert get_user_model().objects.get(username="asked").check_password("a long passphrase")

    def test_it_refuses_passwords_that_differ(self, monkeypatch):
        answers = iter(["a long passphrase", "another passphrase"])
        monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
        with pytest.raises(CommandError, match="differ"):
            call_command("createsurgeon", "asked", "--email", "a@example.org")
        assert not get_user_model().objects.exists()

    def test_it_refuses_a_weak_password(self):
        with pytest.raises(CommandError, match="Password refused"):
            createsurgeon("weak", "--email", "w@example.org", "--password-stdin", stdin="12345\n")
        assert not get_user_model().objects.exists()

    def test_it_refuses_an_existing_username(self, surgeon):
        with pytest.raises(CommandError, match="already exists"):
            createsurgeon(
                "owner", "--email", "o@example.org", "--password-stdin", stdin="a long passphrase\n"
            )

    def test_it_refuses_a_bad_email(self):
        with pytest.raises(CommandError, match="not a valid email"):
            createsurgeon("x", "--email", "nope", "--password-stdin", stdin="a long passphrase\n")

    def test_the_group_exists_after_migrate(self):
        from django.contrib.auth.models import Group

        assert Group.objects.filter(name=SURGEONS_GROUP).exists()


@pytest.mark.django_db
class TestDemoSurgeon:
    def test_it_refuses_without_debug(self, settings):
        settings.DEBUG = False
        with pytest.raises(CommandError, match="DEBUG is off"):
            call_command("ensure_demo_surgeon")

    def test_it_creates_once_and_prints_the_credentials(self, settings, tmp_path):
        settings.DEBUG = True
        settings.BASE_DIR = tmp_path
        first, second = StringIO(), StringIO()
        call_command("ensure_demo_surgeon", stdout=first)
        call_command("ensure_demo_surgeon", stdout=second)
        username, password = (tmp_path / ".demo-credentials").read_text().split()
        user = get_user_model().objects.get(username=username)
        assert user.check_password(password) and is_surgeon(user)
        assert password in first.getvalue() and "new demo account" in first.getvalue()
        assert password in second.getvalue() and "new demo account" not in second.getvalue()

    def test_it_keeps_the_password_in_the_file_it_is_given(self, settings, tmp_path):
        settings.DEBUG = True
        settings.BASE_DIR = tmp_path
        settings.SITE_URL = "http://127.0.0.1:8312"
        out = StringIO()
        call_command("ensure_demo_surgeon", credentials=tmp_path / "serve-credentials", stdout=out)
        username, password = (tmp_path / "serve-credentials").read_text().split()
        assert not (tmp_path / ".demo-credentials").exists()
        assert get_user_model().objects.get(username=username).check_password(password)
        assert f"Sign in at http://127.0.0.1:8312/ as {username}" in out.getvalue()
