"""Benchmark: the signed PDF of an L4-L5-S1 fusion consent.

Prints (does not assert):
- median time of the app's render (template + WeasyPrint with the shared font configuration
  and stylesheet) against the floor: WeasyPrint rendering the same HTML string directly;
- median time to seal with pyHanko;
- resident memory over many renders in one process (should stay flat);
- the size of the sealed file.
Targets (issue 5): render within 1.15x of the floor, sealing under 50 ms, memory flat over
300 renders, file under 150 KB.

Run: .venv/bin/python bench/pdf_render.py [--renders 300] [--runs 15]
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


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(fn, runs: int) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), result


def timed_side_by_side(a, b, runs: int) -> tuple[float, float, object]:
    """Medians of a and b measured interleaved (A B A B ...), so that machine load hits both."""
    samples_a, samples_b, result = [], [], None
    for _ in range(runs):
        start = time.perf_counter()
        a()
        samples_a.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        result = b()
        samples_b.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples_a), statistics.median(samples_b), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--renders", type=int, default=300, help="renders for the memory check")
    parser.add_argument("--runs", type=int, default=15, help="runs per timing median")
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
    from django.conf import settings
    from weasyprint import CSS, HTML

    from consent import documents
    from consent.audit import Checkpoint
    from consent.pki import PkiPaths, create_dev_pki
    from procedures.library import BUNDLED_LIBRARY, load_library, read_library_file
    from tests.helpers import png_signature, ready_to_sign, sign

    if not PkiPaths.in_dir(settings.PDF_SIGNING_CERT.parent).exist():
        create_dev_pki(settings.PDF_SIGNING_CERT.parent, organisation="Bench Hospital")
    load_library(read_library_file(BUNDLED_LIBRARY))
    from consent.management.commands.createsurgeon import create_surgeon

    surgeon = create_surgeon(username="bench", email="b@example.org", password="bench password 1")
    consent, _ = ready_to_sign(surgeon, slug="lumbar-fusion-l4-l5-s1")
    sign(consent, png=png_signature())
    consent.refresh_from_db()
    document = consent.document
    page_args = {
        "signature": consent.signatures.get(),
        "verification_code": document.verification_code,
        "verify_url": documents.verify_url(),
        "checkpoint": Checkpoint(document.checkpoint_sequence, document.checkpoint_hash),
    }
    html = documents.render_html(consent, **page_args)
    static = str(ROOT / "static") + "/"

    def floor():
        # The same variant as the app (PDF/A-2a, tagged), without the app's finishing touches
        # (header scope, XMP with the PDF/UA identification): those count as the app's cost.
        return HTML(string=html, base_url=static).write_pdf(
            stylesheets=[CSS(filename=str(documents.STYLESHEET))],
            pdf_variant=documents.PDF_A_VARIANT,
            pdf_tags=True,
        )

    def app():
        page = documents.render_html(consent, **page_args)
        return documents.html_to_pdf(page)

    # Warm both paths (font discovery, imports) before timing.
    floor()
    pdf = app()
    documents.seal_pdf(pdf)

    floor_ms, app_ms, pdf = timed_side_by_side(floor, app, args.runs)
    seal_ms, sealed = timed(lambda: documents.seal_pdf(pdf), args.runs)

    print(f"L4-L5-S1 fusion consent: {consent.items.count()} risks, {len(pdf_pages(sealed))} pages")
    print(
        f"floor (WeasyPrint on the same HTML): median {floor_ms:7.1f} ms over {args.runs} runs "
        "(interleaved with the app's)"
    )
    print(
        f"app render (template + WeasyPrint):  median {app_ms:7.1f} ms  ratio {app_ms / floor_ms:.2f}x (target <= 1.15x)"
    )
    print(f"seal (pyHanko PAdES, EC P-256):      median {seal_ms:7.1f} ms (target < 50 ms)")
    print(f"sealed file size: {len(sealed) / 1024:.1f} KB (target < 150 KB)")

    checkpoints = {0: rss_mb()}
    for i in range(1, args.renders + 1):
        documents.seal_pdf(app())
        if i % max(args.renders // 6, 1) == 0 or i == args.renders:
            checkpoints[i] = rss_mb()
    trail = ", ".join(f"{n}: {mb:.0f}" for n, mb in checkpoints.items())
    first_third = checkpoints[min(k for k in checkpoints if k >= args.renders // 3)]
    print(f"resident memory (MB) after N renders+seals: {trail}")
    print(
        f"growth from render {args.renders // 3} to {args.renders}: "
        f"{checkpoints[args.renders] - first_third:+.1f} MB (target: flat)"
    )


def pdf_pages(data: bytes) -> list:
    import io

    from pypdf import PdfReader

    return list(PdfReader(io.BytesIO(data)).pages)


if __name__ == "__main__":
    main()
