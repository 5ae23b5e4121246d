from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, str]:
    """Names every page shows in its header and title."""
    return {"APP_NAME": settings.APP_NAME, "HOSPITAL_NAME": settings.HOSPITAL_NAME}
