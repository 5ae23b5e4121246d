"""Every form in the app, posted as a browser would: the CSRF token taken from the page.

The test client skips CSRF checks unless asked, so these use Client(enforce_csrf_checks=True):
GET the page, read the form's hidden token, POST it (the change happens), and POST without it
(403, and nothing changes).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from consent.models import AuditEvent, Consent, ConsentStatus, Question, Signature
from consent.services import consent_ask_question
from procedures.models import Procedure

from .conftest import PASSWORD
from .helpers import issue, issue_form_data, patient_actor, ready_to_sign
from .test_patient_views import RIGHT, link_url

pytestmark = pytest.mark.usefixtures("library")


class FormFinder(HTMLParser):
    """The hidden inputs of each form on a page, keyed by the form's action."""

    def __init__(self, page_path: str):
        super().__init__()
        self.page_path = page_path
        self.forms: dict[str, dict[str, str]] = {}
        self.current: dict[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self.current = self.forms.setdefault(attrs.get("action") or self.page_path, {})
        elif tag == "button" and self.current is not None and attrs.get("formaction"):
            self.forms[attrs["formaction"]] = self.current  # the same form, sent elsewhere
        elif tag == "input" and self.current is not None and attrs.get("type") == "hidden":
            self.current[attrs.get("name", "")] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None


def token_from_page(client: Client, page: str, action: str | None) -> str:
    """GET the page and read the CSRF token out of the form that posts to `action`."""
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    finder = FormFinder(page.split("?")[0])
    finder.feed(response.text)
    target = action or page.split("?")[0]
    assert target in finder.forms, f"no form posting to {target} on {page}: {list(finder.forms)}"
    token = finder.forms[target].get("csrfmiddlewaretoken")
    assert token, f"the form posting to {target} has no CSRF token"
    return token


def submit(client: Client, page: str, data: dict, action: str | None = None, **extra):
    """Post a form as a browser does: with the token its page gave us."""
    token = token_from_page(client, page, action)
    return client.post(action or page, {**data, "csrfmiddlewaretoken": token}, **extra)


def patient_browser(issued) -> Client:
    browser = Client(enforce_csrf_checks=True)
    assert submit(browser, link_url(issued), RIGHT).status_code == 302
    return browser


@dataclass
class Form:
    """One form: where it is shown, where it posts, what it sends, how to tell it worked."""

    client: Client
    page: str
    data: dict
    done: Callable[[object], bool]
    action: str | None = None
    ok_status: set[int] = field(default_factory=lambda: {302})


def login_form(surgeon):
    client = Client(enforce_csrf_checks=True)
    return Form(
        client,
        reverse("login"),
        {"username": "owner", "password": PASSWORD},
        done=lambda response: "_auth_user_id" in client.session,
    )


def signed_in(surgeon) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(surgeon)
    return client


def sign_out_form(surgeon):
    client = signed_in(surgeon)
    return Form(
        client,
        reverse("home"),
        {},
        action=reverse("logout"),
        done=lambda response: "_auth_user_id" not in client.session,
    )


def sign_out_everywhere_form(surgeon):
    client = signed_in(surgeon)
    return Form(
        client,
        reverse("home"),
        {},
        action=reverse("sign_out_everywhere"),
        done=lambda response: (
            AuditEvent.objects.filter(action="signed_out_everywhere").exists()
            and "_auth_user_id" not in client.session
        ),
    )


def issue_form(surgeon):
    procedure = Procedure.objects.get(slug="lumbar-rhizotomy")
    return Form(
        signed_in(surgeon),
        reverse("consent_new_for", args=[procedure.slug]),
        issue_form_data(procedure, **{"extra-TOTAL_FORMS": "0"}),
        done=lambda response: Consent.objects.exists(),
    )


def answer_form(surgeon):
    consent, _ = ready_to_sign(surgeon)
    question = consent_ask_question(
        consent=consent, item_id=consent.items.first().pk, text="Why?", actor=patient_actor()
    )
    return Form(
        signed_in(surgeon),
        reverse("consent_detail", args=[consent.pk]),
        {"answer": "Because."},
        action=reverse("question_answer", args=[consent.pk, question.pk]),
        done=lambda response: Question.objects.get(pk=question.pk).is_answered,
    )


def revoke_form(surgeon):
    consent, _ = issue(surgeon)
    return Form(
        signed_in(surgeon),
        reverse("consent_detail", args=[consent.pk]),
        {"reason": "Surgery cancelled"},
        action=reverse("consent_revoke", args=[consent.pk]),
        done=lambda response: Consent.objects.get(pk=consent.pk).status == ConsentStatus.REVOKED,
    )


def reissue_form(surgeon):
    consent, _ = issue(surgeon)
    return Form(
        signed_in(surgeon),
        reverse("consent_reissue", args=[consent.pk]),
        {"confirm": "on"},
        action=reverse("consent_reissue", args=[consent.pk]),
        done=lambda response: consent.links.count() == 2,
    )


def identity_form(surgeon):
    consent, issued = issue(surgeon)
    return Form(
        Client(enforce_csrf_checks=True),
        link_url(issued),
        RIGHT,
        done=lambda response: Consent.objects.get(pk=consent.pk).status == ConsentStatus.IN_REVIEW,
    )


def ticks_form(surgeon):
    consent, issued = issue(surgeon)
    items = list(consent.items.all())
    return Form(
        patient_browser(issued),
        reverse("patient_risks"),
        {"shown": [i.pk for i in items], "acknowledged": [items[0].pk], "action": "save"},
        done=lambda response: consent.items.filter(acknowledged_at__isnull=False).count() == 1,
    )


def question_form(surgeon):
    consent, issued = issue(surgeon)
    item = consent.items.first()
    return Form(
        patient_browser(issued),
        reverse("patient_risks"),
        {f"question-{item.pk}": "Will it hurt?"},
        action=reverse("patient_question", args=[item.pk]),
        done=lambda response: Question.objects.filter(consent=consent).exists(),
    )


def sign_form(surgeon):
    consent, issued = ready_to_sign(surgeon)
    return Form(
        patient_browser(issued),
        reverse("patient_review"),
        {"typed_name": "Ada Lovelace", "statement": "on"},
        action=reverse("patient_sign"),
        done=lambda response: Signature.objects.filter(consent=consent).exists(),
    )


def withdraw_form(surgeon):
    consent, issued = ready_to_sign(surgeon)
    return Form(
        patient_browser(issued),
        reverse("patient_withdraw"),
        {"reason": "I need more time."},
        done=lambda response: Consent.objects.get(pk=consent.pk).status == ConsentStatus.WITHDRAWN,
    )


def verify_form(surgeon):
    return Form(
        Client(enforce_csrf_checks=True),
        reverse("verify"),
        {"code": "AAAA-BBBB-CCCC"},
        ok_status={200},
        done=lambda response: "no document has this verification code" in response.text,
    )


FORMS = {
    "login": login_form,
    "sign_out": sign_out_form,
    "sign_out_everywhere": sign_out_everywhere_form,
    "issue": issue_form,
    "answer": answer_form,
    "revoke": revoke_form,
    "reissue": reissue_form,
    "identity": identity_form,
    "ticks": ticks_form,
    "question": question_form,
    "sign": sign_form,
    "withdraw": withdraw_form,
    "verify": verify_form,
}


@pytest.mark.parametrize("name", FORMS)
def test_the_form_works_with_the_token_from_its_page(name, surgeon):
    form = FORMS[name](surgeon)
    response = submit(form.client, form.page, form.data, form.action)
    assert response.status_code in form.ok_status, response.content[:500]
    assert form.done(response)


@pytest.mark.parametrize("name", FORMS)
def test_a_post_without_the_token_is_refused_and_changes_nothing(name, surgeon):
    form = FORMS[name](surgeon)
    token_from_page(form.client, form.page, form.action)  # the browser has the CSRF cookie
    response = form.client.post(form.action or form.page, form.data)
    assert response.status_code == 403
    assert not form.done(response)


def test_a_post_with_another_browsers_token_is_refused(surgeon):
    form = revoke_form(surgeon)
    other = Client(enforce_csrf_checks=True)
    other.force_login(surgeon)
    stolen = token_from_page(other, form.page, form.action)
    token_from_page(form.client, form.page, form.action)
    response = form.client.post(form.action, {**form.data, "csrfmiddlewaretoken": stolen})
    assert response.status_code == 403
    assert not form.done(response)


class TestTheTickScript:
    """acknowledge.js sends the page's token in the X-CSRFToken header."""

    def test_a_tick_with_the_header_is_saved(self, surgeon):
        consent, issued = issue(surgeon)
        browser = patient_browser(issued)
        token = token_from_page(browser, reverse("patient_risks"), None)
        item = consent.items.first()
        response = browser.post(
            reverse("patient_acknowledge", args=[item.pk]),
            {"acknowledged": "1"},
            headers={"accept": "application/json", "x-csrftoken": token},
        )
        assert response.status_code == 200 and response.json()["acknowledged"] is True

    def test_a_tick_without_it_is_refused(self, surgeon):
        consent, issued = issue(surgeon)
        browser = patient_browser(issued)
        token_from_page(browser, reverse("patient_risks"), None)
        item = consent.items.first()
        response = browser.post(
            reverse("patient_acknowledge", args=[item.pk]),
            {"acknowledged": "1"},
            headers={"accept": "application/json"},
        )
        assert response.status_code == 403
        item.refresh_from_db()
        assert item.acknowledged_at is None
