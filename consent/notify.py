"""Emails. They never carry medical details: no procedure, no risks, no answers.

Sent after the transaction commits, so that a rolled-back change sends nothing.
"""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from .models import Consent

logger = logging.getLogger(__name__)


def _send(subject: str, body: str, to: str) -> bool:
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=False)
    except Exception:
        logger.exception("Email to %s could not be sent", to.split("@")[-1])
        return False
    return True


def patient_link(consent: Consent, *, url: str, expires_at) -> bool:
    """The patient's private link: 'you have a consent to review', and nothing more."""
    hospital = settings.HOSPITAL_NAME
    body = (
        f"Hello,\n\n"
        f"You have a consent form to review from {hospital}.\n\n"
        f"Open your private link:\n{url}\n\n"
        f"You will be asked for your date of birth. The link works until "
        f"{timezone.localtime(expires_at):%-d %B %Y}. Please do not share it.\n\n"
        f"If you did not expect this email, please contact {hospital}.\n"
    )
    return _send(f"A consent form to review from {hospital}", body, consent.patient.email)


SURGEON_EVENTS = {
    "question_asked": "A patient has asked a question",
    "consent_signed": "A patient has signed a consent",
    "consent_withdrawn": "A patient has withdrawn a consent",
}


def surgeon_event(consent: Consent, action: str) -> bool:
    if not consent.surgeon.email:
        return False
    url = settings.SITE_URL.rstrip("/") + reverse("consent_detail", args=[consent.pk])
    body = (
        f"{SURGEON_EVENTS[action]} (consent reference {consent.pk}).\n\nSign in to see it:\n{url}\n"
    )
    return _send(f"{SURGEON_EVENTS[action]} · {settings.APP_NAME}", body, consent.surgeon.email)
