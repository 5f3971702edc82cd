"""The booking's appointment in its practitioner's MediRecords calendar: created once, moved, cancelled.

A booking has at most one MediRecords appointment, whatever the retries, duplicate tasks or
lost answers. The caller holds the booking's lease, so no other worker pushes it meanwhile;
the time of a create is committed before the request is sent, and when a create may have
happened without our hearing of it, the practitioner's book is searched at that time for the
patient's appointment before anything is created. The id is stored the moment it is known.
"""

import re
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.utils import timezone

from bookings.descriptions import BookingOrigin, booking_origin
from bookings.models import Booking, BookingStatus, SyncOperation
from bookings.push.attempts import attempt_recorded
from bookings.push.errors import SyncNeedsAttentionError
from medirecords import (
    Appointment,
    AppointmentStatus,
    MediRecordsClient,
    NewAppointment,
    NotFoundError,
    Reminders,
    UnknownIntervalError,
)
from medirecords.schedule_time import to_schedule_time

# The window searched around the time a create was sent, to find what it may have made.
LOOKUP_MARGIN = timedelta(minutes=1)
# Long runs of digits (a card number typed into the reason) never reach MediRecords.
_CARD_LIKE_NUMBER = re.compile(r"(?:\d[ -]?){12,18}\d")


class AppointmentChange(StrEnum):
    CREATED = "created"
    ADOPTED = "adopted"
    RESCHEDULED = "rescheduled"
    UPDATED = "updated"
    CANCELLED = "cancelled"
    UNCHANGED = "unchanged"
    # Cancelled before it ever reached MediRecords: there is nothing to create or cancel.
    NOT_REQUIRED = "not_required"


def appointment_push(*, booking: Booking, patient_id: str | None, client: MediRecordsClient) -> AppointmentChange:
    """Make the booking's MediRecords appointment agree with it; returns what changed.

    `patient_id` is the booking's MediRecords patient; a cancelled booking may have none.
    Raises `SyncNeedsAttentionError` for what a person must fix, and MediRecords' errors as they come.
    """
    adopted = False
    if not booking.medirecords_appointment_id and booking.medirecords_create_attempted_at and patient_id:
        earlier = _created_earlier(booking, patient_id=patient_id, client=client)
        if earlier is not None:
            _appointment_id_store(booking, earlier.id)
            adopted = True

    cancelled = booking.status == BookingStatus.CANCELLED
    if not booking.medirecords_appointment_id:
        if cancelled or not patient_id:
            return AppointmentChange.NOT_REQUIRED
        _appointment_create(booking, patient_id=patient_id, client=client)
        return AppointmentChange.CREATED

    current = _appointment_get(booking, client=client)
    if cancelled:
        if current.status == AppointmentStatus.CANCELLED:
            return AppointmentChange.ADOPTED if adopted else AppointmentChange.UNCHANGED
        # The booking's latest time goes with the cancellation, in the same update: a move that
        # failed and was then overtaken by the cancellation must not leave it at its old time.
        with attempt_recorded(booking_id=booking.pk, operation=SyncOperation.APPOINTMENT_CANCEL):
            client.appointment_cancel(
                current.id,
                reason_code=settings.MEDIRECORDS_CANCELLATION_REASON_CODE,
                note=_cancellation_note(booking),
                starts_at=booking.starts_at,
                interval_code=_interval_code_if_known(booking, client=client),
            )
        return AppointmentChange.CANCELLED
    if current.status == AppointmentStatus.CANCELLED:
        raise SyncNeedsAttentionError(
            "The appointment was cancelled in MediRecords but the booking stands: book it again in MediRecords "
            "by hand, or cancel the booking."
        )
    return _appointment_align(booking, current, patient_id=patient_id, client=client, adopted=adopted)


def appointment_reminders() -> Reminders:
    """The reminder fields from settings (MEDIRECORDS_EMAIL_REMINDER, _REMINDER_METHOD, _REMINDER_TYPE)."""
    return Reminders(
        email_reminder=settings.MEDIRECORDS_EMAIL_REMINDER,
        reminder_method=_code_or_none(settings.MEDIRECORDS_REMINDER_METHOD),
        reminder_type=_code_or_none(settings.MEDIRECORDS_REMINDER_TYPE),
    )


def appointment_notes(booking: Booking) -> str:
    """What the practitioner reads on the appointment: the reason and where the booking came from.

    At most MEDIRECORDS_NOTES_MAX_LENGTH characters: a longer reason is cut, and the notes say
    so and where the whole of it is. The last line is never cut: a lost create is found by it.
    """
    source = f"Booked through {_source(booking)} (booking #{booking.pk})."
    reason = _CARD_LIKE_NUMBER.sub("[number removed]", booking.reason.strip())
    if not reason:
        return source
    line = f"Reason: {reason}"
    room = settings.MEDIRECORDS_NOTES_MAX_LENGTH - len(source) - len("\n")
    if len(line) > room:
        mark = f" [\u2026] (cut to fit MediRecords: the full reason is on booking #{booking.pk})"
        kept = room - len(mark)
        line = line[:kept].rstrip() + mark if kept > len("Reason: ") else ""
    return f"{line}\n{source}" if line else source


