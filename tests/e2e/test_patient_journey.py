"""The whole journey as people would do it, in a real browser.

A surgeon signs in and issues a consent. A patient, in another browser on a phone-sized screen,
opens the link, proves their date of birth, ticks risks, closes the tab half-way, comes back,
asks a question; the surgeon answers it; the patient draws a signature with the mouse and signs.
"""

import base64
import datetime
import io
from urllib.parse import parse_qs

import pytest
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from consent.actors import Actor
from consent.models import Consent, ConsentStatus, Signature
from consent.services import consent_answer_question
from tests.conftest import PASSWORD
from tests.e2e.pad import PAD_HAS_INK, draw
from tests.e2e.steps import answer_checks, past_the_overview
from tests.helpers import issue, ready_to_sign

pytestmark = pytest.mark.usefixtures("e2e_library")

PHONE = {
    "viewport": {"width": 360, "height": 740},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}


def test_the_whole_journey_to_a_signed_consent(new_context, live_server, surgeon):
    # --- the surgeon issues a consent ---
    desk = new_context(viewport={"width": 1280, "height": 900})
    page = desk.new_page()
    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill(surgeon.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#main").get_by_role("link", name="New consent").click()
    page.get_by_role("link", name="Lumbar rhizotomy").click()
    page.get_by_label("Patient's full name").fill("Ada Lovelace")
    page.get_by_label("Date of birth").fill("1964-03-27")
    page.get_by_label("Hospital number (MRN)").fill("MRN-1815")
    planned = timezone.localdate() + datetime.timedelta(days=60)
    page.get_by_label("Planned date of surgery").fill(planned.isoformat())
    page.get_by_role("button", name="Issue consent").click()
    expect(page.get_by_text("The patient's link (shown only now)")).to_be_visible()
    link = page.locator("#patient-link").input_value()
    assert link.startswith(f"{live_server.url}/p/")
    consent = Consent.objects.get()

    # --- the patient proves who they are on a phone ---
    phone = new_context(**PHONE)
    patient = phone.new_page()
    patient.goto(link)
    patient.get_by_label("Day").fill("1")
    patient.get_by_label("Month").fill("1")
    patient.get_by_label("Year").fill("1970")
    patient.get_by_role("button", name="Continue").click()
    expect(patient.locator("#error-summary")).to_contain_text("does not match our records")
    patient.get_by_label("Day").fill("27")
    patient.get_by_label("Month").fill("3")
    patient.get_by_label("Year").fill("1964")
    patient.get_by_role("button", name="Continue").click()
    expect(patient.get_by_text("Step 1 of 5")).to_be_visible()
    assert "/p/" not in patient.url  # the token is gone from the address bar
    past_the_overview(patient)

    # --- ticks are saved as they are made; half-way the tab is closed ---
    boxes = patient.get_by_label("I have read and understood this")
    total = 6
    expect(boxes).to_have_count(total)
    for i in range(3):
        boxes.nth(i).check()
        expect(patient.locator(f"#{boxes.nth(i).get_attribute('id')}-status")).to_have_text(
            "Saved."
        )
    assert consent.items.filter(acknowledged_at__isnull=False).count() == 3
    patient.close()

    patient = phone.new_page()
    patient.goto(link)  # the same phone, later: straight back in, where they left off
    expect(patient.get_by_text("Welcome back. You are where you left off.")).to_be_visible()
    first_left = consent.items.filter(acknowledged_at__isnull=True).order_by("order").first()
    assert patient.url.endswith(f"/patient/risks/#item-{first_left.pk}")
    boxes = patient.get_by_label("I have read and understood this")
    for i in range(3):
        expect(boxes.nth(i)).to_be_checked()
    expect(patient.locator("#ack-count")).to_have_text("3 of 6 risks ticked and saved.")

    # Continuing too early lists exactly what is left.
    patient.get_by_role("button", name="Continue").click()
    alert = patient.locator("#missing")
    expect(alert).to_contain_text("Please tick 3 more risks")
    for item in consent.items.filter(acknowledged_at__isnull=True):
        expect(alert).to_contain_text(item.title)

    for i in range(3, total):
        boxes.nth(i).check()
        expect(patient.locator(f"#{boxes.nth(i).get_attribute('id')}-status")).to_have_text(
            "Saved."
        )

    # --- a question, answered by the surgeon ---
    first = consent.items.order_by("order").first()
    card = patient.locator(f"#item-{first.pk}")
    card.get_by_text("I have a question about this").click()
    card.get_by_label(f'Your question about "{first.title}"').fill(
        "Will I be able to walk the same day?"
    )
    card.get_by_role("button", name="Send my question").click()
    expect(patient.get_by_text("Your question was sent")).to_be_visible()
    patient.goto(f"{live_server.url}/patient/review/")  # first, the check of understanding
    answer_checks(patient, consent, wrong_first=1)
    expect(patient.get_by_text("Waiting for your surgeon's team")).to_be_visible()

    page.goto(f"{live_server.url}/consents/{consent.pk}/")
    expect(page.get_by_text("Will I be able to walk the same day?")).to_be_visible()
    page.get_by_label("Your answer").fill(
        "Yes. A nurse will help you walk a few steps that evening."
    )
    page.get_by_role("button", name="Send answer").click()
    expect(page.get_by_text("Your answer was saved")).to_be_visible()

    patient.goto(f"{live_server.url}/patient/risks/")
    expect(patient.get_by_text("A nurse will help you walk a few steps")).to_be_visible()
    patient.get_by_role("button", name="Continue").click()

    # --- review and sign with a drawn signature ---
    expect(patient.get_by_text("Step 5 of 5")).to_be_visible()
    patient.get_by_label("Type your full name").fill("ada  lovelace")
    draw(patient)
    patient.get_by_label("I consent to Lumbar rhizotomy.").check()
    patient.get_by_role("button", name="Sign my consent").click()
    expect(patient.get_by_text("Thank you. Your consent is signed.")).to_be_visible()

    consent.refresh_from_db()
    assert consent.status == ConsentStatus.SIGNED
    signature = Signature.objects.get(consent=consent)
    assert signature.method == "drawn" and signature.typed_name == "ada lovelace"
    image = Image.open(io.BytesIO(bytes(signature.image_png)))
    assert image.format == "PNG" and image.width >= 360  # drawn at the phone's pixel density
    assert image.convert("RGBA").getchannel("A").getbbox() is not None  # something was drawn

    page.goto(f"{live_server.url}/consents/{consent.pk}/")
    expect(page.get_by_text("Signed by ada lovelace")).to_be_visible()


def test_keyboard_only_patients_sign_with_the_typed_name(new_context, live_server, surgeon):
    consent, issued = ready_to_sign(surgeon)
    context = new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{live_server.url}/p/{issued.token}/")
    page.get_by_label("Day").fill("27")
    page.keyboard.press("Tab")
    page.keyboard.type("3")
    page.keyboard.press("Tab")
    page.keyboard.type("1964")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Step 5 of 5")).to_be_visible()  # all done: the review
    page.get_by_label("Type your full name").focus()
    page.keyboard.type("Ada Lovelace")
    page.get_by_label("I consent to").focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Sign my consent").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Your consent is signed")).to_be_visible()
    assert Signature.objects.get(consent=consent).method == "typed"


