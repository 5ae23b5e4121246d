"""Signing is all-or-nothing when the worker is killed (kill -9) at any point of it.

A real process signs a real consent in the test database and is SIGKILLed at one of the steps
of consent_sign; then the record must be whole: either nothing of the signature, or all of it.
The patient can then sign again (once the dead worker's claim has lapsed).
"""

import datetime
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone

from consent.audit import audit_verify
from consent.models import ConsentStatus, Signature, SignedDocument, SigningClaim
from consent.services import SigningInProgress

from .helpers import ready_to_sign, sign

# Where the worker dies: (name, what to replace with a SIGKILL).
KILL_POINTS = {
    "after_claim": "consent.documents.render_sealed",
    "after_render": "consent.documents.store_file",
    "after_storing": "consent.services._check_claim_still_good",
    "mid_transaction": "consent.models.SignedDocument.objects.create",
    "after_commit": "consent.notify.surgeon_event",
}

WORKER = textwrap.dedent(
    """
    import os, signal, sys
    import django
    django.setup()
    from unittest import mock
    from consent.models import Consent
    from tests.helpers import sign

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    target = os.environ["KILL_AT"]
    with mock.patch(target, die):
        sign(Consent.objects.get(pk=int(os.environ["CONSENT"])))
    sys.exit(3)  # not killed: the patch was never reached
    """
)


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def run_worker(consent_pk: int, kill_at: str) -> int:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "CONSENT": str(consent_pk),
        "KILL_AT": kill_at,
    }
    result = subprocess.run(  # noqa: S603 - our own interpreter running our own script
        [sys.executable, "-c", WORKER],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]
    return result.returncode


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_worker_killed_mid_signing_leaves_all_or_nothing(surgeon, library, point):
    consent, _ = ready_to_sign(surgeon)
    run_worker(consent.pk, KILL_POINTS[point])

    consent.refresh_from_db()
    signatures = Signature.objects.filter(consent=consent).count()
    documents = SignedDocument.objects.filter(consent=consent).count()
    signed_events = consent.audit_events.filter(action="consent_signed").count()
    sealed_events = consent.audit_events.filter(action="document_sealed").count()
    if point == "after_commit":
        assert consent.status == ConsentStatus.SIGNED
        assert (signatures, documents, signed_events, sealed_events) == (1, 1, 1, 1)
        document = SignedDocument.objects.get(consent=consent)
        assert document.file.storage.exists(document.file.name)
    else:
        assert consent.status == ConsentStatus.IN_REVIEW
        assert consent.signed_at is None
        assert (signatures, documents, signed_events, sealed_events) == (0, 0, 0, 0)
        assert SigningClaim.objects.filter(consent=consent).exists()  # the dead worker's
        # The patient tries again at once: told to wait, not given a second signature.
        with pytest.raises(SigningInProgress):
            sign(consent)
        # Once the claim has lapsed, signing works.
        lapse = datetime.timedelta(seconds=settings.SIGNING_CLAIM_SECONDS + 1)
        with time_machine.travel(timezone.now() + lapse):
            sign(consent)
        consent.refresh_from_db()
        assert consent.status == ConsentStatus.SIGNED
        assert Signature.objects.filter(consent=consent).count() == 1
    assert audit_verify().intact, audit_verify().problems
