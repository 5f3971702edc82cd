"""Staff decisions on a booking's sync: try again, or say who its MediRecords patient is.

Each decision ends by requesting a sync, so the booking carries on from where it stopped,
and leaves an entry in the audit trail, in the same transaction.
"""

from collections.abc import Iterable

from django.db import transaction

from bookings.audit import AuditActor, audit_record
from bookings.changes import booking_changed
from bookings.models import AuditAction, Booking, Patient, SyncOperation, SyncState
from bookings.push.attempts import attempt_recorded
from bookings.push.errors import BookingSyncError
from medirecords import MediRecordsClient, NotFoundError

RETRYABLE_STATES = (SyncState.PENDING, SyncState.NEEDS_ATTENTION, SyncState.NEEDS_REVIEW)


class PatientNotInMediRecordsError(BookingSyncError, ValueError):
    """A failure of the staff decision: the MediRecords patient id given does not exist there."""


def booking_sync_retry(*, booking_ids: Iterable[int], actor: AuditActor) -> int:
    """Start the sync of these bookings afresh (those not in MediRecords yet); returns how many."""
    with transaction.atomic():
        retryable = list(
            Booking.objects.filter(pk__in=list(booking_ids), sync_state__in=RETRYABLE_STATES).only("pk", "sync_state")
        )
        retried = [booking.pk for booking in retryable]
        for booking in retryable:
            audit_record(
                actor=actor,
                action=AuditAction.SYNC_RETRIED,
                subject=str(booking),
                booking=booking,
                before={"sync_state": booking.sync_state},
                after={"sync_state": SyncState.PENDING},
            )
        Booking.objects.filter(pk__in=retried).update(
            sync_state=SyncState.PENDING,
            sync_error="",
            sync_failing_since=None,
            sync_transient_failures=0,
            sync_retry_at=None,
        )
        for booking_id in retried:
            booking_changed(booking_id=booking_id)
    return len(retried)


def booking_patient_link(
    *, booking_id: int, medirecords_patient_id: str, client: MediRecordsClient, actor: AuditActor
) -> Booking:
    """Make the booking's patient the MediRecords patient staff chose, then sync the booking.

    The id is checked with MediRecords first (`PatientNotInMediRecordsError` when it has no such
    patient). When another of our patients already has that id, the booking moves to them.
    """
    medirecords_patient_id = medirecords_patient_id.strip()
    try:
        with attempt_recorded(booking_id=booking_id, operation=SyncOperation.PATIENT_GET):
            client.patient_get(medirecords_patient_id)
    except NotFoundError as missing:
        raise PatientNotInMediRecordsError(f"MediRecords has no patient {medirecords_patient_id}.") from missing

    with transaction.atomic():
        booking = Booking.objects.select_for_update().get(pk=booking_id)
        before = {
            "patient": f"Patient #{booking.patient_id}" if booking.patient_id else None,
            "medirecords_patient_id": booking.patient.medirecords_patient_id if booking.patient else "",
        }
        holder = Patient.objects.filter(medirecords_patient_id=medirecords_patient_id).first()
        if holder is not None:
            booking.patient = holder
        elif booking.patient is not None:
            booking.patient.medirecords_patient_id = medirecords_patient_id
            booking.patient.placeholder_fields = []
            booking.patient.save(update_fields=["medirecords_patient_id", "placeholder_fields", "updated_at"])
        else:
            raise ValueError("the booking has no patient to link")
        booking.patient_candidates = []
        booking.save(update_fields=["patient", "patient_candidates", "updated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.PATIENT_LINKED,
            subject=str(booking),
            booking=booking,
            before=before,
            after={"patient": f"Patient #{booking.patient_id}", "medirecords_patient_id": medirecords_patient_id},
        )
        booking_changed(booking_id=booking.pk)
    booking.refresh_from_db()
    return booking


def booking_patient_create_new(*, booking_id: int, actor: AuditActor) -> Booking:
    """Staff say the booking's patient is none of the candidates: create them, and don't ask again."""
    with transaction.atomic():
        booking = Booking.objects.select_for_update().get(pk=booking_id)
        if booking.patient is None:
            raise ValueError("the booking has no patient to create")
        Patient.objects.filter(pk=booking.patient.pk).update(medirecords_create_new=True)
        Booking.objects.filter(pk=booking.pk).update(patient_candidates=[])
        audit_record(
            actor=actor,
            action=AuditAction.PATIENT_CREATE_NEW,
            subject=str(booking),
            booking=booking,
            after={"patient": f"Patient #{booking.patient_id}", "medirecords_create_new": True},
        )
        booking_changed(booking_id=booking.pk)
    booking.refresh_from_db()
    return booking
