import os
import re
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def run_check(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "AUDIT_KEY"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", "DOTENV_FILE": "", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = run_check(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_it_refuses_to_start_without_an_audit_key_when_debug_is_off():
    result = run_check(DEBUG="0", SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "AUDIT_KEY is not set" in result.stderr


def test_it_refuses_a_short_audit_key():
    result = run_check(DEBUG="0", SECRET_KEY="x" * 50, AUDIT_KEY="short")
    assert result.returncode != 0
    assert "AUDIT_KEY must be at least 32 characters" in result.stderr


def test_it_starts_in_production_with_both_keys():
    result = run_check(DEBUG="0", SECRET_KEY="x" * 50, AUDIT_KEY="a" * 40)
    assert result.returncode == 0, result.stderr


def test_it_starts_with_a_development_key_when_debug_is_on():
    assert run_check(DEBUG="1").returncode == 0


def test_it_refuses_a_malformed_boolean():
    result = run_check(DEBUG="maybe")
    assert "DEBUG must be a boolean" in result.stderr


def test_no_template_or_stylesheet_loads_anything_from_the_internet():
    pattern = re.compile(r"""(src|href)\s*=\s*["']?(https?:)?//""", re.IGNORECASE)
    css_import = re.compile(r"@import\s+url\(\s*['\"]?(https?:)?//|url\(\s*['\"]?https?:")
    for path in [*ROOT.glob("templates/**/*.html"), *ROOT.glob("static/**/*.css")]:
        text = path.read_text()
        assert not pattern.search(text), path
        assert not css_import.search(text), path


def test_a_dotenv_file_fills_in_but_never_overrides_the_environment(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("# development\nDEBUG=1\nSECRET_KEY=from-dotenv\n")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY)",
        ],
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}},
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DOTENV_FILE": str(dotenv),
            "SECRET_KEY": "from-environment",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.split() == ["True", "from-environment"]


def test_bootstrap_is_served_from_the_npm_install():
    bootstrap = ROOT / "node_modules" / "bootstrap" / "dist"
    assert ("vendor/bootstrap", bootstrap) in settings.STATICFILES_DIRS
    assert (bootstrap / "css" / "bootstrap.min.css").exists()


def test_rates_read_as_requests_per_period(monkeypatch):
    from config.env import env_rate

    for text, expected in [("20/m", (20, 60)), ("30/10m", (30, 600)), (" 5 / 2h ", (5, 7200))]:
        monkeypatch.setenv("SOME_RATE", text)
        assert env_rate("SOME_RATE", "1/s") == expected
    monkeypatch.delenv("SOME_RATE")
    assert env_rate("SOME_RATE", "100/d") == (100, 86400)


def test_it_refuses_a_rate_it_cannot_read():
    for bad in ("20", "20/minute", "0/m", "5/0m", "-1/m"):
        result = run_check(DEBUG="1", VERIFY_RATE_LIMIT=bad)
        assert result.returncode != 0, bad
        assert "VERIFY_RATE_LIMIT must be a rate such as 20/m" in result.stderr
