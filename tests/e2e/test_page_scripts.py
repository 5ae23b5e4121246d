"""The page scripts when things go wrong, in a real browser.

acknowledge.js saves each tick at once; when a save fails it says so ("Not saved: ...") and
puts the box back as it was, so the page never shows a tick the server does not have.
signature.js: "Clear the drawing" really clears it, so the patient signs with the typed name.
"""

import pytest
from playwright.sync_api import expect

from consent.models import Signature, UserSession
from consent.services import consent_revoke, consent_withdraw
from tests.helpers import issue, patient_actor, ready_to_sign, surgeon_actor

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
    page.wait_for_url("**/patient/**")  # where the patient left off (the start, at first)
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
    expect(page.locator("#ack-count")).to_have_text("1 of 6 risks ticked and saved.")
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
    expect(status).to_have_text("Not saved: no connection. Tick again when you are back online.")
    expect(box).not_to_be_checked()
    expect(box).to_be_enabled()
    expect(page.locator("#ack-count")).to_have_text("0 of 6 risks ticked and saved.")
    item.refresh_from_db()
    assert item.acknowledged_at is None

    page.unroute(TICK_URL)  # back online
    box.check()
    expect(status).to_have_text("Saved.")
    expect(page.locator("#ack-count")).to_have_text("1 of 6 risks ticked and saved.")
    item.refresh_from_db()
    assert item.acknowledged_at is not None


def test_a_tick_after_the_session_ended_says_to_open_the_link_again(
    new_context, live_server, surgeon
):
    consent, issued = issue(surgeon)
    page = open_as_patient(new_context, live_server, issued)
    first, second = consent.items.order_by("order")[:2]
    box, status = box_and_status(page, first)
    box.check()
    expect(status).to_have_text("Saved.")

    UserSession.objects.all().delete()  # the session ends on the server (idle, or signed out)
    box, status = box_and_status(page, second)
    box.click()
    expect(status).to_have_text(
        "Not saved: your session ended. Your ticks so far are saved. Open your link again to go on."
    )
    expect(box).not_to_be_checked()
    expect(page.locator("#ack-count")).to_have_text("1 of 6 risks ticked and saved.")
    status.get_by_role("link", name="Open your link again to go on.").click()
    expect(page.get_by_text("Please open your link again")).to_be_visible()
    second.refresh_from_db()
    assert second.acknowledged_at is None


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(
            {"status": 502, "content_type": "text/html", "body": "<h1>Bad gateway"},
            id="a-proxy-page",
        ),
        pytest.param(
            {"status": 200, "content_type": "application/json", "body": "<html>"},
            id="not-really-json",
        ),
        pytest.param(
            {"status": 500, "content_type": "application/json", "body": "{}"},
            id="json-without-a-message",
        ),
    ],
)
def test_an_answer_that_is_not_ours_gives_a_plain_message(
    new_context, live_server, surgeon, answer
):
    consent, issued = issue(surgeon)
    page = open_as_patient(new_context, live_server, issued)
    box, status = box_and_status(page, consent.items.order_by("order").first())
    page.route(TICK_URL, lambda route: route.fulfill(**answer))
    box.click()
    expect(status).to_have_text(
        "Not saved: something went wrong on our side. Please try again in a moment."
    )
    expect(box).not_to_be_checked()
    expect(box).to_be_enabled()


def test_a_tick_on_a_closed_consent_says_so(new_context, live_server, surgeon):
    consent, issued = issue(surgeon)
    page = open_as_patient(new_context, live_server, issued)
    box, status = box_and_status(page, consent.items.order_by("order").first())
    consent_revoke(consent=consent, actor=surgeon_actor(surgeon), reason="Cancelled")
    box.click()
    expect(status).to_have_text(
        "Not saved: this consent form can no longer be changed. Open your link again to see why."
    )
    page.goto(f"{live_server.url}/p/{issued.token}/")
    expect(page.get_by_text("This consent has been cancelled")).to_be_visible()


def test_with_the_script_running_the_page_says_each_tick_is_saved(
    new_context, live_server, surgeon
):
    _, issued = issue(surgeon)
    page = open_as_patient(new_context, live_server, issued)
    expect(page.get_by_text("Each tick is saved as you make it")).to_be_visible()
    expect(page.get_by_text("to save your ticks")).to_be_hidden()


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
    expect(page.locator("#ack-count")).to_have_text("1 of 6 risks ticked and saved.")
    item.refresh_from_db()
    assert item.acknowledged_at is not None


def test_ticks_made_while_the_script_never_arrives_are_saved_by_the_button(
    new_context, live_server, surgeon
):
    """The slowest phone: the script never comes; the page is still a form that saves."""
    consent, issued = issue(surgeon)
    page = open_as_patient(new_context, live_server, issued, then="/patient/")
    page.route("**/static/js/acknowledge.js", lambda route: None)  # never answered
    page.goto(f"{live_server.url}/patient/risks/", wait_until="commit")
    expect(page.get_by_text("to save your ticks")).to_be_visible()
    items = list(consent.items.order_by("order")[:4])
    for item in items:
        page.locator(f"#ack-{item.pk}").check()
    page.get_by_role("button", name="Save my progress").click()
    expect(page.get_by_text("Your progress is saved.")).to_be_visible()
    expect(page.locator("#ack-count")).to_have_text("4 of 6 risks ticked and saved.")
    assert consent.items.filter(acknowledged_at__isnull=False).count() == 4


def test_a_button_pressed_while_a_tick_is_being_saved_keeps_that_tick(
    new_context, live_server, surgeon
):
    consent, issued = issue(surgeon)
    page = open_as_patient(new_context, live_server, issued)
    item = consent.items.order_by("order").first()
    box, status = box_and_status(page, item)
    held = []
    page.route(TICK_URL, lambda route: held.append(route))  # the save is slow
    box.click()
    expect(status).to_have_text("Saving…")
    expect(box).to_be_disabled()
    page.get_by_role("button", name="Save my progress").click()
    expect(page.get_by_text("Your progress is saved.")).to_be_visible()
    item.refresh_from_db()
    assert item.acknowledged_at is not None  # sent by the form, though the box was disabled
