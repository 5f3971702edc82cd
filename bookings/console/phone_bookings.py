"""Bookings staff make, move and cancel with a patient on the phone.
A phone booking is the clinic promising a slot, so a slot is given once: each service locks
the practitioner's row, so that bookings for one practitioner are made one at a time, then
looks for a clash, then writes. On PostgreSQL the exclusion constraint
`booking_phone_slot_free` refuses an overlapping phone booking whoever writes it; its refusal
is turned into the same `SlotTakenError` as our own check.

Every change is audited and handed to `booking_changed` in the transaction that makes
it, so MediRecords hears of it the way it hears of every booking.
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.audit import AuditActor, audit_record, booking_snapshot, snapshot_changes
from bookings.changes import booking_changed
from bookings.models import AuditAction, Booking, BookingKind, BookingStatus, Patient, PaymentStatus
from practitioners.models import Practitioner, PractitionerKind
from practitioners.practice_time import practice_local

logger = logging.getLogger("clinic.phone_bookings")

# The payments a receptionist can arrange on the phone; Stripe's own states come from Stripe.
PHONE_PAYMENT_STATUSES = (PaymentStatus.NOT_REQUIRED, PaymentStatus.TAKEN_BY_PHONE, PaymentStatus.PAY_AT_CLINIC)
SLOT_CONSTRAINT = "booking_phone_slot_free"
EN_DASH = "\u2013"


class PhoneBookingRefusedError(ValueError):
    """A refusal, not a failure: the booking cannot be made or changed as asked; the message says why, for staff.

    `field` names the argument at fault (`starts_at`, `follows`, `reason`, ...), or is None.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class SlotTakenError(PhoneBookingRefusedError):
    """A refusal: another booked booking of the practitioner overlaps the slot; `clash` is that booking."""

    def __init__(self, clash: Booking) -> None:
        super().__init__(
            f"{clash.practitioner} already has {clash} on {booking_when(clash.starts_at, clash.ends_at)}.",
            field="starts_at",
        )
        self.clash = clash


# --- Making, moving and cancelling -------------------------------------------------------


def phone_booking_create(
    *,
    practitioner: Practitioner,
    patient: Patient,
    starts_at: datetime,
    duration_minutes: int | None,
    reason: str,
    payment_status: PaymentStatus,
    follows: Booking | None,
    actor: AuditActor,
) -> Booking:
    """Book the patient with the practitioner, audit it, and have it synced to MediRecords.

    `patient` is one of ours, or an unsaved one (a new patient, or one read from MediRecords
    by `patient_from_medirecords`) that is saved with the booking. `duration_minutes` None is
    the practitioner's usual length. Raises `SlotTakenError` when the slot overlaps another booked
    booking of the practitioner, `PhoneBookingRefusedError` for anything else amiss.
    """
    if payment_status not in PHONE_PAYMENT_STATUSES:
        raise PhoneBookingRefusedError("Choose a payment arranged by phone.", field="payment_status")
    minutes = practitioner.default_duration_minutes if duration_minutes is None else duration_minutes
    ends_at = starts_at + _duration(minutes)
    _aware_check(starts_at)
    _future_check(starts_at)
    if follows is not None:
        _follows_check(follows=follows, patient=patient, starts_at=starts_at)

    with transaction.atomic():
        _practitioner_lock(practitioner)
        clash = slot_clash(practitioner_id=practitioner.pk, starts_at=starts_at, ends_at=ends_at)
        if clash is not None:
            raise SlotTakenError(clash)
        if patient.pk is None:
            patient = _patient_saved(patient)
        booking = Booking(
            practitioner=practitioner,
            patient=patient,
            kind=BookingKind.PHONE,
            status=BookingStatus.BOOKED,
            starts_at=starts_at,
            ends_at=ends_at,
            payment_status=payment_status,
            reason=reason.strip(),
            follows=follows,
        )
        _slot_write(booking, save=booking.save)
        audit_record(
            actor=actor,
            action=AuditAction.PHONE_BOOKING_CREATED,
            subject=str(booking),
            booking=booking,
            after=booking_snapshot(booking),
        )
        booking_changed(booking_id=booking.pk)
    logger.info("phone booking created", extra={"booking_id": booking.pk, "practitioner_id": practitioner.pk})
    booking.refresh_from_db()
    return booking


