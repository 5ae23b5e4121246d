"""The database itself refuses to change a signed consent.

Services refuse first with a plain message; these triggers are the backstop against any other
path (the admin, a shell, a bug). Once a consent has a signature: its frozen fields, items,
questions, patient and the signature itself can no longer be updated. Only the move to
withdrawn (status, closed_at, close_reason, updated_at) is allowed.
DELETE is refused on PostgreSQL only (SQLite's test flush deletes rows).

SQLite drops a table's triggers when a migration rebuilds the table (most AlterField and
RemoveField operations do): a later migration that alters these tables must create the
triggers again. tests/test_database_guards.py fails if any trigger is missing.
"""

from django.db import migrations

FROZEN_CONSENT_COLUMNS = [
    "patient_id",
    "surgeon_id",
    "planned_date",
    "procedure_name",
    "procedure_site",
    "procedure_slug",
    "procedure_revision",
    "procedure_text",
    "content_sha256",
    "created_at",
    "opened_at",
    "signed_at",
]
SIGNED = "EXISTS (SELECT 1 FROM consent_signature s WHERE s.consent_id = {ref})"

SQLITE_FORWARD = [
    """CREATE TRIGGER consent_signature_no_update BEFORE UPDATE ON consent_signature
    BEGIN SELECT RAISE(ABORT, 'a signed consent cannot be changed'); END""",
    f"""CREATE TRIGGER consent_item_frozen BEFORE UPDATE ON consent_consentitemsnapshot
    WHEN {SIGNED.format(ref="OLD.consent_id")}
    BEGIN SELECT RAISE(ABORT, 'a signed consent cannot be changed'); END""",
    f"""CREATE TRIGGER consent_question_frozen BEFORE UPDATE ON consent_question
    WHEN {SIGNED.format(ref="OLD.consent_id")}
    BEGIN SELECT RAISE(ABORT, 'a signed consent cannot be changed'); END""",
    f"""CREATE TRIGGER consent_question_no_insert_after_signing BEFORE INSERT ON consent_question
    WHEN {SIGNED.format(ref="NEW.consent_id")}
    BEGIN SELECT RAISE(ABORT, 'a signed consent cannot be changed'); END""",
    """CREATE TRIGGER consent_patient_frozen BEFORE UPDATE ON consent_patient
    WHEN EXISTS (SELECT 1 FROM consent_consent c JOIN consent_signature s ON s.consent_id = c.id
                 WHERE c.patient_id = OLD.id)
    BEGIN SELECT RAISE(ABORT, 'a signed consent cannot be changed'); END""",
    f"""CREATE TRIGGER consent_consent_frozen BEFORE UPDATE ON consent_consent
    WHEN {SIGNED.format(ref="OLD.id")} AND (
        NEW.status NOT IN ('signed', 'withdrawn') OR
        {" OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN_CONSENT_COLUMNS)})
    BEGIN SELECT RAISE(ABORT, 'a signed consent cannot be changed'); END""",
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "consent_signature_no_update",
        "consent_item_frozen",
        "consent_question_frozen",
        "consent_question_no_insert_after_signing",
        "consent_patient_frozen",
        "consent_consent_frozen",
    )
]

POSTGRES_FORWARD = [
    """CREATE OR REPLACE FUNCTION consent_refuse_change() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION 'a signed consent cannot be changed'; END;
    $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER consent_signature_no_update BEFORE UPDATE OR DELETE ON consent_signature
    FOR EACH ROW EXECUTE FUNCTION consent_refuse_change()""",
    f"""CREATE OR REPLACE FUNCTION consent_child_frozen() RETURNS trigger AS $$
    BEGIN
        IF {SIGNED.format(ref="OLD.consent_id")} THEN
            RAISE EXCEPTION 'a signed consent cannot be changed';
        END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER consent_item_frozen BEFORE UPDATE OR DELETE ON consent_consentitemsnapshot
    FOR EACH ROW EXECUTE FUNCTION consent_child_frozen()""",
    """CREATE TRIGGER consent_question_frozen BEFORE UPDATE OR DELETE ON consent_question
    FOR EACH ROW EXECUTE FUNCTION consent_child_frozen()""",
    f"""CREATE OR REPLACE FUNCTION consent_question_insert_check() RETURNS trigger AS $$
    BEGIN
        IF {SIGNED.format(ref="NEW.consent_id")} THEN
            RAISE EXCEPTION 'a signed consent cannot be changed';
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER consent_question_no_insert_after_signing BEFORE INSERT ON consent_question
    FOR EACH ROW EXECUTE FUNCTION consent_question_insert_check()""",
    """CREATE OR REPLACE FUNCTION consent_patient_frozen() RETURNS trigger AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM consent_consent c JOIN consent_signature s ON s.consent_id = c.id
                   WHERE c.patient_id = OLD.id) THEN
            RAISE EXCEPTION 'a signed consent cannot be changed';
        END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER consent_patient_frozen BEFORE UPDATE OR DELETE ON consent_patient
    FOR EACH ROW EXECUTE FUNCTION consent_patient_frozen()""",
    f"""CREATE OR REPLACE FUNCTION consent_consent_frozen() RETURNS trigger AS $$
    BEGIN
        IF {SIGNED.format(ref="OLD.id")} THEN
            IF TG_OP = 'DELETE' OR NEW.status NOT IN ('signed', 'withdrawn') OR
               {" OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN_CONSENT_COLUMNS)} THEN
                RAISE EXCEPTION 'a signed consent cannot be changed';
            END IF;
        END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER consent_consent_frozen BEFORE UPDATE OR DELETE ON consent_consent
    FOR EACH ROW EXECUTE FUNCTION consent_consent_frozen()""",
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS consent_signature_no_update ON consent_signature",
    "DROP TRIGGER IF EXISTS consent_item_frozen ON consent_consentitemsnapshot",
    "DROP TRIGGER IF EXISTS consent_question_frozen ON consent_question",
    "DROP TRIGGER IF EXISTS consent_question_no_insert_after_signing ON consent_question",
    "DROP TRIGGER IF EXISTS consent_patient_frozen ON consent_patient",
    "DROP TRIGGER IF EXISTS consent_consent_frozen ON consent_consent",
    "DROP FUNCTION IF EXISTS consent_refuse_change()",
    "DROP FUNCTION IF EXISTS consent_child_frozen()",
    "DROP FUNCTION IF EXISTS consent_question_insert_check()",
    "DROP FUNCTION IF EXISTS consent_patient_frozen()",
    "DROP FUNCTION IF EXISTS consent_consent_frozen()",
]


def run(statements_by_vendor):
    def operation(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return operation


class Migration(migrations.Migration):
    dependencies = [("consent", "0004_source_item_plain_id")]

    operations = [
        migrations.RunPython(
            run({"sqlite": SQLITE_FORWARD, "postgresql": POSTGRES_FORWARD}),
            run({"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRES_BACKWARD}),
        ),
    ]
