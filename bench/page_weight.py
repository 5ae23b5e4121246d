"""Benchmark: what every patient page costs a phone on a weak signal, in the production profile.

For each patient page, in the order a patient meets them, with an EMPTY CACHE every time (a new
browser context), a 390x844 phone viewport and the network throttled: the bytes on the wire
(every response of the page, headers included: the sum of encodedDataLength of CDP's
Network.loadingFinished), the number of requests and the Largest Contentful Paint
(PerformanceObserver 'largest-contentful-paint', buffered). Medians over --runs runs. Targets:
<= 60 KB and LCP <= 1.5 s per page. Then the first page (the private link) from the development
server beside the production one, runs interleaved (prod, dev, prod, dev, ...).

The throttling is Lighthouse's "slow 4G" (its mobile default, simulated there, applied here by
CDP Network.emulateNetworkConditions): 150 ms round trip, 1.6 Mbit/s down, 750 kbit/s up.
(Chrome DevTools' "Slow 4G" preset is another profile: 562.5 ms, 1.44 Mbit/s, 675 kbit/s;
--profile devtools uses it.) Chromium is Debian's, /usr/bin/chromium (CHROMIUM_PATH).

The production profile is started here: collectstatic (CompressedManifestStaticFilesStorage,
DEBUG off), migrate, then gunicorn with config/gunicorn.conf.py. The development server is
`manage.py runserver` with DEBUG on, as `make run` starts it. Both use the database of
DATABASE_URL (default postgres://postgres@127.0.0.1:5432/bench_weight; created if missing,
never dropped; the bench adds a surgeon and a few consents to it) and a throwaway sealing
certificate.

Prints, never asserts (tests assert behaviour; exit status 0 even when a page is over).
To measure a new page, add a Page to pages() where the patient meets it.

Run: .venv/bin/python bench/page_weight.py [--runs 3] [--port 8260] [--dev-port 8261]
"""

import argparse
import http.cookiejar
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from servers import free_port, production_env, wait_for  # bench/servers.py

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
}
# Bytes per second for CDP (which takes bytes, not bits).
PROFILES = {
    "lighthouse": {"latency": 150, "down": 1.6e6 / 8, "up": 750e3 / 8},
    "devtools": {"latency": 562.5, "down": 1.44e6 / 8, "up": 675e3 / 8},
}
TARGET_KB = 60
TARGET_LCP_MS = 1500
DOB = {"day": "27", "month": "3", "year": "1964"}
LCP_SCRIPT = """() => new Promise((resolve) => {
  new PerformanceObserver((list) => {
    const entries = list.getEntries();
    resolve(entries[entries.length - 1].startTime);
  }).observe({type: "largest-contentful-paint", buffered: true});
  setTimeout(() => resolve(null), 3000);
})"""


