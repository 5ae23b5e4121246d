"""A keyed audit chain anchored in every sealed PDF, and the database guards against an insider.

The complete set of guard triggers, for both backends, replacing those of 0002, 0005 and 0007:
- audit events: no UPDATE, no DELETE, no TRUNCATE;
- the chain head: no DELETE or TRUNCATE; UPDATE only forward, to an event that exists with that
  hash; INSERT only at the very start (no events yet);
- a signed consent (it has a signature, or a signing time): its frozen fields, patient, items,
  questions and answers refuse INSERT, UPDATE and DELETE (the move to withdrawn is allowed);
- signatures and signed documents: no UPDATE, no DELETE, no TRUNCATE;
- TRUNCATE is refused on every one of these tables (row triggers do not fire on TRUNCATE).
SQLite has no TRUNCATE (a DELETE without WHERE fires row triggers when triggers exist).

A database superuser can still drop these triggers or set session_replication_role = replica;
docs/audit.md says what then catches a change (the keyed hash, the checkpoints in PDFs).
consent/db_guards.py reinstalls the SQLite set after a migration that rebuilds a consent table.
"""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

from consent.db_guards import drop_sqlite_triggers, reinstall_sqlite_guards

GENESIS = "0" * 64

# A consent is signed once it has a signature or a signing time: removing one of them does not
# unfreeze it.
SIGNED = (
    "(EXISTS (SELECT 1 FROM consent_signature s WHERE s.consent_id = {ref}) OR "
    "EXISTS (SELECT 1 FROM consent_consent c WHERE c.id = {ref} AND c.signed_at IS NOT NULL))"
)
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
PATIENT_SIGNED = (
    "EXISTS (SELECT 1 FROM consent_consent c WHERE c.patient_id = {ref} AND ("
    "c.signed_at IS NOT NULL OR EXISTS (SELECT 1 FROM consent_signature s "
    "WHERE s.consent_id = c.id)))"
)
REFUSE = "BEGIN SELECT RAISE(ABORT, '{message}'); END"
CHANGED = "a signed consent cannot be changed"
APPEND_ONLY = "audit events are append-only"
HEAD = "the audit chain head only moves forward, to an event that exists"


def _sqlite_child(table: str, name: str) -> list[str]:
    return [
        f"CREATE TRIGGER {name}_no_insert BEFORE INSERT ON {table} "
        f"WHEN {SIGNED.format(ref='NEW.consent_id')} {REFUSE.format(message=CHANGED)}",
        f"CREATE TRIGGER {name}_frozen BEFORE UPDATE ON {table} "
        f"WHEN {SIGNED.format(ref='OLD.consent_id')} OR {SIGNED.format(ref='NEW.consent_id')} "
        f"{REFUSE.format(message=CHANGED)}",
        f"CREATE TRIGGER {name}_no_delete BEFORE DELETE ON {table} "
        f"WHEN {SIGNED.format(ref='OLD.consent_id')} {REFUSE.format(message=CHANGED)}",
    ]


SQLITE = [
    f"CREATE TRIGGER consent_auditevent_no_update BEFORE UPDATE ON consent_auditevent "
    f"{REFUSE.format(message=APPEND_ONLY)}",
    f"CREATE TRIGGER consent_auditevent_no_delete BEFORE DELETE ON consent_auditevent "
    f"{REFUSE.format(message=APPEND_ONLY)}",
    f"""CREATE TRIGGER consent_auditchainhead_forward BEFORE UPDATE ON consent_auditchainhead
    WHEN NEW.id IS NOT OLD.id OR NEW.last_sequence <= OLD.last_sequence OR NOT EXISTS (
        SELECT 1 FROM consent_auditevent e
        WHERE e.sequence = NEW.last_sequence AND e.hash = NEW.last_hash)
    {REFUSE.format(message=HEAD)}""",
    "CREATE TRIGGER consent_auditchainhead_no_delete BEFORE DELETE ON consent_auditchainhead "
    + REFUSE.format(message="the audit chain head cannot be deleted"),
    f"""CREATE TRIGGER consent_auditchainhead_insert BEFORE INSERT ON consent_auditchainhead
    WHEN NEW.last_sequence != 0 OR NEW.last_hash != '{GENESIS}'
        OR EXISTS (SELECT 1 FROM consent_auditevent)
    {REFUSE.format(message="the audit chain head can only be created before any event")}""",
    f"CREATE TRIGGER consent_signature_no_update BEFORE UPDATE ON consent_signature "
    f"{REFUSE.format(message=CHANGED)}",
    f"CREATE TRIGGER consent_signature_no_delete BEFORE DELETE ON consent_signature "
    f"{REFUSE.format(message=CHANGED)}",
    f"CREATE TRIGGER consent_signeddocument_no_update BEFORE UPDATE ON consent_signeddocument "
    f"{REFUSE.format(message=CHANGED)}",
    f"CREATE TRIGGER consent_signeddocument_no_delete BEFORE DELETE ON consent_signeddocument "
    f"{REFUSE.format(message=CHANGED)}",
    *_sqlite_child("consent_consentitemsnapshot", "consent_item"),
    *_sqlite_child("consent_question", "consent_question"),
    f"""CREATE TRIGGER consent_patient_frozen BEFORE UPDATE ON consent_patient
    WHEN {PATIENT_SIGNED.format(ref="OLD.id")} {REFUSE.format(message=CHANGED)}""",
    f"""CREATE TRIGGER consent_patient_no_delete BEFORE DELETE ON consent_patient
    WHEN {PATIENT_SIGNED.format(ref="OLD.id")} {REFUSE.format(message=CHANGED)}""",
    f"""CREATE TRIGGER consent_consent_frozen BEFORE UPDATE ON consent_consent
    WHEN (OLD.signed_at IS NOT NULL OR {SIGNED.format(ref="OLD.id")}) AND (
        NEW.status NOT IN ('signed', 'withdrawn') OR
        {" OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN_CONSENT_COLUMNS)})
    {REFUSE.format(message=CHANGED)}""",
    f"""CREATE TRIGGER consent_consent_no_delete BEFORE DELETE ON consent_consent
    WHEN OLD.signed_at IS NOT NULL OR {SIGNED.format(ref="OLD.id")}
    {REFUSE.format(message=CHANGED)}""",
]

