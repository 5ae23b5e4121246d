from django.db import migrations

GENESIS_HASH = "0" * 64


def create_head(apps, schema_editor):
    AuditChainHead = apps.get_model("consent", "AuditChainHead")
    AuditChainHead.objects.get_or_create(pk=1, defaults={"last_hash": GENESIS_HASH})


# The audit log is append-only. The database refuses UPDATE on every backend, and DELETE on
# PostgreSQL (SQLite's test flush deletes rows, so there deletion is caught by verify_audit).
SQLITE_FORWARD = """
CREATE TRIGGER consent_auditevent_no_update BEFORE UPDATE ON consent_auditevent
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS consent_auditevent_no_update;"

POSTGRES_FORWARD = """
CREATE OR REPLACE FUNCTION consent_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER consent_auditevent_no_update BEFORE UPDATE OR DELETE ON consent_auditevent
FOR EACH ROW EXECUTE FUNCTION consent_auditevent_append_only();
"""
POSTGRES_BACKWARD = """
DROP TRIGGER IF EXISTS consent_auditevent_no_update ON consent_auditevent;
DROP FUNCTION IF EXISTS consent_auditevent_append_only();
"""


def forward_sql(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD)
    elif vendor == "postgresql":
        schema_editor.execute(POSTGRES_FORWARD)


def backward_sql(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_BACKWARD)
    elif vendor == "postgresql":
        schema_editor.execute(POSTGRES_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [
        migrations.RunPython(create_head, migrations.RunPython.noop),
        migrations.RunPython(forward_sql, backward_sql),
    ]