def phone_booking_move(
    *,
    booking: Booking,
    practitioner: Practitioner,
    starts_at: datetime,
    duration_minutes: int | None,
    reason: str,
    actor: AuditActor,
) -> Booking:
    """Move a phone booking to another time (or practitioner), for the reason staff give.

    `duration_minutes` None keeps the booking's length. Raises `SlotTakenError` for a clash with
    any booking but itself, `PhoneBookingRefusedError` for anything else amiss.
    """
    reason = _reason_required(reason, doing="moving")
    _aware_check(starts_at)
    with transaction.atomic():
        _practitioner_lock(practitioner)
        current = _phone_booking_locked(booking)
        if current.status != BookingStatus.BOOKED:
            raise PhoneBookingRefusedError(f"{current} is cancelled; a cancelled booking cannot be moved.")
        length = current.ends_at - current.starts_at if duration_minutes is None else _duration(duration_minutes)
        ends_at = starts_at + length
        _future_check(starts_at)
        if (current.practitioner_id, current.starts_at, current.ends_at) == (practitioner.pk, starts_at, ends_at):
            raise PhoneBookingRefusedError(f"{current} is already at that time with {practitioner}.", field="starts_at")
        clash = slot_clash(practitioner_id=practitioner.pk, starts_at=starts_at, ends_at=ends_at, excluding=current.pk)
        if clash is not None:
            raise SlotTakenError(clash)

        before = booking_snapshot(current)
        current.practitioner = practitioner
        current.starts_at = starts_at
        current.ends_at = ends_at
        current.rescheduled_at = timezone.now()
        current.reschedule_count += 1
        fields = ["practitioner", "starts_at", "ends_at", "rescheduled_at", "reschedule_count", "updated_at"]
        _slot_write(current, save=lambda: current.save(update_fields=fields))
        _audit_and_sync(current, before=before, action=AuditAction.BOOKING_MOVED, reason=reason, actor=actor)
    current.refresh_from_db()
    return current


def phone_booking_cancel(*, booking: Booking, reason: str, actor: AuditActor) -> Booking:
    """Cancel a phone booking, for the reason staff give; a booking is cancelled once."""
    reason = _reason_required(reason, doing="cancelling")
    with transaction.atomic():
        current = _phone_booking_locked(booking)
        if current.status == BookingStatus.CANCELLED:
            raise PhoneBookingRefusedError(f"{current} is cancelled already; nothing was changed.")
        before = booking_snapshot(current)
        current.status = BookingStatus.CANCELLED
        current.cancelled_at = timezone.now()
        current.save(update_fields=["status", "cancelled_at", "updated_at"])
        _audit_and_sync(current, before=before, action=AuditAction.BOOKING_CANCELLED, reason=reason, actor=actor)
    current.refresh_from_db()
    return current


def slot_clash(
    *, practitioner_id: int, starts_at: datetime, ends_at: datetime, excluding: int | None = None
) -> Booking | None:
    """The earliest booked booking of the practitioner overlapping [starts_at, ends_at), or None.

    Half-open intervals: an appointment ending at 14:30 leaves 14:30 free for the next.
    """
    overlapping = Booking.objects.filter(
        practitioner_id=practitioner_id, status=BookingStatus.BOOKED, starts_at__lt=ends_at, ends_at__gt=starts_at
    )
    if excluding is not None:
        overlapping = overlapping.exclude(pk=excluding)
    return overlapping.select_related("practitioner").order_by("starts_at", "pk").first()


def follows_refusal(*, follows: Booking, patient: Patient | None, starts_at: datetime | None) -> str | None:
    """Why `follows` cannot be the consultation a new booking follows, or None when it can.

    The patient is compared only when they are one of ours already: a new patient has no
    bookings to compare with.
    """
    if follows.status != BookingStatus.BOOKED:
        return f"{follows} is cancelled; choose a booked consultant appointment."
    if follows.practitioner.kind != PractitionerKind.CONSULTANT:
        return f"{follows} is with {follows.practitioner}, not a consultant."
    if patient is not None and patient.pk is not None and follows.patient_id != patient.pk:
        return f"{follows} is another patient's appointment."
    if starts_at is not None and follows.starts_at >= starts_at:
        return f"{follows} is not before this appointment; a follow-up comes after the consultation."
    return None


