"""Benchmark: what the check of understanding adds for a patient, and what it costs the server.

Prints (does not assert), for each procedure of the bundled library:
- its checks' reading grades (question, each answer and explanation as one passage, as the
  admin grades them: min, median, max; the target is grade 8 or lower);
- the time the step adds for a patient reading at 200 words a minute (the rate the predicted
  reading time uses) plus CHOOSE_SECONDS to pick and press for each question: with every answer
  right, and with one wrong (the passage read again, the question asked again); and that time
  as a share of the consent's predicted reading time;
then, measured side by side (A B A B) on a throwaway database with the test client:
- the median server time of one check answered (the check page, the answer posted) against one
  risk ticked (the risks page, a tick posted), and their ratio.

Run: .venv/bin/python bench/check_step.py [--runs 30]
It uses a throwaway test database (SQLite by default, or DATABASE_URL).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

# Seconds to choose an answer and press the button, on a phone (an assumption, not measured).
CHOOSE_SECONDS = 4


def words(text: str) -> int:
    return len(text.split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="runs per timing median")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, keepdb=False)
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()


def run(args) -> None:
    from consent.reading import WORDS_PER_MINUTE
    from procedures.library import BUNDLED_LIBRARY, load_library, read_library_file
    from procedures.models import Procedure
    from procedures.readability import check_text, grade
    from tests.helpers import issue

    load_library(read_library_file(BUNDLED_LIBRARY))
    from consent.management.commands.createsurgeon import create_surgeon

    surgeon = create_surgeon(username="bench", email="b@example.org", password="bench password 1")

    print(f"{'procedure':24} checks  grade min/median/max  adds (all right)  (one wrong)  share")
    for procedure in Procedure.objects.order_by("slug"):
        consent, _ = issue(surgeon, slug=procedure.slug, **site_for(procedure))
        checks = list(consent.checks.select_related("item"))
        grades = [grade(check_text(c)) for c in procedure.understanding_checks.all()]
        read = sum(words(c.question) + sum(words(o) for o in c.options) for c in checks)
        # After a right answer the explanation is shown: it is read too.
        read += sum(words(c.explanation) for c in checks)
        right = read * 60 / WORDS_PER_MINUTE + CHOOSE_SECONDS * len(checks)
        first = checks[0]
        passage = first.item.explanation if first.item else consent.procedure_text[first.section]
        again = words(passage) + words(first.question) + sum(words(o) for o in first.options)
        wrong = right + again * 60 / WORDS_PER_MINUTE + CHOOSE_SECONDS
        share = right / consent.predicted_reading_seconds
        print(
            f"{procedure.slug:24} {len(checks):6}  "
            f"{min(grades):4.1f} / {statistics.median(grades):4.1f} / {max(grades):4.1f}    "
            f"{right / 60:6.1f} min        {wrong / 60:6.1f} min   {share:5.1%}"
            f" of {consent.predicted_reading_seconds / 60:.1f} min"
        )

    server_times(surgeon, args.runs)


def site_for(procedure) -> dict:
    site = {}
    if procedure.asks_for_levels:
        site["levels"] = "L4-L5"
    if procedure.asks_for_side:
        site["side"] = "left"
    return site


def server_times(surgeon, runs: int) -> None:
    from django.test import Client
    from django.urls import reverse

    from consent.models import ConsentCheck
    from tests.helpers import at_the_check, issue
    from tests.test_patient_views import sign_in

    def check_once():
        """One check: show it, answer it right. A fresh consent whenever all are passed."""
        check = ConsentCheck.objects.filter(consent=state["checking"], passed_at__isnull=True)
        check = check.first()
        if check is None:
            state["checking"], issued = at_the_check(surgeon, slug="lumbar-fusion-l4-l5-s1")
            state["check_client"] = Client()
            sign_in(state["check_client"], issued)
            check = state["checking"].checks.first()
        client = state["check_client"]
        start = time.perf_counter()
        client.get(reverse("patient_check"))
        client.post(reverse("patient_check"), {"answer": check.answer})
        return (time.perf_counter() - start) * 1000

    def tick_once():
        """One risk: show the page, tick it. A fresh consent whenever all are ticked."""
        item = state["ticking"].items.filter(acknowledged_at__isnull=True).first()
        if item is None:
            state["ticking"], issued = issue(surgeon, slug="lumbar-fusion-l4-l5-s1")
            state["tick_client"] = Client()
            sign_in(state["tick_client"], issued)
            item = state["ticking"].items.first()
        client = state["tick_client"]
        start = time.perf_counter()
        client.get(reverse("patient_risks"))
        client.post(reverse("patient_acknowledge", args=[item.pk]), {"acknowledged": "1"})
        return (time.perf_counter() - start) * 1000

    state = {"checking": None, "ticking": None}
    state["checking"], issued = at_the_check(surgeon, slug="lumbar-fusion-l4-l5-s1")
    state["check_client"] = Client()
    sign_in(state["check_client"], issued)
    state["ticking"], issued = issue(surgeon, slug="lumbar-fusion-l4-l5-s1")
    state["tick_client"] = Client()
    sign_in(state["tick_client"], issued)
    check_once(), tick_once()  # warm up
    checks, ticks = [], []
    for _ in range(runs):  # A B A B
        checks.append(check_once())
        ticks.append(tick_once())
    a, b = statistics.median(checks), statistics.median(ticks)
    print(
        f"\nServer time, median of {runs} (interleaved): one check shown and answered "
        f"{a:.1f} ms, one risk shown and ticked {b:.1f} ms: ratio {a / b:.2f}"
    )


if __name__ == "__main__":
    main()
