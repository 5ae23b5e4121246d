"""The database-level guards exist: append-only audit log, frozen signed consents.

SQLite drops a table's triggers when a migration rebuilds it; this catches that. What each
guard refuses is tested, as an attacker would try it, in tests/test_audit.py.
"""

import re

import pytest
from django.db import connection

from consent.db_guards import sqlite_trigger_statements


def expected() -> set[str]:
    if connection.vendor == "sqlite":
        return {re.search(r"CREATE TRIGGER (\w+)", s)[1] for s in sqlite_trigger_statements()}
    from importlib import import_module

    migration = import_module("consent.migrations.0009_keyed_audit_and_guards")
    return {
        re.search(r"CREATE TRIGGER (\w+)", s)[1]
        for s in migration.POSTGRES
        if "CREATE TRIGGER" in s
    }


@pytest.mark.django_db
def test_every_guard_trigger_exists():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        present = {row[0] for row in cursor.fetchall()}
    wanted = expected()
    assert len(wanted) >= 16
    assert present >= wanted, wanted - present


@pytest.mark.django_db
def test_the_guards_are_back_after_a_transactional_tests_flush(transactional_db):
    """The tests' flush lifts the guards to empty the tables; it must put them back."""
    test_every_guard_trigger_exists()
