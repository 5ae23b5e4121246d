"""Who is acting: the surgeon, the patient or the system, and where from.

Every audit event names its actor; `client_ip` is also how django-axes tells clients apart,
so lock-outs and the audit log agree on who the client is.
"""

import ipaddress
import re
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.utils.ipv6 import clean_ipv6_address

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

    X-Forwarded-For is whatever the client sent: anything that is not an IP address is
    ignored (REMOTE_ADDR is used instead), so that it never reaches an address column. The
    address is in the form the audit log stores (stored_ip).
    """
    ip = stored_ip(request.META.get("REMOTE_ADDR", ""))
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if proxies and len(forwarded) >= proxies:
        ip = stored_ip(forwarded[-proxies]) or ip
    return ip


def client_network(request: HttpRequest) -> str | None:
    """Who a limit counts: the client's IPv4 address, or the /64 its IPv6 address is in.

    Any IPv6 host holds at least a /64 and can take a new address in it at will, so rate
    limits and sign-in lock-outs (django-axes calls this) count the /64 as one client.
    """
    ip = client_ip(request)
    if ip and ":" in ip:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address)
    return ip


# Control characters (C0 but tab, newline and carriage return; DEL; C1): PostgreSQL refuses
# NUL in text, and none belongs in a log line or a record.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
USER_AGENT_MAX_LENGTH = 500


def stored_text(value: str, max_length: int) -> str:
    return CONTROL.sub("", str(value))[:max_length]


def stored_ip(value: str | None) -> str | None:
    """An address as both databases store and give it back; None if it is not an address.

    IPv6 is compressed as Django stores it. IPv4 inside IPv6 (mapped ::ffff:a.b.c.d, or the
    deprecated compatible ::a.b.c.d, which Django and PostgreSQL would write differently) is
    recorded as the IPv4 address it is. A zone ("fe80::1%eth0") is refused: PostgreSQL's inet
    type does not take one.
    """
    if not value:
        return None
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        return None
    if address.version == 4:
        return str(address)
    if address.scope_id:
        return None
    packed = address.packed
    if address.ipv4_mapped or (packed[:12] == bytes(12) and packed[12:14] != bytes(2)):
        return str(ipaddress.IPv4Address(packed[12:]))
    return clean_ipv6_address(str(address))


def clean_user_agent(text: str) -> str:
    """One line of text: no control characters, tabs or line breaks either."""
    return stored_text(re.sub(r"[\t\n\r]", "", text), USER_AGENT_MAX_LENGTH)


def _client(request: HttpRequest) -> dict:
    return {
        "ip_address": client_ip(request),
        "user_agent": clean_user_agent(request.META.get("HTTP_USER_AGENT", "")),
    }
