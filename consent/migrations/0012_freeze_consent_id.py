"""Guard set 3: a signed consent's id is frozen too.

A review swapped the ids of two signed consents with every trigger on (foreign keys are
checked only at commit), moving one patient's signature, risks and PDF onto another's row.
Same triggers as set 2 (migration 0009), with `id` among a signed consent's frozen columns.
"""

from importlib import import_module

from django.db import migrations

from consent.db_guards import drop_sqlite_triggers, reinstall_sqlite_guards

SET_2 = import_module("consent.migrations.0009_keyed_audit_and_guards")
OLD_COLUMNS = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in SET_2.FROZEN_CONSENT_COLUMNS)
OLD_COLUMNS_PG = " OR ".join(
    f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in SET_2.FROZEN_CONSENT_COLUMNS
)


def _with_id(statement: str, old: str, new: str) -> str:
    assert old in statement
    return statement.replace(old, new)


SQLITE = [
    _with_id(s, OLD_COLUMNS, "NEW.id IS NOT OLD.id OR " + OLD_COLUMNS)
    if s.startswith("CREATE TRIGGER consent_consent_frozen")
    else s
    for s in SET_2.SQLITE
]
POSTGRES = [
    _with_id(s, OLD_COLUMNS_PG, "NEW.id IS DISTINCT FROM OLD.id OR " + OLD_COLUMNS_PG)
    for s in SET_2.POSTGRES
    if "FUNCTION consent_consent_frozen()" in s and s.startswith("CREATE OR REPLACE")
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        reinstall_sqlite_guards(3)(apps, schema_editor)
    elif vendor == "postgresql":
        for statement in POSTGRES:
            schema_editor.execute(statement, None)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        reinstall_sqlite_guards(2)(apps, schema_editor)
    elif vendor == "postgresql":
        for statement in SET_2.POSTGRES:
            if "FUNCTION consent_consent_frozen()" in statement:
                schema_editor.execute(statement, None)


class Migration(migrations.Migration):
    dependencies = [("consent", "0011_rate_limit_counter")]

    operations = [
        migrations.RunPython(drop_sqlite_triggers, migrations.RunPython.noop),
        migrations.RunPython(forward, backward),
    ]