# A common phone: the first screen is 844 px high.
TALL_PHONE = {**PHONE, "viewport": {"width": 390, "height": 844}}


def prove_identity(page, live_server, issued):
    page.goto(f"{live_server.url}/p/{issued.token}/")
    page.get_by_label("Day").fill("27")
    page.get_by_label("Month").fill("3")
    page.get_by_label("Year").fill("1964")
    page.get_by_role("button", name="Continue").click()


def test_a_refused_first_sign_keeps_the_drawing_and_shows_why_first(
    new_context, live_server, surgeon
):
    consent, issued = ready_to_sign(surgeon)
    page = new_context(**TALL_PHONE).new_page()
    prove_identity(page, live_server, issued)
    expect(page.get_by_text("Step 5 of 5")).to_be_visible()  # all done: the review
    draw(page)
    page.get_by_label("Type your full name").fill("Ada Lovelac")  # a typo
    page.get_by_label("I consent to").check()
    with page.expect_request("**/patient/sign/") as sent:
        page.get_by_role("button", name="Sign my consent").click()
    drawn = parse_qs(sent.value.post_data)["signature"][0]
    assert drawn.startswith("data:image/png;base64,")

    # Why, first: focused, on the first screen, read out as an alert.
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_have_attribute("role", "alert")
    expect(summary).to_be_in_viewport()
    top = summary.bounding_box()
    assert top["y"] >= 0 and top["y"] + top["height"] <= 844, top
    # Nothing lost: the drawing is back in the form and on the pad, the box still ticked.
    assert page.locator("input[name=signature]").input_value() == drawn
    page.wait_for_function(PAD_HAS_INK)
    expect(page.get_by_label("I consent to")).to_be_checked()
    expect(page.get_by_label("Type your full name")).to_have_value("Ada Lovelac")

    summary.get_by_role("link", name="The name you typed does not match").click()
    expect(page.get_by_label("Type your full name")).to_be_focused()
    page.get_by_label("Type your full name").fill("Ada Lovelace")
    page.get_by_role("button", name="Sign my consent").click()
    expect(page.get_by_text("Thank you. Your consent is signed.")).to_be_visible()
    signature = Signature.objects.get(consent=consent)
    assert signature.method == "drawn"
    assert bytes(signature.image_png) == base64.b64decode(drawn.split(",", 1)[1])