def past_start_refusal(*, starts_at: datetime) -> str | None:
    """Why a booking cannot start at `starts_at`, when that time has passed; None when it is to come.

    A time that has passed would reach MediRecords as an appointment nobody can attend, and
    the patient would be told nothing (appointments that have started are not confirmed).
    """
    if starts_at > timezone.now():
        return None
    start = practice_local(starts_at)
    return (
        f"{start:%a} {start.day} {start:%b %Y %H:%M} has already passed (practice time): a phone booking is "
        "for a time still to come. Check the date and choose a later time."
    )


def booking_when(starts_at: datetime, ends_at: datetime) -> str:
    """`Tue 1 Dec 2026 14:00` to `14:30` joined by an en dash, in the practice's time zone."""
    start, end = practice_local(starts_at), practice_local(ends_at)
    return f"{start:%a} {start.day} {start:%b %Y %H:%M}{EN_DASH}{end:%H:%M}"


# --- Helpers -----------------------------------------------------------------------------


def _practitioner_lock(practitioner: Practitioner) -> None:
    """Hold the practitioner's row until commit: their bookings are made one at a time."""
    Practitioner.objects.select_for_update().only("pk").get(pk=practitioner.pk)


def _phone_booking_locked(booking: Booking) -> Booking:
    current = Booking.objects.select_for_update().get(pk=booking.pk)
    if current.kind != BookingKind.PHONE:
        raise PhoneBookingRefusedError(
            f"{current} was not made by phone: it changes where it was made (Calendly or Office 365)."
        )
    return current


def _audit_and_sync(
    booking: Booking, *, before: dict[str, Any], action: AuditAction, reason: str, actor: AuditActor
) -> None:
    """Record what the change did (the values that differ) and tell MediRecords, in its transaction."""
    changed_before, changed_after = snapshot_changes(before, booking_snapshot(booking))
    audit_record(
        actor=actor,
        action=action,
        subject=str(booking),
        booking=booking,
        before=changed_before,
        after=changed_after,
        reason=reason,
    )
    booking_changed(booking_id=booking.pk)


def _slot_write(booking: Booking, *, save: Callable[[], None]) -> None:
    """Write the booking, turning PostgreSQL's refusal of an overlapping phone booking into `SlotTakenError`.

    In a savepoint, so the refusal leaves the transaction usable for looking the clash up.
    """
    try:
        with transaction.atomic():
            save()
    except IntegrityError as error:
        if SLOT_CONSTRAINT not in str(error):
            raise
        clash = slot_clash(
            practitioner_id=booking.practitioner_id,
            starts_at=booking.starts_at,
            ends_at=booking.ends_at,
            excluding=booking.pk,
        )
        if clash is None:
            raise
        raise SlotTakenError(clash) from error


def _patient_saved(patient: Patient) -> Patient:
    """Save a new patient; one read from MediRecords that another request saved meanwhile is reused."""
    try:
        with transaction.atomic():
            patient.save()
    except IntegrityError:
        if not patient.medirecords_patient_id:
            raise
        return Patient.objects.get(medirecords_patient_id=patient.medirecords_patient_id)
    return patient


def _follows_check(*, follows: Booking, patient: Patient, starts_at: datetime) -> None:
    refusal = follows_refusal(follows=follows, patient=patient, starts_at=starts_at)
    if refusal is None and patient.pk is None and patient.medirecords_patient_id:
        # Not saved yet, but possibly ours under another request's row by now.
        holder = Patient.objects.filter(medirecords_patient_id=patient.medirecords_patient_id).first()
        refusal = follows_refusal(follows=follows, patient=holder, starts_at=starts_at)
    if refusal is not None:
        raise PhoneBookingRefusedError(refusal, field="follows")


def _reason_required(reason: str, *, doing: str) -> str:
    reason = reason.strip()
    if not reason:
        raise PhoneBookingRefusedError(f"Give the reason for {doing} the booking.", field="reason")
    return reason


def _duration(minutes: int) -> timedelta:
    if minutes <= 0:
        raise PhoneBookingRefusedError("An appointment lasts at least a minute.", field="duration_minutes")
    return timedelta(minutes=minutes)


def _future_check(starts_at: datetime) -> None:
    refusal = past_start_refusal(starts_at=starts_at)
    if refusal is not None:
        raise PhoneBookingRefusedError(refusal, field="starts_at")


def _aware_check(moment: datetime) -> None:
    if timezone.is_naive(moment):
        raise ValueError("a naive datetime has no place in time; pass an aware one")
