"""Provably informed, in a real browser: the issue's "done when".

A new patient on a phone reads (the time each risk is on screen is measured, paused while the
tab is hidden), ticks, says what matters to them, answers the check of understanding (one
wrong, the passage shown again, then right), waits for the surgeon's response, signs; the
surgeon sees the reading time, the first-try results and the priorities; the sealed PDF states
all three.
"""

import io

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from consent.models import Consent, ConsentStatus, StepTime
from tests.conftest import PASSWORD
from tests.e2e.steps import answer_checks
from tests.helpers import issue

pytestmark = pytest.mark.usefixtures("e2e_library")

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}

HIDE_TAB = """() => {
  Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
  document.dispatchEvent(new Event("visibilitychange"));
}"""
SHOW_TAB = """() => {
  Object.defineProperty(document, "visibilityState", { value: "visible", configurable: true });
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def test_done_when_a_new_patient_reads_checks_says_what_matters_and_signs(
    new_context, live_server, surgeon
):
    consent, issued = issue(surgeon)
    page = new_context(**PHONE).new_page()
    page.goto(f"{live_server.url}/p/{issued.token}/")
    for label, value in (("Day", "27"), ("Month", "3"), ("Year", "1964")):
        page.get_by_label(label).fill(value)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Step 1 of 5: About your operation")).to_be_visible()
    page.wait_for_timeout(1500)
    page.get_by_role("link", name="Continue", exact=True).click()
    page.wait_for_timeout(1500)
    page.get_by_label("Walking further").check()
    page.get_by_label("Getting back to work").check()
    page.get_by_label("Anything else that matters to you").fill(
        "I want to walk my daughter down the aisle in June."
    )
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(page.get_by_text("Step 3 of 5: Risks")).to_be_visible()

    # The first risk in view for a few seconds, then the tab hidden: the time so far is sent
    # (a beacon) and no more is counted while hidden.
    items = list(consent.items.filter(not_applicable=False).order_by("order"))
    first = items[0]
    page.locator(f"#item-{first.pk}").scroll_into_view_if_needed()
    page.wait_for_timeout(3500)
    with page.expect_request("**/patient/reading/") as beacon:
        page.evaluate(HIDE_TAB)
    assert f"seconds-{first.pk}" in (beacon.value.post_data or "")
    page.wait_for_timeout(500)
    first.refresh_from_db()
    on_screen = first.seconds_on_screen
    assert 2 <= on_screen <= 6 and first.reading_measured == "screen"
    page.wait_for_timeout(2500)  # hidden: nothing counts
    page.evaluate(SHOW_TAB)

    # Each risk brought into view and ticked; the tick carries its own time.
    boxes = page.get_by_label("I have read and understood this")
    for i, item in enumerate(items):
        page.locator(f"#item-{item.pk}").scroll_into_view_if_needed()
        page.wait_for_timeout(1200)
        boxes.nth(i).check()
        expect(page.locator(f"#ack-{item.pk}-status")).to_have_text("Saved.")
    first.refresh_from_db()
    assert on_screen <= first.seconds_on_screen <= on_screen + 3  # the hidden time not counted
    assert all(i.seconds_on_screen >= 1 for i in consent.items.filter(not_applicable=False))
    page.get_by_role("button", name="Continue", exact=True).click()

    # The check of understanding: one wrong answer shows the passage again, then right.
    expect(page.get_by_text("Step 4 of 5: Check your understanding")).to_be_visible()
    page.wait_for_timeout(1500)
    answer_checks(page, consent, wrong_first=1)
    expect(page.get_by_text("Step 5 of 5: Review and sign")).to_be_visible()
    expect(page.get_by_text("Your surgeon has not yet replied to what matters")).to_be_visible()
    expect(page.get_by_role("button", name="Sign my consent")).to_have_count(0)

    # The surgeon sees the reading time, the first-try results and the priorities; responds.
    desk = new_context(viewport={"width": 1280, "height": 900}).new_page()
    desk.goto(f"{live_server.url}/accounts/login/")
    desk.get_by_label("Username").fill(surgeon.username)
    desk.get_by_label("Password").fill(PASSWORD)
    desk.get_by_role("button", name="Sign in").click()
    row = desk.locator("tr", has_text="Ada Lovelace")
    expect(row.get_by_text("What matters: reply")).to_be_visible()
    expect(row.get_by_text("Needed help with 1 question")).to_be_visible()
    row.get_by_role("link", name="Ada Lovelace").click()
    reading = desk.locator("#reading")
    expect(reading).to_contain_text("Time spent reading:")
    expect(reading).to_contain_text("Needed help with 1 question")
    wrong = consent.checks.order_by("order").first()
    expect(reading).to_contain_text(wrong.about)
    priorities = desk.locator("#priorities")
    expect(priorities).to_contain_text("Walking further")
    expect(priorities).to_contain_text("walk my daughter down the aisle")
    desk.get_by_label("Your response to what matters to the patient").fill(
        "Most people walk further within three months. Nerve damage is the risk that bears on "
        "it most: it is rare."
    )
    desk.get_by_role("button", name="Send response").click()
    expect(desk.get_by_text("Your response was saved")).to_be_visible()

    # The patient comes back to the review, reads the response and signs.
    page.reload()
    expect(page.get_by_text("Most people walk further within three months.")).to_be_visible()
    page.get_by_label("Type your full name").fill("Ada Lovelace")
    page.get_by_label("I consent to").check()
    page.get_by_role("button", name="Sign my consent").click()
    expect(page.get_by_text("Thank you. Your consent is signed.")).to_be_visible()
    consent = Consent.objects.get(pk=consent.pk)
    assert consent.status == ConsentStatus.SIGNED
    steps = dict(StepTime.objects.filter(consent=consent).values_list("step", "seconds"))
    assert {"overview", "priorities", "risks", "check"} <= set(steps)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download your copy (PDF)").click()
    with open(download.value.path(), "rb") as pdf:
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.read())).pages)
    for heading in ("What matters to the patient", "Time spent reading", "Check of understanding"):
        assert heading in text
    assert "walk my daughter down the aisle" in text
    assert "Most people walk further within three months." in text
    assert "needed help with 1 of" in text
    assert "Flag: read in under half the predicted time." in text  # a quick test reader
