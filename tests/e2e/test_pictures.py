"""Risks as pictures in a real browser: the patient's risks page with a picture on every risk
that has a number passes axe (WCAG 2.2 AA) on a phone and a desktop, and breaks no rule of the
Content-Security-Policy (the SVG is drawn with attributes, no style)."""

import pytest
from playwright.sync_api import expect

from procedures.models import Procedure
from procedures.pictures import make_picture
from tests.e2e.axe import assert_no_axe_violations, axe_context
from tests.e2e.test_csp import Watcher
from tests.helpers import DOB, issue

pytestmark = pytest.mark.usefixtures("e2e_library")

STARTER = (20, 50, 60, 6, 100)


@pytest.mark.parametrize("width", [320, 1280])
def test_the_risks_page_with_pictures_passes_axe_and_the_policy(
    width, browser, new_context, live_server, surgeon
):
    procedure = Procedure.objects.get(slug="lumbar-fusion-l4-l5-s1")
    procedure.items.update(one_in=None, per_1000=None, rate_source="")  # only these five
    for item, one_in in zip(procedure.items.order_by("order"), STARTER, strict=False):
        item.one_in = one_in
        item.rate_source = "published patient information from a UK spinal surgeon"
        item.save(update_fields=["one_in", "rate_source"])
    _, issued = issue(surgeon, procedure.slug)

    context = axe_context(new_context, viewport={"width": width, "height": 800})
    watch = Watcher(context)
    page = watch.page()
    page.goto(f"{live_server.url}/p/{issued.token}/")
    for label, value in (("Day", DOB.day), ("Month", DOB.month), ("Year", DOB.year)):
        page.get_by_label(label).fill(str(value))
    page.get_by_role("button", name="Continue").click()
    page.goto(f"{live_server.url}/patient/risks/")

    pictures = page.locator("figure.risk-picture")
    expect(pictures).to_have_count(len(STARTER))
    for n, one_in in enumerate(STARTER):
        expect(pictures.nth(n).locator("figcaption")).to_contain_text(
            make_picture(one_in=one_in).words
        )
        box = pictures.nth(n).locator("svg").bounding_box()
        assert 0 < box["width"] <= width  # sized by the stylesheet, never wider than the page
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert_no_axe_violations(page, f"risks with pictures ({width} px)")
    watch.collect(page, "risks with pictures")
    watch.assert_none()
