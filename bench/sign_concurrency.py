"""Benchmark: does a signature make anyone else wait? Over HTTP, on gunicorn and PostgreSQL.

Prints (does not assert), measured side by side in one run, interleaved (A B A B ...):
- an unrelated patient's tick alone, and the same tick while another patient signs
  (target: while signing <= 1.5x alone);
- one signature alone, and two signatures by two patients at the same moment (time until
  both are done; target: <= 1.3x one);
- the control: the same render and seal in one process alone, and in two processes at once
  (what the CPUs allow, with no app, database or lock involved).

It makes its own database (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
bench_sign, dropped and re-created), a throwaway sealing certificate, ready-to-sign consents,
and starts gunicorn (production settings, DEBUG off) with 2 sync workers on a free port.

Run: .venv/bin/python bench/sign_concurrency.py [--rounds 15] [--workers 2]
"""

import argparse
import http.cookiejar
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from servers import free_port, production_env, wait_for  # bench/servers.py

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Patient:
    """One patient's browser: a cookie jar, signed in through their private link."""

    def __init__(self, base: str, token: str, consent_pk: int):
        self.base, self.consent_pk = base, consent_pk
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        page = self.get(f"/p/{token}/")
        self.post(f"/p/{token}/", {"day": "27", "month": "3", "year": "1964"}, page)

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=120) as response:
            return response.read().decode()

    def post(self, path: str, data: dict, page: str, accept: str = "text/html") -> int:
        data = {**data, "csrfmiddlewaretoken": CSRF.search(page)[1]}
        request = urllib.request.Request(  # noqa: S310 - our own http:// server
            self.base + path,
            data=urllib.parse.urlencode(data).encode(),
            headers={"Accept": accept, "Referer": self.base + path},
        )
        with self.opener.open(request, timeout=120) as response:
            response.read()
            return response.status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ticks", type=int, default=8, help="ticks timed per round")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_sign")
    name = urllib.parse.urlsplit(url).path.lstrip("/")
    if url.startswith("postgres"):
        admin = url.rsplit("/", 1)[0] + "/postgres"
        for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
            subprocess.run(["psql", admin, "-qc", sql], check=True)  # noqa: S603, S607
    pki = Path(tempfile.mkdtemp(prefix="bench-pki-"))
    # The bench signs in many patients from one address.
    env = production_env(url, pki, DATABASE_CONN_MAX_AGE="60", VERIFY_RATE_LIMIT="100000/m")
    os.environ.update(env)
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["migrate", "-v0"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run(manage + command, env=env, check=True, cwd=ROOT)  # noqa: S603

    import django

    django.setup()
    from consent.pki import create_dev_pki
    from procedures.library import BUNDLED_LIBRARY, load_library, read_library_file
    from tests.helpers import ready_to_sign

    create_dev_pki(pki, organisation="Bench Hospital")
    load_library(read_library_file(BUNDLED_LIBRARY))
    from consent.management.commands.createsurgeon import create_surgeon

    surgeon = create_surgeon(username="bench", email="b@example.org", password="bench password 1")
    signers = [
        ready_to_sign(surgeon, slug="lumbar-fusion-l4-l5-s1") for _ in range(args.rounds * 4)
    ]
    ticker_consent, ticker_link = ready_to_sign(surgeon, slug="lumbar-rhizotomy")
    item = ticker_consent.items.filter(not_applicable=False).first()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            f"--workers={args.workers}",
            "--worker-class=sync",
            f"--bind=127.0.0.1:{port}",
            "--timeout=120",
            "--log-level=warning",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        wait_for(base)
        ticker = Patient(base, ticker_link.token, ticker_consent.pk)
        risks = ticker.get("/patient/risks/")
        state = {"on": False}

        def tick() -> float:
            state["on"] = not state["on"]
            start = time.perf_counter()
            ticker.post(
                f"/patient/risks/{item.pk}/",
                {"acknowledged": "1" if state["on"] else "0"},
                risks,
                accept="application/json",
            )
            return (time.perf_counter() - start) * 1000

        patients = [Patient(base, issued.token, c.pk) for c, issued in signers]
        reviews = [p.get("/patient/review/") for p in patients]
        queue = list(zip(patients, reviews, [c for c, _ in signers], strict=True))

        def sign_one(patient, review, consent):
            status = patient.post(
                "/patient/sign/", {"typed_name": "Ada Lovelace", "statement": "on"}, review
            )
            assert status == 200, status

        # Warm every worker (first requests import and load things).
        for _ in range(args.workers * 2):
            tick()

        control = RenderControl(signers[0][0].pk)
        tick_alone, tick_signing, one_sign, two_signs = [], [], [], []
        for _ in range(args.rounds):
            # A: ticks alone.
            tick_alone += [tick() for _ in range(args.ticks)]
            # B: ticks while another patient signs.
            done = threading.Event()
            signer = queue.pop()

            def run_sign(signer=signer, done=done):
                sign_one(*signer)
                done.set()

            thread = threading.Thread(target=run_sign)
            thread.start()
            time.sleep(0.02)  # let the sign request reach its worker
            during = []
            while not done.is_set():
                during.append(tick())
            thread.join()
            tick_signing += during[:-1] or during  # the last may have ended after the sign
            # C: one signature alone.
            start = time.perf_counter()
            sign_one(*queue.pop())
            one_sign.append((time.perf_counter() - start) * 1000)
            # D: two signatures by two patients at the same moment.
            pair = [queue.pop(), queue.pop()]
            start = time.perf_counter()
            threads = [threading.Thread(target=sign_one, args=s) for s in pair]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            two_signs.append((time.perf_counter() - start) * 1000)
            control.round()
    finally:
        server.terminate()
        server.wait(timeout=30)

    a, b = statistics.median(tick_alone), statistics.median(tick_signing)
    c, d = statistics.median(one_sign), statistics.median(two_signs)
    e, f = statistics.median(control.one), statistics.median(control.two)
    print(f"gunicorn {args.workers} sync workers, {os.cpu_count()} CPUs, {args.rounds} rounds")
    print(f"tick alone:                     median {a:7.1f} ms (n={len(tick_alone)})")
    print(
        f"tick while another patient signs: median {b:7.1f} ms (n={len(tick_signing)})  "
        f"ratio {b / a:.2f}x (target <= 1.5x)"
    )
    print(f"one signature:                  median {c:7.1f} ms (n={len(one_sign)})")
    print(
        f"two signatures at once (both):  median {d:7.1f} ms (n={len(two_signs)})  "
        f"ratio {d / c:.2f}x (target <= 1.3x)"
    )
    print(f"control: one render+seal alone:  median {e:7.1f} ms")
    print(f"control: two at once, 2 processes: median {f:7.1f} ms  ratio {f / e:.2f}x (CPU floor)")


def _render_and_seal(html: str) -> None:
    from consent import documents

    documents.seal_pdf(documents.html_to_pdf(html))


class RenderControl:
    """The same render+seal in worker processes: one alone, then two at once."""

    def __init__(self, consent_pk: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from consent import documents
        from consent.audit import audit_checkpoint
        from consent.models import Consent, Signature

        consent = Consent.objects.get(pk=consent_pk)
        signature = Signature(
            consent=consent, typed_name="Ada Lovelace", method="typed", statement="x"
        )
        signature.signed_at = consent.updated_at
        self.html = documents.render_html(
            consent,
            signature=signature,
            verification_code="ABCDEFGHJKLM",
            verify_url=documents.verify_url(),
            checkpoint=audit_checkpoint(),
        )
        self.pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"))
        list(self.pool.map(_render_and_seal, [self.html] * 4))  # warm both processes
        self.one, self.two = [], []

    def round(self) -> None:
        start = time.perf_counter()
        self.pool.submit(_render_and_seal, self.html).result()
        self.one.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        list(self.pool.map(_render_and_seal, [self.html] * 2))
        self.two.append((time.perf_counter() - start) * 1000)


if __name__ == "__main__":
    main()
