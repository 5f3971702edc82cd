"""The audit trail: who did what to a booking, delivery or form submission, from where, what it was before and after.

Entries are written in the same transaction as the change they describe, so a change
without its entry (or an entry for a change that rolled back) cannot exist.
"""

from dataclasses import dataclass
from typing import Any

from axes.helpers import get_client_ip_address
from django.contrib.auth.models import User
from django.http import HttpRequest

from bookings.models import AuditAction, AuditEntry, Booking
from practitioners.practice_time import practice_local


@dataclass(frozen=True)
class AuditActor:
    """The member of staff acting, and the address the request came from."""

    user: User
    ip_address: str | None

    @classmethod
    def from_request(cls, request: HttpRequest) -> "AuditActor":
        user = request.user
        if not isinstance(user, User):
            raise ValueError("only a logged-in member of staff can act")  # noqa: TRY004 - nobody, not a wrong type
        address: str | None = get_client_ip_address(request)
        return cls(user=user, ip_address=address)


# What an entry records of a booking: enough to tell what changed, and nothing the
# booking does not itself hold.
AUDITED_BOOKING_FIELDS = (
    "practitioner",
    "patient",
    "kind",
    "starts_at",
    "ends_at",
    "status",
    "payment_status",
    "reason",
)


def booking_snapshot(booking: Booking) -> dict[str, Any]:
    """The booking's audited fields as readable values (times in the practice zone)."""
    return {
        "practitioner": str(booking.practitioner) if booking.practitioner_id else None,
        "patient": f"Patient #{booking.patient_id}" if booking.patient_id else None,
        "kind": booking.kind,
        "starts_at": practice_local(booking.starts_at).isoformat() if booking.starts_at else None,
        "ends_at": practice_local(booking.ends_at).isoformat() if booking.ends_at else None,
        "status": booking.status,
        "payment_status": booking.payment_status,
        "reason": booking.reason,
    }


def snapshot_changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the values that differ, before and after."""
    changed = [key for key in after if before.get(key) != after[key]]
    return {key: before.get(key) for key in changed}, {key: after[key] for key in changed}


def audit_record(
    *,
    actor: AuditActor,
    action: AuditAction,
    subject: str,
    booking: Booking | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEntry:
    """Append one entry to the audit trail."""
    return AuditEntry.objects.create(
        actor=actor.user,
        actor_username=actor.user.get_username(),
        ip_address=actor.ip_address,
        action=action,
        booking=booking,
        subject=subject,
        before=before or {},
        after=after or {},
        reason=reason,
    )
