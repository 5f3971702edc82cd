"""A booking changed by staff on its change form: saved, audited, and synced like any change.

Only the fields the form changed are written, so that what the sync has written to the same
row since the page was opened stays. The audit entry and the sync request are made in the
transaction that saves the change.
"""

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from bookings.audit import AUDITED_BOOKING_FIELDS, AuditActor, audit_record, booking_snapshot, snapshot_changes
from bookings.changes import booking_changed
from bookings.models import AuditAction, Booking

# Booking fields whose change the booking's MediRecords appointment has to follow.
FIELDS_MEDIRECORDS_HOLDS = frozenset({"practitioner", "patient", "starts_at", "ends_at", "status", "reason"})


def booking_edit_by_staff(*, booking: Booking, changed_fields: Iterable[str], actor: AuditActor) -> list[str]:
    """Save the fields staff changed on `booking` (which holds the new values), record the
    change in the audit trail, and have MediRecords follow it; returns the fields saved."""
    concrete = {field.name for field in Booking._meta.concrete_fields}
    changed = [name for name in changed_fields if name in concrete]
    if not changed:
        return []
    with transaction.atomic():
        stored = Booking.objects.select_related("practitioner").get(pk=booking.pk)
        booking.save(update_fields=[*changed, "updated_at"])
        before, after = booking_changes(stored, booking, changed=changed)
        if after:
            audit_record(
                actor=actor,
                action=AuditAction.BOOKING_CHANGED,
                subject=str(booking),
                booking=booking,
                before=before,
                after=after,
            )
        if set(changed) & FIELDS_MEDIRECORDS_HOLDS:
            booking_changed(booking_id=booking.pk)
    return changed


def booking_changes(
    stored: Booking, changed_to: Booking, *, changed: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a change form changed, before and after, for the audit trail: the audited
    snapshot's keys, and any other field changed by name and stored value."""
    others = [name for name in changed if name not in AUDITED_BOOKING_FIELDS]

    def values(booking: Booking) -> dict[str, Any]:
        fields = {name: booking._meta.get_field(name) for name in others}
        return booking_snapshot(booking) | {
            name: field.value_to_string(booking)  # type: ignore[union-attr]
            for name, field in fields.items()
        }

    return snapshot_changes(values(stored), values(changed_to))
