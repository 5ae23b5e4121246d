"""The page scripts when things go wrong, in a real browser.

acknowledge.js saves each tick at once; when a save fails it says so ("Not saved: ...") and
puts the box back as it was, so the page never shows a tick the server does not have.
signature.js: "Clear the drawing" really clears it, so the patient signs with the typed name.
"""

import pytest
from playwright.sync_api import expect

from consent.models import Signature, UserSession
from consent.services import consent_withdraw
from tests.helpers import issue, patient_actor, ready_to_sign

pytestmark = pytest.mark.usefixtures("e2e_library")

# The script's own request, and no other: /patient/risks/<item>/
TICK_URL = "**/patient/risks/*/"


def open_as_patient(new_context, live_server, issued, then="/patient/risks/"):
    page = new_context(viewport={"width": 1000, "height": 900}).new_page()
    page.goto(f"{live_server.url}/p/{issued.token}/")
    page.get_by_label("Day").fill("27")
    page.get_by_label("Month").fill("3")
    page.get_by_label("Year").fill("1964")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Step 1 of 3")).to_be_visible()
    page.goto(f"{live_server.url}{then}")
    return page


def box_and_status(page, item):
    return page.locator(f"#ack-{item.pk}"), page.locator(f"#ack-{item.pk}-status")


def test_a_tick_the_server_refuses_shows_its_reason_and_is_put_back(
    new_context, live_server, surgeon
):
    consent, issued = issue(surgeon)
    page = open_as_patient(new_context, live_server, issued)
    first, second = consent.items.order_by("order")[:2]
    box, status = box_and_status(page, first)
    box.check()
    expect(status).to_have_text("Saved.")

    # Meanwhile, in another tab, the patient withdraws.
    consent_withdraw(consent=consent, reason="", actor=patient_actor())

    box.click()  # not uncheck(): the script puts the box back, which uncheck() would call a failure
    expect(status).to_have_text(
        "Not saved: This consent can no longer be changed: it is withdrawn."
    )
    expect(box).to_be_checked()  # back as the server has it
    expect(box).to_be_enabled()

    other, other_status = box_and_status(page, second)
    other.click()
    expect(other_status).to_have_text(
        "Not saved: This consent can no longer be changed: it is withdrawn."
    )
    expect(other).not_to_be_checked()
    expect(page.locator("#ack-count")).to_have_text("1 of 6 risks ticked.")
    assert consent.items.filter(acknowledged_at__isnull=False).count() == 1


def test_a_tick_lost_on_the_network_says_so_and_can_be_made_again(
    new_context, live_server, surgeon
):
    consent, issued = issue(surgeon)
    page = open_as_patient(new_context, live_server, issued)
    item = consent.items.order_by("order").first()
    box, status = box_and_status(page, item)

    page.route(TICK_URL, lambda route: route.abort("internetdisconnected"))
    box.click()
    expect(status).to_have_text("Not saved: please check your internet connection and try again.")
    expect(box).not_to_be_checked()
    expect(box).to_be_enabled()
    expect(page.locator("#ack-count")).to_have_text("0 of 6 risks ticked.")
    item.refresh_from_db()
    assert item.acknowledged_at is None

    page.unroute(TICK_URL)  # back online
    box.check()
    expect(status).to_have_text("Saved.")
    expect(page.locator("#ack-count")).to_have_text("1 of 6 risks ticked.")
    item.refresh_from_db()
    assert item.acknowledged_at is not None


def test_a_tick_after_the_session_ended_asks_for_a_reload(new_context, live_server, surgeon):
    consent, issued = issue(surgeon)
    page = open_as_patient(new_context, live_server, issued)
    item = consent.items.order_by("order").first()
    box, status = box_and_status(page, item)

    UserSession.objects.all().delete()  # the session ends on the server (idle, or signed out)
    box.click()
    expect(status).to_have_text("Not saved: please reload the page.")
    expect(box).not_to_be_checked()
    page.reload()
    expect(page.get_by_text("Please open your link again")).to_be_visible()
    item.refresh_from_db()
    assert item.acknowledged_at is None


def test_clearing_the_drawing_signs_with_the_typed_name(new_context, live_server, surgeon):
    consent, issued = ready_to_sign(surgeon)
    page = open_as_patient(new_context, live_server, issued, then="/patient/review/")
    canvas = page.locator("canvas")
    expect(canvas).to_be_visible()
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 60)
    page.mouse.down()
    for step in range(1, 15):
        page.mouse.move(box["x"] + 20 + step * 20, box["y"] + (40 if step % 2 else 120))
    page.mouse.up()
    page.get_by_role("button", name="Clear the drawing").click()

    page.get_by_label("Type your full name").fill("Ada Lovelace")
    page.get_by_label("I consent to").check()
    page.get_by_role("button", name="Sign my consent").click()
    expect(page.get_by_text("Your consent is signed")).to_be_visible()
    signature = Signature.objects.get(consent=consent)
    assert signature.method == "typed" and signature.image_png is None


def test_a_tick_made_before_the_script_ran_is_saved_when_it_runs(new_context, live_server, surgeon):
    """On a slow connection a patient may tick before the page's script has arrived."""
    consent, issued = issue(surgeon)
    page = open_as_patient(new_context, live_server, issued, then="/patient/")
    held = []
    page.route("**/static/js/acknowledge.js", lambda route: held.append(route))  # answered later
    page.goto(f"{live_server.url}/patient/risks/", wait_until="commit")
    item = consent.items.order_by("order").first()
    box, status = box_and_status(page, item)
    box.check()
    expect(status).to_have_text("")  # nothing could save it yet
    item.refresh_from_db()
    assert item.acknowledged_at is None
    held[0].continue_()
    expect(status).to_have_text("Saved.")
    expect(page.locator("#ack-count")).to_have_text("1 of 6 risks ticked.")
    item.refresh_from_db()
    assert item.acknowledged_at is not None