def test_without_javascript_from_the_link_to_the_signed_pdf(new_context, live_server, surgeon):
    consent, issued = issue(surgeon)
    page = new_context(**TALL_PHONE, java_script_enabled=False).new_page()
    page.goto(f"{live_server.url}/p/{issued.token}/")
    page.get_by_label("Day").fill("27")
    page.get_by_role("button", name="Continue").click()
    summary = page.locator("#error-summary")  # at the top, and linked, without the script
    expect(summary).to_be_in_viewport()
    expect(summary.get_by_role("link", name="Enter the month you were born.")).to_have_attribute(
        "href", "#id_month"
    )
    prove_identity(page, live_server, issued)
    past_the_overview(page)

    expect(page.get_by_text("to save your ticks")).to_be_visible()
    expect(page.get_by_text("Each tick is saved as you make it")).to_be_hidden()
    boxes = page.get_by_label("I have read and understood this")
    expect(boxes).to_have_count(6)
    for i in range(3):
        boxes.nth(i).check()
    expect(page.locator("#ack-count")).to_have_text("0 of 6 risks ticked and saved.")
    # A question sent before saving keeps the ticks made so far: one button sends both.
    page.locator(f"#item-{consent.items.last().pk} summary").click()
    page.get_by_label("Your question about").last.fill("Will I need a brace?")
    page.get_by_role("button", name="Send my question").last.click()
    expect(page.get_by_text("Your question was sent.")).to_be_visible()
    expect(page.locator("#ack-count")).to_have_text("3 of 6 risks ticked and saved.")
    question = consent.questions.get()
    assert question.text == "Will I need a brace?"
    consent_answer_question(
        consent=consent,
        question_id=question.pk,
        text="Usually not.",
        actor=Actor(type="surgeon", label=surgeon.username, user=surgeon),
    )
    for i in range(6):
        boxes.nth(i).check()
    page.get_by_role("button", name="Continue").click()
    answer_checks(page, consent, wrong_first=1)  # a plain form too

    expect(page.get_by_text("Step 5 of 5")).to_be_visible()
    assert consent.items.filter(acknowledged_at__isnull=True).count() == 0
    # Without the script, each risk's time is the page's time shared among its ticks.
    assert all(item.reading_measured == "page" for item in consent.items.all())
    expect(page.locator("canvas")).to_be_hidden()  # no pad without the script: the typed name
    page.get_by_label("Type your full name").fill("Ada")
    page.get_by_label("I consent to").check()
    page.get_by_role("button", name="Sign my consent").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_in_viewport()
    expect(summary.get_by_role("link", name="The name you typed does not match")).to_be_visible()
    page.get_by_label("Type your full name").fill("Ada Lovelace")
    page.get_by_role("button", name="Sign my consent").click()
    expect(page.get_by_text("Thank you. Your consent is signed.")).to_be_visible()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download your copy (PDF)").click()
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    assert Signature.objects.get(consent=consent).method == "typed"


