"""The Content-Security-Policy in a real browser: every main page, the surgeon's, the patient's,
the public verification page and the admin, loads without a single violation, and the
scripts that matter (tick autosave, the signature pad, copy link) still work under it."""

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from consent.documents import read_document
from consent.models import Consent, ConsentStatus, Signature
from tests.conftest import PASSWORD
from tests.e2e.pad import draw
from tests.e2e.steps import answer_checks, past_the_overview

pytestmark = pytest.mark.usefixtures("e2e_library")

# Collects every violation the page reports, from the moment each document starts loading.
LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__cspViolations.push(
    event.effectiveDirective + " blocked " + (event.blockedURI || "inline") + " at "
    + event.sourceFile + ":" + event.lineNumber
  );
});
"""


class Watcher:
    """Every CSP violation of a browser context: the event in the page, and Chromium's console
    message (which also reports what was blocked before a listener could run)."""

    def __init__(self, context):
        self.seen: list[str] = []
        context.add_init_script(LISTEN)
        context.on("console", self._console)
        self.context = context

    def _console(self, message):
        if "Content Security Policy" in message.text:
            self.seen.append(f"console: {message.text}")

    def page(self):
        page = self.context.new_page()
        page.on("response", self._check_header)
        return page

    def _check_header(self, response):
        if response.request.resource_type == "document":
            policy = response.headers.get("content-security-policy", "")
            if "script-src 'self'" not in policy or "style-src 'self'" not in policy:
                self.seen.append(f"no strict policy on {response.url}: {policy!r}")

    def collect(self, page, where: str) -> None:
        page.wait_for_load_state("load")
        found = page.evaluate("window.__cspViolations || []")
        self.seen.extend(f"{where}: {v}" for v in found)

    def assert_none(self):
        assert self.seen == []


def test_the_listener_catches_a_violation(browser, live_server):
    """The watcher works: an inline style attribute added to a page is reported."""
    context = browser.new_context()
    watch = Watcher(context)
    page = watch.page()
    page.goto(f"{live_server.url}/verify/")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>')")
    page.evaluate("new Promise(resolve => setTimeout(resolve, 0))")  # let the event fire
    watch.collect(page, "verify")
    assert any("style-src" in v for v in watch.seen)
    context.close()


def test_no_page_breaks_the_content_security_policy(browser, live_server, surgeon, admin_user):
    base = live_server.url
    desk_context = browser.new_context(viewport={"width": 1280, "height": 900})
    desk_context.grant_permissions(["clipboard-read", "clipboard-write"])
    desk = Watcher(desk_context)
    page = desk.page()

    # --- the surgeon: sign in, dashboard, library, issue a consent, its page with the QR ---
    page.goto(f"{base}/")
    desk.collect(page, "sign-in page")
    page.get_by_label("Username").fill(surgeon.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Consents")).to_be_visible()
    desk.collect(page, "dashboard")
    page.goto(f"{base}/library/")
    desk.collect(page, "library")
    page.goto(f"{base}/consents/new/")
    desk.collect(page, "choose procedure")
    page.get_by_role("link", name="Lumbar rhizotomy").click()
    desk.collect(page, "issue form")
    page.get_by_label("Patient's full name").fill("Ada Lovelace")
    page.get_by_label("Date of birth").fill("1964-03-27")
    planned = timezone.localdate() + datetime.timedelta(days=60)
    page.get_by_label("Planned date of surgery").fill(planned.isoformat())
    page.get_by_role("button", name="Issue consent").click()
    expect(page.get_by_text("The patient's link (shown only now)")).to_be_visible()
    expect(page.locator(".qr svg")).to_be_visible()
    page.get_by_role("button", name="Copy link").click()
    expect(page.locator("#copy-status")).to_have_text("Link copied.")
    desk.collect(page, "consent page with a new link")
    link = page.locator("#patient-link").input_value()
    consent = Consent.objects.get()

    # --- the patient: identity (wrong, then right), overview, risks, review, sign, done ---
    phone_context = browser.new_context(viewport={"width": 360, "height": 740}, has_touch=True)
    phone = Watcher(phone_context)
    patient = phone.page()
    patient.goto(link)
    phone.collect(patient, "identity")
    for label, value in (("Day", "1"), ("Month", "1"), ("Year", "1970")):
        patient.get_by_label(label).fill(value)
    patient.get_by_role("button", name="Continue").click()
    expect(patient.locator("#error-summary")).to_contain_text("does not match our records")
    phone.collect(patient, "identity, wrong date")
    for label, value in (("Day", "27"), ("Month", "3"), ("Year", "1964")):
        patient.get_by_label(label).fill(value)
    patient.get_by_role("button", name="Continue").click()
    expect(patient.get_by_text("Step 1 of 5")).to_be_visible()
    phone.collect(patient, "overview")
    past_the_overview(patient)
    phone.collect(patient, "risks")
    boxes = patient.get_by_label("I have read and understood this")
    for i in range(boxes.count()):  # each tick saved by the page's script, under the policy
        boxes.nth(i).check()
        status = patient.locator(f"#{boxes.nth(i).get_attribute('id')}-status")
        expect(status).to_have_text("Saved.")
    assert not consent.items.filter(acknowledged_at__isnull=True, not_applicable=False).exists()
    phone.collect(patient, "risks, ticked")
    patient.get_by_role("button", name="Continue").click()
    phone.collect(patient, "check of understanding")
    answer_checks(patient, consent, wrong_first=1)
    expect(patient.get_by_text("Step 5 of 5")).to_be_visible()
    phone.collect(patient, "review")
    patient.get_by_label("Type your full name").fill("Ada Lovelace")
    draw(patient)
    patient.get_by_label("I consent to Lumbar rhizotomy.").check()
    patient.get_by_role("button", name="Sign my consent").click()
    expect(patient.get_by_text("Thank you. Your consent is signed.")).to_be_visible()
    phone.collect(patient, "done")
    consent.refresh_from_db()
    assert consent.status == ConsentStatus.SIGNED
    assert Signature.objects.get(consent=consent).method == "drawn"  # the pad worked
    patient.goto(f"{base}/patient/sign-out/")
    phone.collect(patient, "leave (confirm)")
    patient.get_by_role("button", name="Leave").click()
    expect(patient.get_by_text("You have left your consent form")).to_be_visible()
    phone.collect(patient, "left")

    # --- the surgeon again: the signed consent and its PDF details; the dashboard ---
    page.goto(f"{base}/consents/{consent.pk}/")
    expect(page.get_by_text("Signed by Ada Lovelace")).to_be_visible()
    desk.collect(page, "signed consent page")
    page.goto(f"{base}/?status=signed")
    desk.collect(page, "dashboard, filtered")

    # --- the public verification page: by code and by upload ---
    public_context = browser.new_context()
    public = Watcher(public_context)
    visitor = public.page()
    visitor.goto(f"{base}/verify/")
    public.collect(visitor, "verify")
    visitor.goto(f"{base}/verify/?code={consent.document.verification_code}")
    expect(visitor.get_by_text("Authentic and unchanged")).to_be_visible()
    public.collect(visitor, "verify by code")
    visitor.goto(f"{base}/verify/")
    visitor.get_by_label("Or upload the PDF").set_input_files(
        files=[
            {
                "name": "consent.pdf",
                "mimeType": "application/pdf",
                "buffer": read_document(consent.document),
            }
        ]
    )
    visitor.get_by_role("button", name="Check").click()
    expect(visitor.get_by_text("Authentic and unchanged")).to_be_visible()
    public.collect(visitor, "verify by upload")

    # --- the admin, signed in at /admin/login/ ---
    admin_context = browser.new_context(viewport={"width": 1280, "height": 900})
    admin = Watcher(admin_context)
    adm = admin.page()
    adm.goto(f"{base}/admin/login/")
    admin.collect(adm, "admin login")
    adm.get_by_label("Username").fill(admin_user.username)
    adm.get_by_label("Password").fill("password")  # pytest-django's admin_user
    adm.get_by_role("button", name="Log in").click()
    expect(adm.get_by_role("heading", name="Site administration")).to_be_visible()
    admin.collect(adm, "admin index")
    procedure = consent.procedure
    for where, path in [
        ("consents", "/admin/consent/consent/"),
        ("a consent", f"/admin/consent/consent/{consent.pk}/change/"),
        ("audit log", "/admin/consent/auditevent/"),
        ("patients", "/admin/consent/patient/"),
        ("procedures", "/admin/procedures/procedure/"),
        ("a procedure with its risks", f"/admin/procedures/procedure/{procedure.pk}/change/"),
        ("groups", "/admin/auth/group/"),
        ("users", "/admin/auth/user/"),
        ("a user", f"/admin/auth/user/{surgeon.pk}/change/"),
        ("a consent's history", f"/admin/consent/consent/{consent.pk}/history/"),
        ("password change", "/admin/password_change/"),
    ]:
        response = adm.goto(f"{base}{path}")
        assert response.status == 200, path
        admin.collect(adm, f"admin: {where}")
    # The admin's own scripts run: add another risk row to the procedure's inline formset.
    adm.goto(f"{base}/admin/procedures/procedure/{procedure.pk}/change/")
    rows = adm.locator(".dynamic-items")
    before = rows.count()
    adm.get_by_role("button", name="Add another Consent item").click()
    expect(rows).to_have_count(before + 1)
    admin.collect(adm, "admin: inline row added")

    for watcher in (desk, phone, public, admin):
        watcher.assert_none()
    for context in (desk_context, phone_context, public_context, admin_context):
        context.close()
