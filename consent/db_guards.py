"""Take the database guard triggers off and put them back around a SQLite table rebuild.

SQLite rebuilds a table for most ALTERs; the rebuild drops that table's triggers and fails
while another table's trigger refers to it. So any migration that alters consent tables is
wrapped: RunPython(drop_sqlite_triggers) first, RunPython(reinstall_sqlite_triggers) last.
The statements come from the migrations that first created them, so there is one definition.
"""

import importlib
import re

_SOURCES = [
    ("0002_audit_chain_head_and_triggers", lambda m: [m.SQLITE_FORWARD]),
    ("0005_freeze_signed_consents", lambda m: m.SQLITE_FORWARD),
    ("0007_signed_document_append_only", lambda m: m.SQLITE["forward"]),
]


def sqlite_trigger_statements() -> list[str]:
    statements = []
    for name, pick in _SOURCES:
        statements += pick(importlib.import_module(f"consent.migrations.{name}"))
    return statements


def _name(statement: str) -> str:
    return re.search(r"CREATE TRIGGER (\w+)", statement)[1]


def drop_sqlite_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in sqlite_trigger_statements():
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {_name(statement)}")


def reinstall_sqlite_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    drop_sqlite_triggers(apps, schema_editor)
    for statement in sqlite_trigger_statements():
        schema_editor.execute(statement)