def _appointment_create(booking: Booking, *, patient_id: str, client: MediRecordsClient) -> None:
    provider_id, appointment_type_id = _calendar_of(booking)
    interval_code = _interval_code(booking, client=client)
    appointment = NewAppointment(
        patient_id=patient_id,
        provider_id=provider_id,
        appointment_type_id=appointment_type_id,
        starts_at=booking.starts_at,
        interval_code=interval_code,
        status=AppointmentStatus.BOOKED,
        notes=appointment_notes(booking),
        reminders=appointment_reminders(),
    )
    attempted_at = timezone.now()
    # Committed before the request: if its answer is lost, the next attempt looks first.
    Booking.objects.filter(pk=booking.pk).update(
        medirecords_create_attempted_at=attempted_at, medirecords_create_attempted_for=booking.starts_at
    )
    booking.medirecords_create_attempted_at = attempted_at
    booking.medirecords_create_attempted_for = booking.starts_at
    with attempt_recorded(booking_id=booking.pk, operation=SyncOperation.APPOINTMENT_CREATE):
        created = client.appointment_create(appointment)
    _appointment_id_store(booking, created.id)


def _appointment_align(
    booking: Booking, current: Appointment, *, patient_id: str | None, client: MediRecordsClient, adopted: bool
) -> AppointmentChange:
    """Move the appointment to the booking's time and length, and to its patient, if they differ."""
    interval_code = _interval_code(booking, client=client)
    change = AppointmentChange.ADOPTED if adopted else AppointmentChange.UNCHANGED
    # Compared as wall time, as MediRecords holds it: the hour repeated when clocks go back reads
    # back as its first occurrence.
    wall_time = to_schedule_time(booking.starts_at, time_zone=client.time_zone)
    if current.raw.get("scheduleTime") != wall_time or current.interval_code != interval_code:
        with attempt_recorded(booking_id=booking.pk, operation=SyncOperation.APPOINTMENT_RESCHEDULE):
            client.appointment_reschedule(current.id, starts_at=booking.starts_at, interval_code=interval_code)
        change = AppointmentChange.RESCHEDULED
    if patient_id and current.patient_id != patient_id:
        with attempt_recorded(booking_id=booking.pk, operation=SyncOperation.APPOINTMENT_UPDATE):
            client.appointment_update(current.id, {"patientId": patient_id})
        change = AppointmentChange.UPDATED
    return change


def _created_earlier(booking: Booking, *, patient_id: str, client: MediRecordsClient) -> Appointment | None:
    """The patient's live appointment in the practitioner's book at the time a create was sent."""
    provider_id = booking.practitioner.medirecords_provider_id
    if not provider_id:
        return None
    times = dict.fromkeys(moment for moment in (booking.medirecords_create_attempted_for, booking.starts_at) if moment)
    for moment in times:
        with attempt_recorded(booking_id=booking.pk, operation=SyncOperation.APPOINTMENT_LOOKUP):
            found = client.appointments_list(
                start=moment - LOOKUP_MARGIN, end=moment + LOOKUP_MARGIN, provider_id=provider_id, patient_id=patient_id
            )
        live = [appointment for appointment in found if appointment.status != AppointmentStatus.CANCELLED]
        ours = [appointment for appointment in live if f"(booking #{booking.pk})" in (appointment.notes or "")]
        if ours or live:
            return (ours or live)[0]
    return None


def _appointment_get(booking: Booking, *, client: MediRecordsClient) -> Appointment:
    try:
        with attempt_recorded(booking_id=booking.pk, operation=SyncOperation.APPOINTMENT_GET):
            return client.appointment_get(booking.medirecords_appointment_id)
    except NotFoundError as missing:
        raise SyncNeedsAttentionError(
            f"Appointment {booking.medirecords_appointment_id} is no longer in MediRecords: "
            "book it again there by hand, or cancel the booking."
        ) from missing


def _appointment_id_store(booking: Booking, appointment_id: str) -> None:
    Booking.objects.filter(pk=booking.pk).update(medirecords_appointment_id=appointment_id)
    booking.medirecords_appointment_id = appointment_id


def _calendar_of(booking: Booking) -> tuple[str, str]:
    practitioner = booking.practitioner
    missing = [
        label
        for label, value in (
            ("provider id", practitioner.medirecords_provider_id),
            ("appointment type id", practitioner.medirecords_appointment_type_id),
        )
        if not value
    ]
    if missing:
        raise SyncNeedsAttentionError(
            f"{practitioner} has no MediRecords {' or '.join(missing)}: set it on the practitioner, then retry."
        )
    return practitioner.medirecords_provider_id, practitioner.medirecords_appointment_type_id


def _interval_code(booking: Booking, *, client: MediRecordsClient) -> str:
    """The code of the booking's length; a length MediRecords has no code for raises UnknownIntervalError."""
    # Read once per client and kept, so not recorded as an attempt of this booking's.
    return client.interval_code_for(_minutes(booking.starts_at, booking.ends_at))


def _interval_code_if_known(booking: Booking, *, client: MediRecordsClient) -> str | None:
    """The code of the booking's length, or None (keep MediRecords' length) when it has none:
    a cancellation must not fail for a length only the move would have needed."""
    try:
        return _interval_code(booking, client=client)
    except UnknownIntervalError:
        return None


def _minutes(start: datetime, end: datetime) -> int:
    return int((end - start) / timedelta(minutes=1))


def _source(booking: Booking) -> str:
    """Where the booking came from, in the appointment's notes."""
    origin = booking_origin(booking)
    if origin == BookingOrigin.PHONE:
        return "a phone booking"
    if origin == BookingOrigin.CALENDLY:
        return "Calendly (Office 365 calendar)"
    # Every booking not made by phone reached us through an Office 365 calendar, whatever it shows.
    return "the Office 365 calendar"


def _cancellation_note(booking: Booking) -> str:
    """The words of the cancellation, for the appointment's notes (its reason is a code)."""
    return f"Cancelled through {_source(booking)}."


def _code_or_none(value: str) -> int | None:
    return int(value) if value.strip() else None
