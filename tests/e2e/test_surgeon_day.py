"""A surgeon's clinic day in a real browser: sign in, spot the question badge, answer it,
download the signed PDF of another consent."""

import pytest
from playwright.sync_api import expect

from consent.documents import read_document
from consent.services import consent_ask_question
from tests.conftest import PASSWORD
from tests.helpers import patient_actor, ready_to_sign, sign

pytestmark = pytest.mark.usefixtures("e2e_library")


def test_the_surgeons_day(new_context, live_server, surgeon):
    waiting, _ = ready_to_sign(surgeon, full_name="Alan Turing")
    consent_ask_question(
        consent=waiting,
        item_id=waiting.items.first().pk,
        text="Can I drive afterwards?",
        actor=patient_actor(),
    )
    signed, _ = ready_to_sign(surgeon, full_name="Rosalind Franklin")
    sign(signed, name="Rosalind Franklin")

    context = new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/")
    page.get_by_label("Username").fill(surgeon.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("link", name="1 waiting for your answer")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Alan Turing")
    expect(row.get_by_text("1 unanswered")).to_be_visible()
    row.get_by_role("link", name="Alan Turing").click()

    expect(page.get_by_text("Can I drive afterwards?")).to_be_visible()
    page.get_by_label("Your answer").fill("No: someone must drive you home.")
    page.get_by_role("button", name="Send answer").click()
    expect(page.get_by_text("Your answer was saved")).to_be_visible()
    assert waiting.questions.get().answer == "No: someone must drive you home."

    page.get_by_role("link", name="Consents").click()
    expect(page.get_by_role("link", name="0 waiting for your answer")).to_be_visible()
    page.get_by_label("Patient name or hospital number").fill("franklin")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("link", name="Rosalind Franklin").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the signed PDF").click()
    signed.refresh_from_db()
    assert download.value.suggested_filename.startswith("consent-lumbar-rhizotomy-franklin-")
    with open(download.value.path(), "rb") as handle:
        assert handle.read() == read_document(signed.document)
