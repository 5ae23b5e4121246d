"""A signed document's row never changes (DELETE refused too on PostgreSQL)."""

from django.db import migrations

SQLITE = {
    "forward": [
        """CREATE TRIGGER consent_signeddocument_no_update BEFORE UPDATE ON consent_signeddocument
        BEGIN SELECT RAISE(ABORT, 'a signed consent cannot be changed'); END"""
    ],
    "backward": ["DROP TRIGGER IF EXISTS consent_signeddocument_no_update"],
}
POSTGRES = {
    "forward": [
        """CREATE TRIGGER consent_signeddocument_no_update
        BEFORE UPDATE OR DELETE ON consent_signeddocument
        FOR EACH ROW EXECUTE FUNCTION consent_refuse_change()"""
    ],
    "backward": ["DROP TRIGGER IF EXISTS consent_signeddocument_no_update ON consent_signeddocument"],
}


def run(direction):
    def operation(apps, schema_editor):
        vendor = schema_editor.connection.vendor
        statements = {"sqlite": SQLITE, "postgresql": POSTGRES}.get(vendor, {}).get(direction, [])
        for statement in statements:
            schema_editor.execute(statement)

    return operation


class Migration(migrations.Migration):
    dependencies = [("consent", "0006_signed_document")]

    operations = [migrations.RunPython(run("forward"), run("backward"))]