# What a phone types: no accent, and the curly apostrophe (U+2019) phones type by default.
CURLY_NAME = "siobhan O\u2019Neill"
# Lighthouse's "slow 4G": 150 ms round trip, 1.6 Mbit/s down, 750 kbit/s up (bench/page_weight.py).
SLOW_4G = {
    "offline": False,
    "latency": 150,
    "downloadThroughput": 1_600_000 / 8,
    "uploadThroughput": 750_000 / 8,
}


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_done_when_a_real_patient_on_a_slow_phone_reaches_a_sealed_pdf(
    javascript, new_context, live_server, surgeon
):
    """The issue's whole test: a phone on slow 4G, a name with an accent and an apostrophe typed
    the phone's way, a procedure whose levels the surgeon gives, a refused first Sign; with the
    page scripts and without. Nothing the patient did is lost, and the PDF is sealed and says
    the levels."""
    from pypdf import PdfReader

    from consent.documents import verify_bytes

    desk = new_context(viewport={"width": 1280, "height": 900}).new_page()
    desk.goto(f"{live_server.url}/")
    desk.get_by_label("Username").fill(surgeon.username)
    desk.get_by_label("Password").fill(PASSWORD)
    desk.get_by_role("button", name="Sign in").click()
    desk.goto(f"{live_server.url}/consents/new/low-back-fusion/")
    desk.get_by_label("Patient's full name").fill("Siobhán O'Neill")
    desk.get_by_label("Date of birth").fill("1964-03-27")
    desk.get_by_label("Spinal levels").fill("l4 - l5")
    planned = timezone.localdate() + datetime.timedelta(days=30)
    desk.get_by_label("Planned date of surgery").fill(planned.isoformat())
    desk.get_by_role("button", name="Issue consent").click()
    link = desk.locator("#patient-link").input_value()
    consent = Consent.objects.get()
    assert consent.procedure_site.endswith("L4-L5")

    context = new_context(**TALL_PHONE, java_script_enabled=javascript)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_4G)

    page.goto(link)
    for label, value in (("Day", "27"), ("Month", "3"), ("Year", "1964")):
        page.get_by_label(label).fill(value)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Step 1 of 5")).to_be_visible()
    expect(page.get_by_text("L4-L5")).to_be_visible()
    past_the_overview(page)

    boxes = page.get_by_label("I have read and understood this")
    total = consent.items.filter(not_applicable=False).count()
    expect(boxes).to_have_count(total)
    for i in range(total):
        boxes.nth(i).check()
    page.get_by_role("button", name="Continue", exact=True).click()
    answer_checks(page, consent)
    expect(page.get_by_text("Step 5 of 5")).to_be_visible()
    assert consent.items.filter(acknowledged_at__isnull=True, not_applicable=False).count() == 0

    # The first Sign is refused (the box is not ticked): why, at the top; nothing lost.
    if javascript:
        draw(page)
    page.get_by_label("Type your full name").fill(CURLY_NAME)  # no accent, a curly apostrophe
    with page.expect_request("**/patient/sign/") as sent:
        page.get_by_role("button", name="Sign my consent").click()
    drawn = parse_qs(sent.value.post_data).get("signature", [""])[0]
    summary = page.locator("#error-summary")
    expect(summary).to_be_in_viewport()
    if javascript:
        expect(summary).to_be_focused()
        assert drawn.startswith("data:image/png;base64,")
        assert page.locator("input[name=signature]").input_value() == drawn
        page.wait_for_function(PAD_HAS_INK)
    expect(page.get_by_label("Type your full name")).to_have_value(CURLY_NAME)
    expect(summary).not_to_contain_text("does not match")  # the name was accepted
    page.get_by_label("I consent to").check()
    page.get_by_role("button", name="Sign my consent").click()
    expect(page.get_by_text("Thank you. Your consent is signed.")).to_be_visible()

    signature = Signature.objects.get(consent=consent)
    assert signature.typed_name == CURLY_NAME
    if javascript:
        assert signature.method == "drawn"
        assert bytes(signature.image_png) == base64.b64decode(drawn.split(",", 1)[1])
    else:
        assert signature.method == "typed"
    with page.expect_download() as download:
        page.get_by_role("link", name="Download your copy (PDF)").click()
    with open(download.value.path(), "rb") as pdf:
        data = pdf.read()
    assert verify_bytes(data).authentic
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "L4-L5" in text and "levels set by your surgeon" not in text
