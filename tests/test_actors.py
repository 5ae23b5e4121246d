"""Who is acting and from where: client_ip behind zero, one or more trusted proxies.

The same address goes into the audit log and into django-axes' lock-out of failed sign-ins.
"""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from consent.actors import Actor, client_ip
from consent.models import AuditEvent

from .conftest import PASSWORD
from .helpers import issue
from .test_patient_views import RIGHT, link_url

PROXY = "10.0.0.2"


def request(remote_addr: str | None = "203.0.113.9", forwarded: str | None = None):
    meta = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    req = RequestFactory().get("/", **meta)
    if remote_addr is None:
        del req.META["REMOTE_ADDR"]
    else:
        req.META["REMOTE_ADDR"] = remote_addr
    return req


class TestClientIp:
    @pytest.mark.parametrize(
        ("proxies", "remote_addr", "forwarded", "expected"),
        [
            pytest.param(0, "203.0.113.9", None, "203.0.113.9", id="no-proxy"),
            pytest.param(0, "203.0.113.9", "198.51.100.1", "203.0.113.9", id="header-not-trusted"),
            pytest.param(1, PROXY, "198.51.100.1", "198.51.100.1", id="one-proxy"),
            pytest.param(
                1, PROXY, "6.6.6.6, 198.51.100.1", "198.51.100.1", id="forged-entry-ignored"
            ),
            pytest.param(
                2, "10.0.0.3", f"6.6.6.6, 198.51.100.1,{PROXY}", "198.51.100.1", id="two-proxies"
            ),
            pytest.param(2, "10.0.0.3", "198.51.100.1", "10.0.0.3", id="fewer-hops-than-proxies"),
            pytest.param(1, PROXY, None, PROXY, id="header-missing"),
            pytest.param(1, PROXY, "198.51.100.1, ", PROXY, id="empty-last-entry"),
            pytest.param(0, None, None, None, id="no-address-at-all"),
        ],
    )
    def test_it_trusts_exactly_the_configured_proxies(
        self, settings, proxies, remote_addr, forwarded, expected
    ):
        settings.TRUSTED_PROXY_COUNT = proxies
        assert client_ip(request(remote_addr, forwarded)) == expected

    def test_actors_carry_the_address_and_a_bounded_user_agent(self, settings):
        settings.TRUSTED_PROXY_COUNT = 1
        req = request(PROXY, "198.51.100.1")
        req.META["HTTP_USER_AGENT"] = "x" * 2000
        actor = Actor.patient(req)
        assert actor.ip_address == "198.51.100.1"
        assert len(actor.user_agent) == 500


@pytest.mark.usefixtures("library")
class TestBehindAProxy:
    def test_the_audit_log_records_the_patients_address_not_the_proxys(
        self, client, surgeon, settings
    ):
        settings.TRUSTED_PROXY_COUNT = 1
        consent, issued = issue(surgeon)
        client.post(link_url(issued), RIGHT, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.1")
        event = AuditEvent.objects.get(consent=consent, action="identity_confirmed")
        assert event.ip_address == "198.51.100.1"

    def test_a_lock_out_holds_one_client_not_everyone_behind_the_proxy(
        self, client, surgeon, settings
    ):
        settings.TRUSTED_PROXY_COUNT = 1
        attacker = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "198.51.100.66"}
        colleague = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "198.51.100.1"}
        for _ in range(settings.AXES_FAILURE_LIMIT):
            client.post(reverse("login"), {"username": "owner", "password": "wrong"}, **attacker)
        locked = client.post(
            reverse("login"), {"username": "owner", "password": PASSWORD}, **attacker
        )
        assert "Too many failed sign-ins" in locked.text
        other = client.__class__()
        response = other.post(
            reverse("login"), {"username": "owner", "password": PASSWORD}, **colleague
        )
        assert response.status_code == 302
