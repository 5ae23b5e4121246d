"""Who is acting: the surgeon, the patient or the system, and where from.

Every audit event names its actor; `client_ip` is also how django-axes tells clients apart,
so lock-outs and the audit log agree on who the client is.
"""

import ipaddress
import re
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
    X-Forwarded-For is whatever the client sent: anything that is not an IP address is
    ignored (REMOTE_ADDR is used instead), so that it never reaches an address column.
    """
    ip = _valid_ip(request.META.get("REMOTE_ADDR", ""))
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if proxies and len(forwarded) >= proxies:
        ip = _valid_ip(forwarded[-proxies]) or ip
    return ip


def _valid_ip(text: str) -> str | None:
    """The address in its normal form, or None. A zone ("fe80::1%eth0") is refused too:
    PostgreSQL's inet type does not take one."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if getattr(address, "scope_id", None):
        return None
    return str(address)


USER_AGENT_MAX_LENGTH = 500
# Control characters (C0, DEL, C1): PostgreSQL refuses NUL in text, and none belongs in a
# user agent that is shown in the audit log.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean_user_agent(text: str) -> str:
    return _CONTROL.sub("", text)[:USER_AGENT_MAX_LENGTH]


def _client(request: HttpRequest) -> dict:
    return {
        "ip_address": client_ip(request),
        "user_agent": clean_user_agent(request.META.get("HTTP_USER_AGENT", "")),
    }
