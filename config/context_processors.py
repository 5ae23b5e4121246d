from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def site(request: HttpRequest) -> dict:
    """Names every page shows in its header and title, and who patients contact.

    `contact`: the consent's team if a patient page loaded one (request.consent), else the
    hospital. Lazy, so pages that do not show it cost nothing. A view may pass its own.
    """
    from consent.contact import contact_for

    return {
        "APP_NAME": settings.APP_NAME,
        "HOSPITAL_NAME": settings.HOSPITAL_NAME,
        "contact": SimpleLazyObject(lambda: contact_for(getattr(request, "consent", None))),
    }
