"""manage.py expire_consents: close unsigned consents whose planned date has passed."""

import datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from consent.models import ConsentStatus
from consent.services import consent_revoke

from .helpers import issue, ready_to_sign, sign, surgeon_actor

pytestmark = pytest.mark.usefixtures("library")


def run(*args, verbosity=1) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("expire_consents", *args, stdout=out, stderr=err, verbosity=verbosity)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def consents(surgeon):
    """Planned tomorrow: one issued, one in review, one signed; and one planned next month."""
    issued, _ = issue(surgeon, full_name="Issued Patient", planned_in_days=1)
    in_review, _ = ready_to_sign(surgeon, full_name="Review Patient", planned_in_days=1)
    signed, _ = ready_to_sign(surgeon, full_name="Signed Patient", planned_in_days=1)
    sign(signed, name="Signed Patient")
    later, _ = issue(surgeon, full_name="Later Patient", planned_in_days=30)
    return {"issued": issued, "in_review": in_review, "signed": signed, "later": later}


def statuses(consents) -> dict[str, str]:
    for consent in consents.values():
        consent.refresh_from_db()
    return {name: consent.status for name, consent in consents.items()}


def the_day_after_tomorrow():
    return time_machine.travel(timezone.now() + datetime.timedelta(days=2))


def test_it_expires_only_open_consents_whose_date_has_passed(consents):
    with the_day_after_tomorrow():
        out, err = run()
    assert "2 consent(s) expired." in out and err == ""
    assert statuses(consents) == {
        "issued": ConsentStatus.EXPIRED,
        "in_review": ConsentStatus.EXPIRED,
        "signed": ConsentStatus.SIGNED,
        "later": ConsentStatus.ISSUED,
    }
    event = consents["in_review"].audit_events.get(action="consent_expired")
    assert event.actor_type == "system"


def test_nothing_expires_before_the_date_has_passed(consents):
    out, _ = run()
    assert "0 consent(s) expired." in out
    assert statuses(consents)["issued"] == ConsentStatus.ISSUED


def test_a_dry_run_lists_them_and_changes_nothing(consents):
    with the_day_after_tomorrow():
        out, _ = run("--dry-run")
    for name in ("issued", "in_review"):
        assert f"would expire: consent {consents[name].pk} " in out
    assert f"consent {consents['signed'].pk} " not in out
    assert "expired." not in out
    assert statuses(consents)["issued"] == ConsentStatus.ISSUED
    assert not consents["issued"].audit_events.filter(action="consent_expired").exists()


def test_it_is_quiet_at_verbosity_zero(consents):
    with the_day_after_tomorrow():
        out, _ = run(verbosity=0)
    assert out == ""
    assert statuses(consents)["issued"] == ConsentStatus.EXPIRED


def test_a_consent_closed_meanwhile_is_reported_and_skipped(consents, surgeon, monkeypatch):
    from consent.management.commands import expire_consents

    real_expire = expire_consents.consent_expire
    revoked = consents["issued"]

    def revoked_just_before(*, consent, **kwargs):
        if consent.pk == revoked.pk:  # the surgeon revokes it while the command runs
            consent_revoke(consent=consent, actor=surgeon_actor(surgeon), reason="Cancelled")
        return real_expire(consent=consent, **kwargs)

    monkeypatch.setattr(expire_consents, "consent_expire", revoked_just_before)
    with the_day_after_tomorrow():
        out, err = run()
    assert "1 consent(s) expired." in out
    assert f"consent {revoked.pk}: Only an unsigned consent can expire" in err
    assert statuses(consents)["issued"] == ConsentStatus.REVOKED
    assert statuses(consents)["in_review"] == ConsentStatus.EXPIRED
