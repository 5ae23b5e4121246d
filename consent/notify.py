"""Emails. They never carry medical details: no procedure, no risks, no answers.

Sent after the transaction commits, so that a rolled-back change sends nothing. Plain text
only (no HTML part), so nothing in them (a team's name, a patient's name) is read as markup.
Every email to a patient says who to contact (consent/contact.py).
"""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from .contact import contact_for
from .models import Consent, Priorities, link_last_day

logger = logging.getLogger(__name__)


def _send(subject: str, body: str, to: str | list[str]) -> bool:
    recipients = [to] if isinstance(to, str) else to
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
    except Exception:
        logger.exception(
            "Email to %s could not be sent", ", ".join(r.split("@")[-1] for r in recipients)
        )
        return False
    return True


def patient_link(consent: Consent, *, url: str, expires_at) -> bool:
    """The patient's private link: 'you have a consent to review', and nothing more."""
    hospital = settings.HOSPITAL_NAME
    body = (
        f"Hello,\n\n"
        f"You have a consent form to review from {hospital}.\n\n"
        f"Open your private link:\n{url}\n\n"
        f"You will be asked for your date of birth. The link works until the end of "
        f"{link_last_day(expires_at):%-d %B %Y}. Please do not share it.\n\n"
        f"If you did not expect this email, please contact {hospital}.\n"
        f"{contact_for(consent).as_text()}\n"
    )
    return _send(f"A consent form to review from {hospital}", body, consent.patient.email)


def patient_answer_ready(consent: Consent) -> bool:
    """'Your team has answered your question' (or responded to what matters to you): no
    answer, no link (it is sent only once, when nothing is left waiting)."""
    hospital = settings.HOSPITAL_NAME
    asked, responded = _replied_since_last_email(consent)
    what = {
        (True, False): "answered your question about your consent form",
        (False, True): "responded to what matters to you, on your consent form",
        (True, True): "answered your question and responded to what matters to you, on your "
        "consent form",
    }.get((asked, responded), "replied on your consent form")
    body = (
        f"Hello,\n\n"
        f"Your surgical team at {hospital} has {what}.\n\n"
        f"To read it, open the private link you were given before (in the email or text "
        f"message that first sent it to you) and enter your date of birth. You can then sign.\n\n"
        f"{contact_for(consent).as_text()} They can send you a new link if yours "
        f"no longer works.\n"
    )
    subject = "Your question has been answered" if asked else "Your surgical team has replied"
    return _send(f"{subject} · {hospital}", body, consent.patient.email)


def _replied_since_last_email(consent: Consent) -> tuple[bool, bool]:
    """(a question answered, what matters responded to) since the patient was last told of a
    reply: an email names only what is new."""
    last = (
        consent.audit_events.filter(action="answer_emailed")
        .order_by("-sequence")
        .values_list("created_at", flat=True)
        .first()
    )
    answered = consent.questions.filter(answered_at__isnull=False)
    responded = Priorities.objects.filter(consent=consent, responded_at__isnull=False)
    if last is not None:
        answered = answered.filter(answered_at__gt=last)
        responded = responded.filter(responded_at__gt=last)
    return answered.exists(), responded.exists()


SURGEON_EVENTS = {
    "question_asked": "A patient has asked a question",
    "priorities_stated": "A patient has said what matters to them, and waits for your response",
    "consent_signed": "A patient has signed a consent",
    "consent_withdrawn": "A patient has withdrawn a consent",
}


def link_locked(consent: Consent) -> bool | None:
    """Tell the issuing surgeon (and the team's address, if it has one) that a link locked."""
    recipients = list(dict.fromkeys(a for a in _team_addresses(consent) if a))
    if not recipients:
        return None  # nobody to tell: nothing to audit
    url = settings.SITE_URL.rstrip("/") + reverse("consent_detail", args=[consent.pk])
    body = (
        f"A patient's link was locked after too many wrong dates of birth "
        f"(consent reference {consent.pk}).\n\n"
        f"The patient cannot open it any more. If it was the patient, check their date of "
        f"birth with them, then make a new link and give it to them:\n{url}\n"
    )
    return _send(f"A patient's link is locked · {settings.APP_NAME}", body, recipients)


def _team_addresses(consent: Consent) -> list[str]:
    return [consent.surgeon.email, consent.team.email if consent.team else ""]


def surgeon_event(consent: Consent, action: str) -> bool:
    if not consent.surgeon.email:
        return False
    url = settings.SITE_URL.rstrip("/") + reverse("consent_detail", args=[consent.pk])
    body = (
        f"{SURGEON_EVENTS[action]} (consent reference {consent.pk}).\n\nSign in to see it:\n{url}\n"
    )
    return _send(f"{SURGEON_EVENTS[action]} · {settings.APP_NAME}", body, consent.surgeon.email)
