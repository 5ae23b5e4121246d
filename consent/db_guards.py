"""Take the SQLite guard triggers off and put them back around a SQLite table rebuild.

SQLite rebuilds a table for most ALTERs; the rebuild drops that table's triggers and fails
while another table's trigger refers to it. So a migration that alters consent tables is
wrapped: RunPython(drop_sqlite_triggers) first, RunPython(reinstall_sqlite_guards(N)) last,
where N is the guard set in force at that migration (the statements come from the migrations
that defined them, so each set has one definition):
- set 1: migrations 0002, 0005 and 0007;
- set 2: migration 0009, which replaced set 1 on both backends;
- set 3: migration 0012, set 2 with a signed consent's id frozen too;
- set 4 (current): migration 0014, set 3 with the understanding checks, attempts, priorities
  and step times frozen too, and the predicted reading time among the frozen columns.
tests/test_database_guards.py fails if a trigger of the current set is missing.
"""

import importlib
from collections.abc import Callable

CURRENT = 4
_SETS = {
    1: [
        ("0002_audit_chain_head_and_triggers", lambda m: [m.SQLITE_FORWARD]),
        ("0005_freeze_signed_consents", lambda m: m.SQLITE_FORWARD),
        ("0007_signed_document_append_only", lambda m: m.SQLITE["forward"]),
    ],
    2: [("0009_keyed_audit_and_guards", lambda m: m.SQLITE)],
    3: [("0012_freeze_consent_id", lambda m: m.SQLITE)],
    4: [("0014_provably_informed", lambda m: m.SQLITE)],
}


def sqlite_trigger_statements(version: int = CURRENT) -> list[str]:
    statements = []
    for name, pick in _SETS[version]:
        statements += pick(importlib.import_module(f"consent.migrations.{name}"))
    return statements


def _consent_triggers(connection) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'consent_%'"
        )
        return [row[0] for row in cursor.fetchall()]


def drop_all_sqlite_triggers(connection) -> None:
    """Drop every trigger on a consent table (SQLite only)."""
    with connection.cursor() as cursor:
        for name in _consent_triggers(connection):
            cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')


def install_sqlite_triggers(connection, version: int = CURRENT) -> None:
    drop_all_sqlite_triggers(connection)
    with connection.cursor() as cursor:
        for statement in sqlite_trigger_statements(version):
            cursor.execute(statement)


def drop_sqlite_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        drop_all_sqlite_triggers(schema_editor.connection)


def reinstall_sqlite_guards(version: int) -> Callable:
    def reinstall(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "sqlite":
            install_sqlite_triggers(schema_editor.connection, version)

    return reinstall
