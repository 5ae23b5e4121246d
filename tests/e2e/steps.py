"""The patient's steps in the browser tests: past the optional "what matters" step, and through
the check of understanding (the right answers come from the database: the page does not tell)."""

import re

from playwright.sync_api import expect


def past_the_overview(page, *, what_matters: list[str] = (), own_words: str = "") -> None:
    """From "About your operation" to the risks: say what matters, or skip that step."""
    page.get_by_role("link", name="Continue", exact=True).click()
    expect(page.get_by_role("heading", name="What matters most to you?")).to_be_visible()
    if not what_matters and not own_words:
        page.get_by_role("button", name="Skip this step").click()
        return
    for label in what_matters:
        page.get_by_label(label).check()
    if own_words:
        page.get_by_label("Anything else that matters to you").fill(own_words)
    page.get_by_role("button", name="Continue", exact=True).click()


def answer_checks(page, consent, *, wrong_first: int = 0) -> None:
    """Answer every check on the page, the first `wrong_first` of them wrong once: the page then
    shows the passage again and asks again."""
    for n, check in enumerate(consent.checks.select_related("item").order_by("order")):
        expect(page.get_by_text(f"Question {check.order} of")).to_be_visible()
        if n < wrong_first:
            page.get_by_label(check.options[1], exact=True).check()
            page.get_by_role("button", name="Check my answer").click()
            expect(
                page.get_by_text("That is not quite right. Please read this again.")
            ).to_be_visible()
            about = check.item.title if check.item else None
            if about:
                expect(page.locator("#passage-title")).to_have_text(about)
        page.get_by_label(check.answer, exact=True).check()
        page.get_by_role("button", name="Check my answer").click()
        expect(page.get_by_text(re.compile(r"^That is right\."))).to_be_visible()
