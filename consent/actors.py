"""Who is acting: the surgeon, the patient or the system, and where from.

Every audit event names its actor; `client_ip` is also how django-axes tells clients apart,
so lock-outs and the audit log agree on who the client is.
"""

from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

from .models import ActorType


@dataclass(frozen=True)
class Actor:
    type: str
    label: str
    user: object | None = None
    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def system(cls) -> "Actor":
        return cls(type=ActorType.SYSTEM, label="system")

    @classmethod
    def surgeon(cls, request: HttpRequest) -> "Actor":
        user = request.user
        return cls(
            type=ActorType.SURGEON,
            label=user.get_username(),
            user=user,
            **_client(request),
        )

    @classmethod
    def patient(cls, request: HttpRequest) -> "Actor":
        return cls(type=ActorType.PATIENT, label="patient", **_client(request))


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or the address our trusted proxies saw.

    Also used by django-axes, so lock-outs and the audit log agree on who the client is.
    """
    ip = request.META.get("REMOTE_ADDR")
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if proxies and len(forwarded) >= proxies and forwarded[-proxies]:
        ip = forwarded[-proxies]
    return ip or None


def _client(request: HttpRequest) -> dict:
    return {
        "ip_address": client_ip(request),
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:500],
    }
