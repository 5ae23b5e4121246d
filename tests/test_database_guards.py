"""The database-level guards exist: append-only audit log, frozen signed consents.

SQLite drops a table's triggers when a migration rebuilds it; this catches that.
"""

import pytest
from django.db import connection

EXPECTED = {
    "consent_auditevent_no_update",
    "consent_signature_no_update",
    "consent_item_frozen",
    "consent_question_frozen",
    "consent_question_no_insert_after_signing",
    "consent_patient_frozen",
    "consent_consent_frozen",
    "consent_signeddocument_no_update",
}


@pytest.mark.django_db
def test_every_guard_trigger_exists():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        present = {row[0] for row in cursor.fetchall()}
    assert present >= EXPECTED, EXPECTED - present
