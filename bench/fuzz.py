"""Fuzz every endpoint with 10,000 random and malformed requests; count the server errors.

Prints (does not assert): the requests per status, per endpoint and per visitor, and every
server error grouped by its exception, with one example request each.
Target: 0 server errors (the issue found 102 in 10,000, from 5 causes).

Run: .venv/bin/python bench/fuzz.py [--requests 10000] [--seed 20261121]
It uses a throwaway test database (SQLite by default, or DATABASE_URL, e.g.
DATABASE_URL=postgres://postgres@127.0.0.1:5432/consent .venv/bin/python bench/fuzz.py).
What is sent is described in tests/fuzzing.py; tests/test_fuzz.py runs a few hundred.
"""

import argparse
import logging
import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
# All requests come from one address: with the production rate limits most requests to the
# patient link and /verify/ would stop at the 429 page (tested on its own in
# tests/test_rate_limits.py) instead of reaching the code behind it.
os.environ.setdefault("PATIENT_LINK_RATE_LIMIT", "1000000/m")
os.environ.setdefault("VERIFY_RATE_LIMIT", "1000000/m")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10_000, help="requests to send")
    parser.add_argument("--seed", type=int, default=20261121, help="the same seed, the same run")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import (
        override_settings,
        setup_test_environment,
        teardown_test_environment,
    )

    # 4xx responses are expected by the thousand; server errors are counted by the report.
    for name in ("django", "axes"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from django.conf import settings

        from consent.pki import PkiPaths, create_dev_pki

        if not PkiPaths.in_dir(settings.PDF_SIGNING_CERT.parent).exist():
            create_dev_pki(settings.PDF_SIGNING_CERT.parent, organisation="Bench Hospital")
        with override_settings(TRUSTED_PROXY_COUNT=1):
            run(args, connection.vendor)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


def run(args, vendor: str) -> None:
    from tests.fuzzing import World
    from tests.fuzzing import run as fuzz

    world = World.build()
    start = time.perf_counter()
    report = fuzz(world, requests=args.requests, seed_value=args.seed)
    seconds = time.perf_counter() - start

    print(f"Fuzzed {report.sent} requests on {vendor} in {seconds:.0f} s (seed {args.seed}).")
    print("\nBy status:")
    for status, count in sorted(report.statuses.items()):
        print(f"  {status}  {count:6d}")
    print("\nBy endpoint (requests: statuses):")
    for name, statuses in sorted(report.by_endpoint.items()):
        spread = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
        print(f"  {name:42s} {sum(statuses.values()):5d}  {spread}")
    personas = Counter(request.persona for request, _, _ in report.server_errors)
    print(f"\nServer errors: {len(report.server_errors)} (target 0)")
    if report.server_errors:
        print("  by visitor: " + ", ".join(f"{p}: {n}" for p, n in personas.items()))
        examples = {}
        for request, _, detail in report.server_errors:
            cause = (detail.strip().splitlines() or ["(no exception)"])[-1][:200]
            examples.setdefault(cause, (request, detail))
        for cause, count in report.causes().most_common():
            request, detail = examples[cause]
            print(f"\n  {count} x {cause}\n  for example: {request!r}")
            print("    " + "\n    ".join(detail.strip().splitlines()[-12:]))


if __name__ == "__main__":
    main()
