"""Browser tests: a real headless Chromium (Debian's package) driven by Playwright."""

import os
import shutil

import pytest

# Playwright's sync API runs an event loop in the test's thread; the ORM calls the tests make
# between browser steps are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Generous limits for a loaded machine (CI runs the suite under coverage). Tests wait on what
# the page shows (expect(...), wait_for_url), never on a fixed delay; these only bound the wait.
EXPECT_TIMEOUT_MS = 30_000
ACTION_TIMEOUT_MS = 60_000


def pytest_configure(config):
    from playwright.sync_api import expect

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}. Install Debian's package: apt-get install chromium "
            "(make test does this when run as root)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def e2e_library(transactional_db):
    from procedures.library import BUNDLED_LIBRARY, load_library, read_library_file

    load_library(read_library_file(BUNDLED_LIBRARY))


@pytest.fixture
def new_context(browser):
    """browser.new_context with the generous timeouts; every context is closed afterwards."""
    contexts = []

    def make(**options):
        context = browser.new_context(**options)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
