"""The environment of a production deployment, for tests that start the app in a subprocess
(manage.py check --deploy, gunicorn) and so see the settings exactly as a hospital would."""

import hashlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from consent.pki import PkiPaths

ROOT = Path(__file__).resolve().parent.parent
PORTS = range(8310, 8320)  # the ports this project's tests may use for servers they start
# Only what a process needs to run; nothing of the developer's or the test run's settings.
_PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def production_env(pki: PkiPaths, **overrides: str) -> dict[str, str]:
    """DEBUG off, random keys, a named host and the given sealing certificate; no .env file."""
    env = {name: os.environ[name] for name in _PASSED_THROUGH if name in os.environ}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DOTENV_FILE="",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        AUDIT_KEY=secrets.token_urlsafe(48),
        ALLOWED_HOSTS="consent.example.org",
        PDF_SIGNING_CERT=str(pki.signer_cert),
        PDF_SIGNING_KEY=str(pki.signer_key),
        PDF_TRUST_ROOTS=str(pki.ca_cert),
    )
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str], stdin: str | None = None):
    return subprocess.run(  # noqa: S603 - our own manage.py, arguments from the tests
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def collected_static(pki: PkiPaths) -> Path:
    """collectstatic as production runs it (hashed names, compressed copies), kept between runs
    for as long as the static files are the same: compressing every file takes seconds."""
    from django.contrib.staticfiles.finders import get_finders

    listing = sorted(
        (path, os.stat(storage.path(path)).st_size, os.stat(storage.path(path)).st_mtime_ns)
        for finder in get_finders()
        for path, storage in finder.list([])
    )
    key = hashlib.sha256(repr(listing).encode()).hexdigest()[:16]
    cache = ROOT / "var" / "test-static"
    root = cache / key
    if not (root / "staticfiles.json").exists():
        building = cache / f"building-{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        env = production_env(pki, STATIC_ROOT=str(building))
        result = manage("collectstatic", "--no-input", "--verbosity", "0", env=env)
        assert result.returncode == 0, result.stderr
        for old in cache.iterdir():
            if old != building:
                shutil.rmtree(old, ignore_errors=True)
        building.rename(root)
    return root


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"No free port in {PORTS.start}-{PORTS.stop - 1} for a test server.")


class Server:
    """A server in a subprocess (gunicorn, runserver), with what it has logged so far, read as
    it is written. Stopped with SIGTERM, as systemd stops it, when the `with` block ends."""

    def __init__(self, command: list[str], *, env: dict[str, str], url: str):
        self.url = url
        self.stdout: list[str] = []  # gunicorn: the access log
        self.stderr: list[str] = []  # gunicorn's error log, Django's own logging
        self.logged = threading.Condition()
        self.process = subprocess.Popen(  # noqa: S603 - our own servers, from the virtualenv
            command,
            cwd=ROOT,
            env={**env, "PYTHONUNBUFFERED": "1"},  # each line as it is printed
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.drains = [
            threading.Thread(target=self._drain, args=(self.process.stdout, self.stdout)),
            threading.Thread(target=self._drain, args=(self.process.stderr, self.stderr)),
        ]
        for thread in self.drains:
            thread.start()

    def _drain(self, stream, lines: list[str]) -> None:
        for line in stream:
            with self.logged:
                lines.append(line)
                self.logged.notify_all()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for thread in self.drains:
            thread.join()
        self.process.stdout.close()
        self.process.stderr.close()

    def wait_for(self, lines: list[str], test, timeout: float = 60) -> bool:
        """Wait until test(lines) holds (a request's log line is written just after its
        response, so a test waits for it rather than reading the log at once)."""
        with self.logged:
            return self.logged.wait_for(lambda: test(lines), timeout=timeout)

    def wait_for_access(self, text: str) -> None:
        assert self.wait_for(self.stdout, lambda lines: any(text in x for x in lines)), text

    def wait_for_error(self, text: str) -> None:
        assert self.wait_for(self.stderr, lambda lines: any(text in x for x in lines)), text

    @property
    def access_log(self) -> str:
        return "".join(self.stdout)

    @property
    def error_log(self) -> str:
        return "".join(self.stderr)