class Visitor:
    """A browser's cookies, driven over plain HTTP to put a consent where a page needs it."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def open(self, path: str, data: dict | None = None) -> int:
        if data is not None:
            data = urllib.parse.urlencode(
                {**data, "csrfmiddlewaretoken": self.csrf()}, doseq=True
            ).encode()
        request = urllib.request.Request(self.base + path, data=data)  # noqa: S310 - our server
        try:
            with self.opener.open(request, timeout=60) as response:
                response.read()
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def csrf(self) -> str:
        if not any(c.name == "csrftoken" for c in self.jar):
            self.open("/verify/")  # a page with a form sets the cookie
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def cookies(self) -> list[dict]:
        return [
            {"name": c.name, "value": c.value, "url": self.base + "/"}
            for c in self.jar
            if c.value is not None
        ]


@dataclass
class Page:
    """One page as the patient meets it: `path` opened (or, with `form`, posted to, as the
    page's form does) in a browser holding `who()`'s cookies. `before` runs once, before the
    page is measured, to bring the patient there."""

    name: str
    path: str | Callable[[], str]
    who: Callable[[], "Visitor"]
    form: dict | None = None
    before: Callable[[], object] | None = None
    figures: dict = field(default_factory=lambda: {"kb": [], "requests": [], "lcp": []})

    def record(self, kb: float, requests: int, lcp: float | None) -> None:
        self.figures["kb"].append(kb)
        self.figures["requests"].append(requests)
        self.figures["lcp"].append(lcp or 0)

    def median(self, key: str) -> float:
        return statistics.median(self.figures[key])

    def within_target(self) -> bool:
        return self.median("kb") <= TARGET_KB and 0 < self.median("lcp") <= TARGET_LCP_MS


def pages(w: SimpleNamespace) -> list[Page]:
    """Every patient page, in the order a patient meets them: add new steps here. `w` holds
    the visitors and links made in main(): w.patient goes through the steps one by one."""
    patient, stranger = (lambda: w.patient), (lambda: w.stranger)
    return [
        Page("link: confirm who you are", f"/p/{w.link}/", stranger),
        # A new link for each run: wrong dates lock a link.
        Page("link: wrong date of birth", lambda: f"/p/{w.new_link()}/", stranger,
             form={"day": "1", "month": "1", "year": "1990"}),
        Page("1 about your operation", "/patient/", patient),
        Page("2 what matters to you", "/patient/what-matters/", patient),
        Page("3 risks", "/patient/risks/", patient),
        Page("3 risks, 12 more added by the surgeon", "/patient/risks/", lambda: w.long_patient),
        Page("3 question form, refused", f"/patient/risks/{w.item}/question/", patient,
             form={"question": ""}),
        Page("4 check of understanding", "/patient/check/", patient,
             before=lambda: w.tick_all(w.patient, w.consent, "save", checks=False)),
        Page("4 check, a wrong answer", "/patient/check/", patient,
             form={"answer": w.wrong_answer}),
        Page("5 review and sign", "/patient/review/", patient,
             before=lambda: w.tick_all(w.patient, w.consent, "save")),
        Page("5 sign, refused", "/patient/sign/", patient, form={"typed_name": ""}),
        Page("done: signed", "/patient/done/", lambda: w.signer),
        Page("withdraw", "/patient/withdraw/", lambda: w.signer),
        Page("done: withdrawn", "/patient/done/", lambda: w.leaver),
        Page("leave", "/patient/sign-out/", patient),
        Page("left", "/patient/sign-out/", w.fresh_patient, form={}),
        Page("session ended", "/patient/risks/", stranger),
        Page("link problem: unknown", "/p/unknown-link-000000000000/", stranger),
        Page("link problem: replaced", f"/p/{w.reissued}/", stranger),
        Page("link problem: locked", f"/p/{w.locked}/", stranger),
    ]  # fmt: skip


def measure(
    browser, base: str, page: Page, network: dict, verbose: bool = False
) -> tuple[float, int, float | None]:
    """One load with an empty cache: (KB on the wire, requests, LCP ms)."""
    visitor = page.who()
    path = page.path() if callable(page.path) else page.path
    token = visitor.csrf() if page.form is not None else ""
    context = browser.new_context(**PHONE)
    try:
        context.add_cookies(visitor.cookies())
        tab = context.new_page()
        cdp = context.new_cdp_session(tab)
        cdp.send("Network.enable")
        cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": network["latency"],
                "downloadThroughput": network["down"],
                "uploadThroughput": network["up"],
            },
        )
        received: dict[str, float] = {}
        responses: dict[str, dict] = {}

        def on_response(event):
            responses[event["requestId"]] = event["response"]

        def on_finished(event):  # encodedDataLength: all bytes received, headers included
            received[event["requestId"]] = event["encodedDataLength"]

        cdp.on("Network.responseReceived", on_response)
        cdp.on("Network.loadingFinished", on_finished)
        cdp.on("Network.loadingFailed", lambda event: received.setdefault(event["requestId"], 0))
        url = base + path
        if page.form is not None:
            # A form's POST as the top-level navigation, as submitting the page's form makes it.
            body = urllib.parse.urlencode({**page.form, "csrfmiddlewaretoken": token})
            tab.route(
                url,
                lambda route: route.continue_(
                    method="POST",
                    post_data=body,
                    headers={
                        **route.request.headers,
                        "content-type": "application/x-www-form-urlencoded",
                        "origin": base,
                    },
                ),
                times=1,
            )
        tab.goto(url, wait_until="load")
        lcp = tab.evaluate(LCP_SCRIPT)
        tab.wait_for_load_state("networkidle")
        if verbose:
            for request_id, size in received.items():
                response = responses.get(request_id, {})
                headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
                print(
                    f"    {size / 1024:6.1f} KB {response.get('status', '-')} "
                    f"{headers.get('content-encoding', 'identity'):8} "
                    f"{headers.get('cache-control', '-'):38} "
                    f"{urllib.parse.urlsplit(response.get('url', '?')).path}"
                )
        return sum(received.values()) / 1024, len(received), lcp
    finally:
        context.close()


def start_servers(args, env: dict, dev_env: dict) -> list[subprocess.Popen]:
    gunicorn = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py"],
        env={
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{args.port}",
            "GUNICORN_LOG_LEVEL": "warning",
            "GUNICORN_ACCESS_LOG": "/dev/null",
        },
        cwd=ROOT,
    )
    runserver = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{args.dev_port}", "--noreload"],
        env=dev_env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return [gunicorn, runserver]


def create_database(url: str) -> None:
    """The PostgreSQL database of `url`, created if missing (as scripts/serve does)."""
    import dj_database_url
    import psycopg
    from psycopg import sql

    db = dj_database_url.parse(url)
    if db["ENGINE"] != "django.db.backends.postgresql":
        return  # SQLite makes its file itself
    with psycopg.connect(
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as server:
        if not server.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]
        ).fetchone():
            server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="loads per page (median shown)")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (default: free)")
    parser.add_argument("--dev-port", type=int, default=0, help="runserver's port")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="lighthouse")
    parser.add_argument(
        "--verbose", action="store_true", help="list each page's responses (first run)"
    )
    args = parser.parse_args()
    args.port = args.port or free_port()
    args.dev_port = args.dev_port or free_port()
    network = PROFILES[args.profile]

    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_weight")
    create_database(url)
    pki = Path(tempfile.mkdtemp(prefix="bench-pki-"))
    base, dev_base = f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.dev_port}"
    env = production_env(url, pki, SITE_URL=base, MEDIA_ROOT=str(pki / "media"))
    os.environ.update(env)
    manage = [sys.executable, str(ROOT / "manage.py")]
    print("collectstatic (compressing every file takes a while) and migrate ...", flush=True)
    for command in (["migrate", "-v0"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run(manage + command, env=env, check=True, cwd=ROOT)  # noqa: S603

    import django

    # Playwright's sync API runs an event loop in this thread; the ORM calls between browser
    # steps are still plain synchronous calls (as in tests/e2e/conftest.py).
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from consent.management.commands.createsurgeon import create_surgeon
    from consent.pki import create_dev_pki
    from consent.services import (
        ExtraRisk,
        consent_reissue_link,
        consent_withdraw,
        link_verify_identity,
    )
    from procedures.library import BUNDLED_LIBRARY, load_library, read_library_file
    from tests.helpers import DOB as DOB_DATE
    from tests.helpers import EXTRA, issue, pass_checks, patient_actor, surgeon_actor

    create_dev_pki(pki, organisation="Bench Hospital")
    load_library(read_library_file(BUNDLED_LIBRARY), skip_existing=True)
    surgeon = get_user_model().objects.filter(username="bench.weight").first() or create_surgeon(
        username="bench.weight", email="w@example.org", password=secrets.token_urlsafe(16)
    )
    slug = "lumbar-fusion-l4-l5-s1"  # the longest bundled consent: the heaviest pages

    servers = start_servers(args, env, {**env, "DEBUG": "1", "SITE_URL": dev_base})
    try:
        wait_for(base)
        wait_for(dev_base)

        def signed_in(issued) -> Visitor:
            visitor = Visitor(base)
            visitor.open(f"/p/{issued.token}/", DOB)
            return visitor

        def tick_all(visitor: Visitor, consent, action: str, checks: bool = True) -> None:
            """Every risk ticked, and (checks) the check of understanding passed."""
            ids = consent.items.filter(not_applicable=False).values_list("pk", flat=True)
            ids = [str(pk) for pk in ids]
            visitor.open("/patient/risks/", {"acknowledged": ids, "shown": ids, "action": action})
            if checks:
                pass_checks(consent)

        extra = [
            ExtraRisk(
                title=f"{EXTRA.title} ({n})",
                explanation=EXTRA.explanation,
                severity=EXTRA.severity,
                frequency=EXTRA.frequency,
            )
            for n in range(1, 13)
        ]

        def new_consent():
            return issue(surgeon, slug=slug)

        # The patient who walks through; patients who have signed, and withdrawn; links that
        # no longer work.
        consent, issued = new_consent()
        signed, signed_link = new_consent()
        withdrawn, withdrawn_link = new_consent()
        reissued, locked = new_consent(), new_consent()[1]
        consent_reissue_link(consent=reissued[0], actor=surgeon_actor(surgeon))
        for _ in range(settings.IDENTITY_MAX_ATTEMPTS):
            wrong_date = DOB_DATE.replace(year=1990)
            link_verify_identity(link=locked.link, date_of_birth=wrong_date, actor=patient_actor())
        w = SimpleNamespace(
            consent=consent,
            link=issued.token,
            patient=signed_in(issued),
            item=consent.items.filter(not_applicable=False).first().pk,
            wrong_answer=consent.checks.first().options[1],
            stranger=Visitor(base),
            # A long consent: the bundled one with 12 risks more, as a surgeon may add.
            long_patient=signed_in(issue(surgeon, slug=slug, extra_risks=extra)[1]),
            signer=signed_in(signed_link),
            leaver=signed_in(withdrawn_link),
            reissued=reissued[1].token,
            locked=locked.token,
            new_link=lambda: new_consent()[1].token,
            fresh_patient=lambda: signed_in(new_consent()[1]),
            tick_all=tick_all,
        )
        for visitor, signing in ((w.signer, signed), (w.leaver, withdrawn)):
            tick_all(visitor, signing, "continue")
            visitor.open("/patient/sign/", {"typed_name": "Ada Lovelace", "statement": "on"})
        withdrawn.refresh_from_db()
        consent_withdraw(consent=withdrawn, reason="", actor=patient_actor())
        signed.refresh_from_db()
        assert signed.status == "signed", "the bench could not sign"
        walk = pages(w)

        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
            )
            # Warm both servers (first requests import templates), unmeasured.
            for server_base in (base, dev_base):
                measure(browser, server_base, walk[0], network)
            for page in walk:
                if page.before:
                    page.before()
                if args.verbose:
                    print(f"  {page.name}")
                for run in range(args.runs):
                    verbose = args.verbose and run == 0
                    page.record(*measure(browser, base, page, network, verbose))
            # The issue's comparison: the first page, production and development interleaved.
            first = {label: Page(label, walk[0].path, walk[0].who) for label in ("prod", "dev")}
            for _ in range(args.runs):
                for label, server_base in (("prod", base), ("dev", dev_base)):
                    first[label].record(*measure(browser, server_base, first[label], network))
            browser.close()
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)

    report(walk, first, args, network)


def report(walk: list[Page], first: dict[str, Page], args, network: dict) -> None:
    print(
        f"\nEmpty cache, {PHONE['viewport']['width']}x{PHONE['viewport']['height']} phone, "
        f"{args.profile} slow 4G ({network['latency']:g} ms RTT, "
        f"{network['down'] * 8 / 1e6:g} Mbit/s down, {network['up'] * 8 / 1e3:g} kbit/s up), "
        f"median of {args.runs} runs. Target: <= {TARGET_KB} KB, LCP <= {TARGET_LCP_MS} ms."
    )

    def table(title: str, rows: list[Page], names: list[str]) -> None:
        print(f"\n{title}\n{'page':38} {'KB':>6} {'req':>4} {'LCP ms':>7}  target")
        for name, page in zip(names, rows, strict=True):
            print(
                f"{name:38} {page.median('kb'):6.1f} {page.median('requests'):4.0f} "
                f"{page.median('lcp'):7.0f}  {'OK' if page.within_target() else 'OVER'}"
            )

    table("Production profile (gunicorn, WhiteNoise, DEBUG off)", walk, [p.name for p in walk])
    table(
        "The first page, production and development server side by side (runs interleaved)",
        [first["prod"], first["dev"]],
        ["production (gunicorn, DEBUG off)", "development (runserver, DEBUG on)"],
    )
    within = sum(page.within_target() for page in walk)
    print(f"\n{within} of {len(walk)} patient pages within target.")


if __name__ == "__main__":
    main()
