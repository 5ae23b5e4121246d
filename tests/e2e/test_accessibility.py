"""WCAG 2.2 AA, checked by axe-core in Chromium on every page the app has, at 320 and 1280 CSS
pixels wide: the surgeon's, the patient's, the public verification page and the error pages,
each in the states people meet (empty, with errors, with results, in every consent status).

Every named URL is either checked here (CHECKED says in which states) or excluded with a
reason (EXCLUDED); test_every_named_url_is_checked_or_excluded fails on a URL that is neither,
and the browser test fails if a page in CHECKED was not actually reached. To add a page: add
its name to CHECKED and visit it in the browser test (`check(page, "what it shows")`).
"""

import contextlib
import datetime
import re
from urllib.parse import unquote, urlsplit

import pytest
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone
from playwright.sync_api import expect

from consent.informed import consent_respond_to_priorities, consent_state_priorities
from consent.models import Consent, PatientLink
from consent.services import consent_ask_question, consent_withdraw
from tests.conftest import PASSWORD
from tests.e2e.axe import assert_no_axe_violations, axe_context, heading_problems
from tests.e2e.steps import answer_checks
from tests.helpers import (
    DOB,
    at_the_check,
    issue,
    pass_checks,
    patient_actor,
    ready_to_sign,
    sign,
    surgeon_actor,
)

pytestmark = pytest.mark.usefixtures("e2e_library")

WIDTHS = [320, 1280]

# Named URLs whose pages are checked, and the states they are checked in.
CHECKED = {
    "login": "sign-in; with a wrong password; refused CSRF; locked out",
    "home": "dashboard with highlighted rows",
    "library": "the procedure library",
    "consent_new": "choose a procedure; 403 for a user without the permission",
    "consent_new_for": "issue form, empty and with errors",
    "consent_detail": "issued (with its new link), questions, signed, withdrawn; 404",
    "consent_revoke": "revoke refused (no reason): the consent page with the error",
    "consent_reissue": "confirm a new link: empty, refused (box not ticked)",
    "consent_correct_name": "name correction refused (empty): the consent page with the error",
    "consent_record_withdrawal": "withdrawal refused (no reason): the consent page with the error",
    "question_answer": "answer refused (empty): the consent page with the error",
    "priorities_respond": "response refused (empty): the consent page with the error",
    "verify": "empty, authentic result, unknown code, form error",
    "patient_link": "unknown, expired, locked; identity, with a wrong date",
    "patient_start": "overview; session ended",
    "patient_risks": "some ticked, question box open; 'tick N more' alert",
    "patient_question": "question refused (empty): the risks page with the error",
    "patient_priorities": "what matters, empty and refused (too long)",
    "patient_check": "a question; a wrong answer with the passage again; nothing chosen",
    "patient_review": "review and sign",
    "patient_sign": "sign refused (no name): the review page with the errors",
    "patient_done": "signed; withdrawn",
    "patient_withdraw": "withdraw form",
    "patient_sign_out": "leave (confirm); left",
}
# Named URLs with no page of their own to check.
EXCLUDED = {
    "consent_document": "the signed PDF, not an HTML page",
    "patient_document": "the signed PDF, not an HTML page",
    "patient_acknowledge": "saves one tick: JSON for the page's script, else a redirect to the risks",
    "patient_reading": "POST only: the page's script reports time on screen (204, or 400 JSON)",
    "sign_out_everywhere": "POST only; redirects to the sign-in page",
    "logout": "POST only; redirects to the sign-in page",
}
# Namespaces left out as a whole.
EXCLUDED_NAMESPACES = {"admin": "Django's own admin, for staff; not our templates"}


