"""Guards only PostgreSQL can give: an append-only audit table and no double-booked phone slots.

SQLite (a developer's machine) relies on the application's own checks.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

AUDIT_APPEND_ONLY = """
CREATE FUNCTION bookings_auditentry_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER bookings_auditentry_append_only
    BEFORE UPDATE OR DELETE ON bookings_auditentry
    FOR EACH ROW EXECUTE FUNCTION bookings_auditentry_refuse_change();
"""
AUDIT_APPEND_ONLY_REVERSE = """
DROP TRIGGER bookings_auditentry_append_only ON bookings_auditentry;
DROP FUNCTION bookings_auditentry_refuse_change();
"""

# Phone bookings are the bookings the clinic itself promises a slot for; calendar bookings
# mirror what Office 365 holds, overlaps and all, so they are only checked, never refused.
PHONE_BOOKINGS_NEVER_OVERLAP = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE bookings_booking ADD CONSTRAINT booking_phone_slot_free
    EXCLUDE USING gist (practitioner_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
    WHERE (kind = 'phone' AND status = 'booked');
"""
PHONE_BOOKINGS_NEVER_OVERLAP_REVERSE = "ALTER TABLE bookings_booking DROP CONSTRAINT booking_phone_slot_free;"


def _on_postgresql(sql: str):  # type: ignore[no-untyped-def]
    def run(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("bookings", "0005_audit_entry_and_follow_ups")]

    operations = [
        migrations.RunPython(_on_postgresql(AUDIT_APPEND_ONLY), _on_postgresql(AUDIT_APPEND_ONLY_REVERSE)),
        migrations.RunPython(
            _on_postgresql(PHONE_BOOKINGS_NEVER_OVERLAP), _on_postgresql(PHONE_BOOKINGS_NEVER_OVERLAP_REVERSE)
        ),
    ]