# Every table whose rows a TRUNCATE could wipe without firing a row trigger.
TRUNCATE_GUARDED = [
    "consent_auditevent",
    "consent_auditchainhead",
    "consent_signature",
    "consent_signeddocument",
    "consent_consentitemsnapshot",
    "consent_question",
    "consent_consent",
    "consent_patient",
]

POSTGRES = [
    f"""CREATE OR REPLACE FUNCTION consent_is_signed(consent bigint) RETURNS boolean AS $$
        SELECT {SIGNED.format(ref="consent")}
    $$ LANGUAGE sql STABLE""",
    """CREATE OR REPLACE FUNCTION consent_refuse_truncate() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '% cannot be truncated: it holds the consent record', TG_TABLE_NAME;
    END;
    $$ LANGUAGE plpgsql""",
    f"""CREATE OR REPLACE FUNCTION consent_auditevent_append_only() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END;
    $$ LANGUAGE plpgsql""",
    f"""CREATE OR REPLACE FUNCTION consent_refuse_change() RETURNS trigger AS $$
    BEGIN RAISE EXCEPTION '{CHANGED}'; END;
    $$ LANGUAGE plpgsql""",
    f"""CREATE OR REPLACE FUNCTION consent_auditchainhead_guard() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'the audit chain head cannot be deleted';
        ELSIF TG_OP = 'INSERT' THEN
            IF NEW.last_sequence <> 0 OR NEW.last_hash <> '{GENESIS}'
               OR EXISTS (SELECT 1 FROM consent_auditevent) THEN
                RAISE EXCEPTION 'the audit chain head can only be created before any event';
            END IF;
        ELSIF NEW.id IS DISTINCT FROM OLD.id OR NEW.last_sequence <= OLD.last_sequence
              OR NOT EXISTS (SELECT 1 FROM consent_auditevent e
                             WHERE e.sequence = NEW.last_sequence AND e.hash = NEW.last_hash) THEN
            RAISE EXCEPTION '{HEAD}';
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql""",
    f"""CREATE OR REPLACE FUNCTION consent_child_frozen() RETURNS trigger AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') AND consent_is_signed(OLD.consent_id) THEN
            RAISE EXCEPTION '{CHANGED}';
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') AND consent_is_signed(NEW.consent_id) THEN
            RAISE EXCEPTION '{CHANGED}';
        END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql""",
    f"""CREATE OR REPLACE FUNCTION consent_patient_frozen() RETURNS trigger AS $$
    BEGIN
        IF {PATIENT_SIGNED.format(ref="OLD.id")} THEN
            RAISE EXCEPTION '{CHANGED}';
        END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql""",
    f"""CREATE OR REPLACE FUNCTION consent_consent_frozen() RETURNS trigger AS $$
    BEGIN
        IF OLD.signed_at IS NOT NULL OR consent_is_signed(OLD.id) THEN
            IF TG_OP = 'DELETE' OR NEW.status NOT IN ('signed', 'withdrawn') OR
               {" OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN_CONSENT_COLUMNS)} THEN
                RAISE EXCEPTION '{CHANGED}';
            END IF;
        END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql""",
    # Triggers: the old ones are replaced (same names where they did the same job).
    "DROP TRIGGER IF EXISTS consent_question_no_insert_after_signing ON consent_question",
    "DROP FUNCTION IF EXISTS consent_question_insert_check()",
    *[
        f"DROP TRIGGER IF EXISTS {name} ON {table}"
        for name, table in [
            ("consent_auditevent_no_update", "consent_auditevent"),
            ("consent_signature_no_update", "consent_signature"),
            ("consent_signeddocument_no_update", "consent_signeddocument"),
            ("consent_item_frozen", "consent_consentitemsnapshot"),
            ("consent_question_frozen", "consent_question"),
            ("consent_patient_frozen", "consent_patient"),
            ("consent_consent_frozen", "consent_consent"),
        ]
    ],
    """CREATE TRIGGER consent_auditevent_no_update BEFORE UPDATE OR DELETE ON consent_auditevent
    FOR EACH ROW EXECUTE FUNCTION consent_auditevent_append_only()""",
    """CREATE TRIGGER consent_auditchainhead_guard
    BEFORE INSERT OR UPDATE OR DELETE ON consent_auditchainhead
    FOR EACH ROW EXECUTE FUNCTION consent_auditchainhead_guard()""",
    """CREATE TRIGGER consent_signature_no_update BEFORE UPDATE OR DELETE ON consent_signature
    FOR EACH ROW EXECUTE FUNCTION consent_refuse_change()""",
    """CREATE TRIGGER consent_signeddocument_no_update
    BEFORE UPDATE OR DELETE ON consent_signeddocument
    FOR EACH ROW EXECUTE FUNCTION consent_refuse_change()""",
    """CREATE TRIGGER consent_item_frozen
    BEFORE INSERT OR UPDATE OR DELETE ON consent_consentitemsnapshot
    FOR EACH ROW EXECUTE FUNCTION consent_child_frozen()""",
    """CREATE TRIGGER consent_question_frozen BEFORE INSERT OR UPDATE OR DELETE ON consent_question
    FOR EACH ROW EXECUTE FUNCTION consent_child_frozen()""",
    """CREATE TRIGGER consent_patient_frozen BEFORE UPDATE OR DELETE ON consent_patient
    FOR EACH ROW EXECUTE FUNCTION consent_patient_frozen()""",
    """CREATE TRIGGER consent_consent_frozen BEFORE UPDATE OR DELETE ON consent_consent
    FOR EACH ROW EXECUTE FUNCTION consent_consent_frozen()""",
    *[
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION consent_refuse_truncate()"""
        for table in TRUNCATE_GUARDED
    ],
]

POSTGRES_BACKWARD = [
    *[f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}" for table in TRUNCATE_GUARDED],
    "DROP TRIGGER IF EXISTS consent_auditchainhead_guard ON consent_auditchainhead",
    "DROP FUNCTION IF EXISTS consent_auditchainhead_guard()",
    "DROP FUNCTION IF EXISTS consent_refuse_truncate()",
]


def install(apps, schema_editor):
    head = apps.get_model("consent", "AuditChainHead").objects.filter(pk=1).first()
    if head is not None and head.last_sequence:
        print(
            f"\n  The audit log already holds {head.last_sequence} event(s) hashed without a key."
            f"\n  Set AUDIT_UNKEYED_UNTIL={head.last_sequence} in the environment so that "
            "verify_audit accepts them (docs/audit.md)."
        )
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        drop_sqlite_triggers(apps, schema_editor)
        statements = SQLITE
    elif vendor == "postgresql":
        statements = POSTGRES
    else:
        statements = []
    for statement in statements:
        schema_editor.execute(statement, None)


def uninstall(apps, schema_editor):
    """Back to the guards of set 1 (0002, 0005, 0007). On SQLite the first operation's
    reverse puts them back, after the reversed AddFields have rebuilt the tables."""
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        drop_sqlite_triggers(apps, schema_editor)
    elif vendor == "postgresql":
        for statement in POSTGRES_BACKWARD:
            schema_editor.execute(statement, None)
        for name in ("0002_audit_chain_head_and_triggers", "0005_freeze_signed_consents"):
            forward = import_module(f"consent.migrations.{name}").POSTGRES_FORWARD
            for statement in [forward] if isinstance(forward, str) else forward:
                schema_editor.execute(
                    statement.replace("CREATE TRIGGER", "CREATE OR REPLACE TRIGGER"), None
                )


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0008_teams_email_sessions"),
    ]

    operations = [
        # Adding columns rebuilds consent tables on SQLite: guards off first, the new set last.
        migrations.RunPython(drop_sqlite_triggers, reinstall_sqlite_guards(1)),
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(blank=True, max_length=16),
        ),
        migrations.AddField(
            model_name="signeddocument",
            name="checkpoint_hash",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="signeddocument",
            name="checkpoint_sequence",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="SigningClaim",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("token", models.CharField(max_length=32, unique=True)),
                ("started_at", models.DateTimeField()),
                (
                    "consent",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="consent.consent",
                    ),
                ),
            ],
        ),
        migrations.RunPython(install, uninstall),
    ]