def named_urls(patterns=None, namespace: str = "") -> set[str]:
    names = set()
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in EXCLUDED_NAMESPACES:
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            names |= named_urls(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(f"{namespace}{entry.name}")
    return names


def test_every_named_url_is_checked_or_excluded():
    names = named_urls()
    assert not set(CHECKED) & set(EXCLUDED)
    unaccounted = names - set(CHECKED) - set(EXCLUDED)
    assert not unaccounted, f"pages with no accessibility check (add to CHECKED): {unaccounted}"
    assert set(CHECKED) | set(EXCLUDED) <= names, "names that no longer exist"


class Checker:
    """Runs axe on each page, remembers which named URLs it saw and what it found (all pages
    are checked before the test fails, so one run lists every problem)."""

    def __init__(self, width: int):
        self.width = width
        self.seen: set[str] = set()
        self.problems: list[str] = []

    def __call__(self, page, what: str) -> None:
        page.wait_for_load_state("load")
        path = unquote(urlsplit(page.url).path)
        with contextlib.suppress(Resolver404):  # an error page at an address we do not serve
            self.seen.add(resolve(path).url_name)
        try:
            assert_no_axe_violations(page, f"{what} ({path}, {self.width} px)")
        except AssertionError as problem:
            self.problems.append(str(problem))

    def assert_clean(self) -> None:
        assert not self.problems, "\n\n".join(self.problems)


def sign_in(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your consents")).to_be_visible()


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_has_no_axe_violations(
    width, new_context, live_server, settings, surgeon, plain_user
):
    settings.ROOT_URLCONF = "tests.error_urls"  # the app's URLs and /boom/, for the 500 page
    base = live_server.url
    check = Checker(width)
    viewport = {"width": width, "height": 800}

    # Consents in each state, made through the services.
    soon, _ = issue(surgeon, planned_in_days=3, full_name="Soon Issued")  # highlighted row
    asked, _ = ready_to_sign(surgeon, full_name="Quentin Asks")
    question = consent_ask_question(
        consent=asked, item_id=asked.items.first().pk, text="Will it hurt?", actor=patient_actor()
    )
    consent_state_priorities(
        consent=asked, chosen=["walking"], own_words="My dog.", actor=patient_actor()
    )
    signed, _ = at_the_check(surgeon, full_name="Sam Signed")
    pass_checks(signed, wrong_first=2)  # the surgeon's page: "needed help"
    consent_state_priorities(consent=signed, chosen=["work"], own_words="", actor=patient_actor())
    consent_respond_to_priorities(
        consent=signed, text="Most people go back to work.", actor=surgeon_actor(surgeon)
    )
    sign(signed, name="Sam Signed")
    withdrawn, _ = ready_to_sign(surgeon, full_name="Wanda Withdrawn")
    sign(withdrawn, name="Wanda Withdrawn")
    consent_withdraw(consent=withdrawn, reason="I changed my mind.", actor=patient_actor())
    _, expired = issue(surgeon, full_name="Ed Expired")
    PatientLink.objects.filter(pk=expired.link.pk).update(
        expires_at=timezone.now() - datetime.timedelta(days=1)
    )
    _, locked = issue(surgeon, full_name="Lee Locked")
    PatientLink.objects.filter(pk=locked.link.pk).update(locked_at=timezone.now())
    _, fresh = issue(surgeon, planned_in_days=30, full_name="Ada Lovelace")

    # --- the surgeon ---
    desk = axe_context(new_context, viewport=viewport).new_page()
    desk.goto(f"{base}/accounts/login/")
    check(desk, "sign-in")
    desk.get_by_label("Username").fill(surgeon.username)
    desk.get_by_label("Password").fill("not the password")
    desk.get_by_role("button", name="Sign in").click()
    expect(desk.locator(".alert-danger, .invalid-feedback").first).to_be_visible()
    check(desk, "sign-in, wrong password")
    sign_in(desk, base, surgeon.username)
    expect(desk.get_by_role("heading", name="Your consents")).to_be_visible()
    expect(desk.locator("tr.table-warning").first).to_be_visible()
    check(desk, "dashboard")
    desk.goto(f"{base}/library/")
    check(desk, "library")
    desk.goto(f"{base}/consents/new/")
    check(desk, "choose a procedure")
    desk.goto(f"{base}/consents/new/lumbar-rhizotomy/")
    check(desk, "issue form")
    desk.get_by_role("button", name="Issue consent").click()
    expect(desk.locator(".invalid-feedback").first).to_be_visible()
    check(desk, "issue form with errors")
    for consent, what in ((asked, "questions"), (signed, "signed"), (withdrawn, "withdrawn")):
        desk.goto(f"{base}/consents/{consent.pk}/")
        check(desk, f"consent page: {what}")
    desk.goto(f"{base}/consents/{soon.pk}/")
    check(desk, "consent page: issued")
    desk.get_by_role("link", name="Make a new link").click()
    check(desk, "confirm a new link")
    desk.get_by_role("button", name="Make a new link").click()
    expect(desk.locator(".invalid-feedback").first).to_be_visible()
    check(desk, "confirm a new link, not ticked")
    desk.get_by_label("I understand").check()
    desk.get_by_role("button", name="Make a new link").click()
    expect(desk.locator("#patient-link")).to_be_visible()
    check(desk, "consent page: a new link")
    desk.get_by_label("Reason for revoking").fill("   ")
    desk.get_by_role("button", name="Revoke consent").click()
    expect(desk.get_by_text("Give a reason for revoking")).to_be_visible()
    check(desk, "consent page: revoke refused")
    desk.get_by_text("Correct the patient's name").click()
    desk.get_by_label("Patient's full name").fill("   ")
    desk.get_by_role("button", name="Save the name").click()
    expect(desk.get_by_text("Enter the patient's full name")).to_be_visible()
    check(desk, "consent page: name correction refused")
    desk.goto(f"{base}/consents/{signed.pk}/")
    desk.get_by_label("How did the patient tell you").fill("   ")
    desk.get_by_role("button", name="Record the patient's withdrawal").click()
    expect(desk.get_by_text("Say how the patient told you").first).to_be_visible()
    check(desk, "consent page: withdrawal refused")
    desk.goto(f"{base}/consents/{asked.pk}/")
    desk.locator(f"#answer-{question.pk}").fill("   ")
    desk.get_by_role("button", name="Send answer").click()
    expect(desk.locator(f"#answer-{question.pk}-error")).to_be_visible()
    check(desk, "consent page: answer refused")
    desk.get_by_role("button", name="Send response").click()
    expect(desk.get_by_text("Please write your response.").first).to_be_visible()
    check(desk, "consent page: response to what matters refused")
    desk.goto(f"{base}/consents/999999/")
    check(desk, "404, signed in")

    # --- the patient: link problems, then the whole journey ---
    phone = axe_context(new_context, viewport=viewport, has_touch=True).new_page()
    phone.goto(f"{base}/p/no-such-link/")
    check(phone, "link: unknown")
    phone.goto(f"{base}/p/{expired.token}/")
    check(phone, "link: expired")
    phone.goto(f"{base}/p/{locked.token}/")
    check(phone, "link: locked")
    phone.goto(f"{base}/p/{fresh.token}/")
    check(phone, "identity")
    for label, value in (("Day", "1"), ("Month", "1"), ("Year", "1970")):
        phone.get_by_label(label).fill(value)
    phone.get_by_role("button", name="Continue").click()
    expect(phone.locator("#error-summary")).to_contain_text("does not match our records")
    check(phone, "identity, wrong date")
    for label, value in (("Day", DOB.day), ("Month", DOB.month), ("Year", DOB.year)):
        phone.get_by_label(label).fill(str(value))
    phone.get_by_role("button", name="Continue").click()
    expect(phone.get_by_text("Step 1 of 5")).to_be_visible()
    check(phone, "overview")
    phone.get_by_role("link", name="Continue", exact=True).click()
    check(phone, "what matters")
    # Longer than the box allows (as a paste from another app can be): refused by the server.
    phone.get_by_label("Anything else that matters to you").evaluate(
        "(box) => { box.value = 'x'.repeat(1001); }"
    )
    phone.get_by_role("button", name="Continue", exact=True).click()
    expect(phone.locator("#error-summary")).to_be_visible()
    check(phone, "what matters, refused")

    phone.goto(f"{base}/patient/risks/")
    boxes = phone.locator("input[type=checkbox][data-url]")
    for i in range(2):
        boxes.nth(i).check()
        expect(phone.locator(f"#{boxes.nth(i).get_attribute('id')}-status")).to_have_text("Saved.")
    phone.get_by_text("I have a question about this").first.click()
    check(phone, "risks, two ticked, a question box open")
    phone.get_by_role("button", name="Send my question").first.click()
    expect(phone.locator(".alert-danger").first).to_be_visible()
    check(phone, "risks, question refused")
    phone.get_by_role("button", name="Continue", exact=True).click()
    expect(phone.locator("#missing")).to_contain_text("more risks")
    check(phone, "risks, 'tick N more'")
    for i in range(boxes.count()):
        if not boxes.nth(i).is_checked():
            boxes.nth(i).check()
            expect(phone.locator(f"#{boxes.nth(i).get_attribute('id')}-status")).to_have_text(
                "Saved."
            )
    phone.get_by_role("button", name="Continue", exact=True).click()
    expect(phone.get_by_text("Step 4 of 5")).to_be_visible()
    check(phone, "check of understanding")
    phone.get_by_role("button", name="Check my answer").click()
    expect(phone.locator("#error-summary")).to_be_visible()
    check(phone, "check of understanding, nothing chosen")
    fresh_consent = Consent.objects.get(patient__full_name="Ada Lovelace")
    first = fresh_consent.checks.first()
    phone.get_by_label(first.options[1], exact=True).check()
    phone.get_by_role("button", name="Check my answer").click()
    expect(phone.locator("#wrong")).to_be_visible()
    check(phone, "check of understanding, a wrong answer and the passage again")
    answer_checks(phone, fresh_consent)
    expect(phone.get_by_text("Step 5 of 5")).to_be_visible()
    check(phone, "review and sign")
    phone.get_by_role("button", name="Sign my consent").click()
    expect(phone.locator(".is-invalid").first).to_be_visible()
    check(phone, "sign refused")
    phone.get_by_label("Type your full name").fill("Ada Lovelace")
    phone.get_by_label("I consent to").check()
    phone.get_by_role("button", name="Sign my consent").click()
    expect(phone.get_by_text("Your consent is signed")).to_be_visible()
    check(phone, "done: signed")
    phone.goto(f"{base}/patient/withdraw/")
    check(phone, "withdraw")
    phone.get_by_role("button", name="Withdraw my consent").click()
    expect(phone.get_by_text("You have withdrawn your consent")).to_be_visible()
    check(phone, "done: withdrawn")
    phone.goto(f"{base}/patient/sign-out/")
    check(phone, "leave (confirm)")
    phone.get_by_role("button", name="Leave").click()
    expect(phone.get_by_text("You have left your consent form")).to_be_visible()
    check(phone, "left")
    phone.goto(f"{base}/patient/")
    check(phone, "session ended")

    # --- the public and the error pages ---
    public = axe_context(new_context, viewport=viewport).new_page()
    public.goto(f"{base}/verify/")
    check(public, "verify")
    public.goto(f"{base}/verify/?code={signed.document.verification_code}")
    expect(public.get_by_text("Authentic and unchanged")).to_be_visible()
    check(public, "verify: authentic")
    public.goto(f"{base}/verify/?code=ZZZZ-ZZZZ-ZZZZ")
    expect(public.get_by_text("No document has this code")).to_be_visible()
    check(public, "verify: unknown code")
    public.goto(f"{base}/verify/?code={'x' * 40}")
    expect(public.locator(".invalid-feedback").first).to_be_visible()
    check(public, "verify: form error")
    public.goto(f"{base}/no/such/page/")
    check(public, "404")
    public.goto(f"{base}/patient/%00/")
    check(public, "400")
    public.goto(f"{base}/boom/")
    check(public, "500")
    public.goto(f"{base}/accounts/login/")
    public.locator("input[name=csrfmiddlewaretoken]").evaluate("input => { input.value = 'x'; }")
    public.get_by_label("Username").fill(surgeon.username)
    public.get_by_label("Password").fill(PASSWORD)
    public.get_by_role("button", name="Sign in").click()
    expect(public.get_by_text("The form could not be sent")).to_be_visible()
    check(public, "403 CSRF")

    stranger = axe_context(new_context, viewport=viewport).new_page()
    sign_in(stranger, base, plain_user.username)
    stranger.goto(f"{base}/consents/new/")
    expect(stranger.get_by_text("You do not have access to this page")).to_be_visible()
    check(stranger, "403")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        stranger.goto(f"{base}/accounts/login/")
        stranger.get_by_label("Username").fill(surgeon.username)
        stranger.get_by_label("Password").fill("wrong")
        stranger.get_by_role("button", name="Sign in").click()
    expect(stranger.get_by_text("Too many failed sign-ins")).to_be_visible()
    check(stranger, "sign-in locked")

    assert check.seen >= set(CHECKED), f"not reached: {set(CHECKED) - check.seen}"
    check.assert_clean()


# --- keyboard focus: visible, contrasting, never hidden ---------------------------------------

# What the focused element looks like: its ring, the background it sits on, whether it is on
# screen and not covered by anything else (a sticky header, a banner).
FOCUSED = """async () => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  await Promise.all(el.getAnimations().map((a) => a.finished));  // Bootstrap's ring fades in
  // Bootstrap scrolls smoothly: wait until the page stops moving.
  for (let last = null; last !== `${scrollX},${scrollY}`; ) {
    last = `${scrollX},${scrollY}`;
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  }
  const style = getComputedStyle(el);
  let background = "rgb(255, 255, 255)";
  for (let node = el.parentElement; node; node = node.parentElement) {
    const color = getComputedStyle(node).backgroundColor;
    if (color !== "transparent" && !/^rgba\\(.*, 0\\)$/.test(color)) { background = color; break; }
  }
  // The part of it on screen (of a link that wraps, its first line): Chromium scrolls a control
  // that is partly on screen no further, which WCAG 2.4.11 allows; it must not be covered.
  const line = el.getClientRects()[0] || el.getBoundingClientRect();
  const left = Math.max(line.left, 0), right = Math.min(line.right, innerWidth);
  const top = Math.max(line.top, 0), bottom = Math.min(line.bottom, innerHeight);
  const onScreen = left < right && top < bottom;
  const hit = onScreen && document.elementFromPoint((left + right) / 2, (top + bottom) / 2);
  const labels = el.labels ? [...el.labels] : [];
  return {
    what: el.outerHTML.slice(0, 100),
    outline: [style.outlineStyle, parseFloat(style.outlineWidth), style.outlineColor],
    shadow: style.boxShadow,
    background,
    onScreen,
    uncovered: !!hit && (el.contains(hit) || labels.some((label) => label.contains(hit))),
  };
}"""


def _rgb(css: str, under: str = "rgb(255, 255, 255)") -> tuple[float, float, float]:
    """The colour of a CSS rgb()/rgba() value as seen over the colour `under`."""
    numbers = [float(n) for n in re.findall(r"[\d.]+", css)]
    alpha = numbers[3] if len(numbers) > 3 else 1.0
    base = _rgb(under) if alpha < 1 else (0, 0, 0)
    return tuple(c * alpha + b * (1 - alpha) for c, b in zip(numbers[:3], base, strict=True))


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of colour a, drawn over colour b."""

    def luminance(color):
        channels = [c / 255 for c in color]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(_rgb(a, under=b)), luminance(_rgb(b))), reverse=True)
    return (high + 0.05) / (low + 0.05)


def focus_problems(page, where: str, limit: int = 150) -> list[str]:
    """Tab through the whole page; what is wrong with the focus of each control reached."""
    page.locator("body").focus()  # start from the top of the document
    problems, seen = [], 0
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:
            break  # past the last control
        seen += 1
        what = f"{where}: {focused['what']}"
        style, width, color = focused["outline"]
        shadow = focused["shadow"]
        rings = [color] if style == "solid" and width >= 2 else []
        # A box-shadow ring: "rgb(...) 0px 0px 0px 5px", counted if it spreads 2 px or more.
        if (ring := re.match(r"(rgba?\([^)]*\)) 0px 0px 0px ([\d.]+)px", shadow)) and float(
            ring[2]
        ) >= 2:
            rings.append(ring[1])
        best = max((contrast(ring, focused["background"]) for ring in rings), default=0)
        if best < 3:
            problems.append(f"{what}: focus ring {focused['outline']} {shadow} has {best:.2f}:1")
        if not focused["onScreen"] or not focused["uncovered"]:
            problems.append(f"{what}: focused but hidden (on screen {focused['onScreen']})")
    assert seen > 3, f"{where}: Tab reached only {seen} controls"
    return problems


def test_it_measures_the_focus_ring(new_context, live_server):
    """The measure bites: Bootstrap's own focus style, without our rule, fails it."""
    page = new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{live_server.url}/verify/")
    assert focus_problems(page, "verify") == []
    page.evaluate(
        "[...document.styleSheets].forEach((sheet) => { if (sheet.href.includes('app.css'))"
        " sheet.disabled = true; })"
    )
    problems = focus_problems(page, "verify without app.css")
    assert any("focus ring" in p and 'type="text"' in p for p in problems), problems
    assert any("focus ring" in p and "btn-primary" in p for p in problems), problems


@pytest.mark.parametrize("width", WIDTHS)
def test_keyboard_focus_is_visible_on_every_control(width, new_context, live_server, surgeon):
    """Every control on the main pages, reached with Tab, shows a ring of at least 3:1 against
    its background and is on screen, not hidden under anything. Runs under the real CSP."""
    base = live_server.url
    viewport = {"width": width, "height": 700}
    asked, _ = ready_to_sign(surgeon, planned_in_days=3, full_name="Quentin Asks")
    consent_ask_question(
        consent=asked, item_id=asked.items.first().pk, text="Will it hurt?", actor=patient_actor()
    )
    fresh_consent, fresh = issue(surgeon, planned_in_days=30)
    problems = []

    desk = new_context(viewport=viewport).new_page()
    sign_in(desk, base, surgeon.username)
    for path in (
        "/",
        "/library/",
        "/consents/new/lumbar-rhizotomy/",
        f"/consents/{asked.pk}/",
        "/verify/",
    ):
        desk.goto(f"{base}{path}")
        problems += focus_problems(desk, path)

    phone = new_context(viewport=viewport, has_touch=True).new_page()
    phone.goto(f"{base}/p/{fresh.token}/")
    problems += focus_problems(phone, "identity")
    for label, value in (("Day", DOB.day), ("Month", DOB.month), ("Year", DOB.year)):
        phone.get_by_label(label).fill(str(value))
    phone.get_by_role("button", name="Continue").click()
    expect(phone.get_by_text("Step 1 of 5")).to_be_visible()
    phone.goto(f"{base}/patient/risks/")
    for summary in phone.locator("summary").all()[:2]:
        summary.click()  # open question boxes: their fields are controls too
    problems += focus_problems(phone, "risks")
    for box in phone.locator("input[type=checkbox][data-url]").all():
        box.check()
        expect(phone.locator(f"#{box.get_attribute('id')}-status")).to_have_text("Saved.")
    phone.goto(f"{base}/patient/check/")
    problems += focus_problems(phone, "check of understanding")
    pass_checks(fresh_consent)
    phone.goto(f"{base}/patient/review/")
    problems += focus_problems(phone, "review")
    assert not problems, "\n".join(problems)


def test_each_risk_tick_box_is_named_after_its_risk(new_context, live_server, surgeon):
    """Screen readers and voice control tell the boxes apart: each one's name is the visible
    words plus the risk's title; so are the question boxes' buttons."""
    consent, issued = issue(surgeon)
    page = new_context(viewport={"width": 320, "height": 700}).new_page()
    page.goto(f"{live_server.url}/p/{issued.token}/")
    for label, value in (("Day", DOB.day), ("Month", DOB.month), ("Year", DOB.year)):
        page.get_by_label(label).fill(str(value))
    page.get_by_role("button", name="Continue").click()
    page.goto(f"{live_server.url}/patient/risks/")
    items = list(consent.items.filter(not_applicable=False))
    assert len(items) > 3
    for item in items:
        # Chromium puts a space before the hidden words; screen readers read both alike.
        title = re.escape(item.title)
        box = page.get_by_role(
            "checkbox", name=re.compile(rf"^I have read and understood this ?: {title}$")
        )
        expect(box).to_have_id(f"ack-{item.pk}")
        page.locator(f"#item-{item.pk} summary").click()
        send = page.get_by_role("button", name=re.compile(rf'^Send my question about "{title}"$'))
        expect(send).to_have_attribute("formaction", reverse("patient_question", args=[item.pk]))


# --- the helper itself ------------------------------------------------------------------------


def test_the_axe_helper_fails_with_a_readable_list(new_context, live_server):
    """It bites, target-size (off in axe by default) included, and says where and what."""
    page = axe_context(new_context, viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{live_server.url}/verify/")
    assert_no_axe_violations(page)
    page.evaluate(
        """document.querySelector("main").insertAdjacentHTML("beforeend",
          '<div><button class="tiny" aria-label="One"></button><button class="tiny"'
          + ' aria-label="Two"></button></div><p class="faint">Faint words</p>');
        document.querySelectorAll(".tiny").forEach((b) => {
          b.style.cssText = "width: 8px; height: 8px; min-height: 0; padding: 0; border: 0"; });
        document.querySelector(".faint").style.color = "#ddd";"""
    )
    with pytest.raises(AssertionError) as failure:
        assert_no_axe_violations(page, "verify, spoilt")
    message = str(failure.value)
    assert "axe found problems on verify, spoilt" in message
    assert "- target-size (serious)" in message and 'button[aria-label="One"]' in message
    assert "- color-contrast (serious)" in message and ".faint" in message


def test_headings_must_start_at_one_h1_and_skip_no_level():
    assert heading_problems([(1, "Title"), (2, "Part"), (3, "Detail"), (2, "Next")]) == []
    assert heading_problems([(2, "Part")]) == [
        "0 h1 headings (want exactly one): []",
        "the first heading is h2, not h1: 'Part'",
    ]
    assert heading_problems([(1, "A"), (1, "B")]) == [
        "2 h1 headings (want exactly one): ['A', 'B']"
    ]
    assert heading_problems([(1, "Title"), (3, "Detail")]) == ["h1 is followed by h3 ('Detail')"]
