"""Bootstrap's script comes only with the surgeon's menu (templates/base.html): on a phone the
menu still opens with it, deferred; a patient's page goes without it."""

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.helpers import issue

pytestmark = pytest.mark.usefixtures("e2e_library")
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True}


def test_the_surgeons_menu_opens_on_a_phone(new_context, live_server, surgeon):
    page = new_context(**PHONE).new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(surgeon.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    library = page.get_by_role("navigation", name="Main").get_by_role("link", name="Library")
    expect(library).to_be_hidden()  # folded away on a narrow screen
    page.get_by_role("button", name="Show or hide the menu").click()
    expect(library).to_be_visible()


def test_a_patients_page_runs_no_bootstrap_script(new_context, live_server, surgeon):
    _, issued = issue(surgeon)
    page = new_context(**PHONE).new_page()
    page.goto(f"{live_server.url}/p/{issued.token}/")
    expect(page.get_by_label("Day")).to_be_visible()
    assert page.evaluate("typeof window.bootstrap") == "undefined"
