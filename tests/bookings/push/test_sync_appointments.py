"""The booking's appointment in the practitioner's MediRecords calendar: right time, once."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from bookings.changes import booking_changed
from bookings.models import BookingKind, BookingStatus, SyncState
from bookings.push import sync
from bookings.push.appointments import appointment_notes
from medirecords.sandbox import SANDBOX_PRACTITIONERS
from tests.bookings.factories import BookingFactory
from tests.bookings.sync_helpers import booking_at, new_person, requests_of, seed_medirecords_patient, sydney

pytestmark = pytest.mark.django_db


@pytest.fixture
def dr_dia(sandbox_practitioner):
    return sandbox_practitioner("dr-dia")


@pytest.mark.parametrize(
    "day",
    [
        # Clocks go forward at 02:00 on Sunday 4 October 2026, and back at 03:00 on Sunday 4 April 2027.
        (2026, 10, 3),
        (2026, 10, 4),
        (2026, 10, 5),
        (2027, 4, 3),
        (2027, 4, 4),
        (2027, 4, 5),
    ],
)
def test_the_appointment_is_at_the_practice_wall_time_on_both_sides_of_daylight_saving(sandbox, mr_client, dr_dia, day):
    starts_at = sydney(*day, hour=9, minute=30)
    booking = booking_at(dr_dia, starts_at.astimezone(UTC), patient=new_person())

    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    [appointment] = sandbox.store.appointments()
    year, month, date_of_month = day
    assert appointment["scheduleTime"] == f"{year}-{month:02d}-{date_of_month:02d}T09:30"


def test_notes_longer_than_medirecords_holds_are_cut_saying_so(sandbox, mr_client, sandbox_practitioner):
    nurse = sandbox_practitioner("nurse")
    reason = "Follow-up on bloods. " + "More detail. " * 100
    booking = booking_at(nurse, sydney(2026, 12, 8), minutes=30, patient=new_person(), reason=reason)

    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    [appointment] = sandbox.store.appointments()
    notes = appointment["notes"]
    assert len(notes) <= 500
    assert notes.startswith("Reason: Follow-up on bloods. More detail.")
    assert f"(cut to fit MediRecords: the full reason is on booking #{booking.pk})" in notes
    assert notes.endswith(f"(booking #{booking.pk}).")
    booking.refresh_from_db()
    assert booking.reason == reason


def test_the_notes_limit_is_a_setting_and_notes_within_it_are_whole(settings):
    booking = BookingFactory(reason="Follow-up on bloods")
    whole = appointment_notes(booking)
    assert whole.startswith("Reason: Follow-up on bloods\n")

    settings.MEDIRECORDS_NOTES_MAX_LENGTH = len(whole)
    assert appointment_notes(booking) == whole

    settings.MEDIRECORDS_NOTES_MAX_LENGTH = 150
    cut = appointment_notes(BookingFactory(reason="x" * 300))
    assert len(cut) == 150
    assert "[\u2026] (cut to fit MediRecords" in cut


def test_the_appointment_lands_in_the_practitioners_calendar_with_reminders_and_notes(
    sandbox, mr_client, sandbox_practitioner
):
    nurse = sandbox_practitioner("nurse")
    booking = booking_at(
        nurse,
        sydney(2026, 12, 8),
        minutes=30,
        patient=new_person(),
        reason="Follow-up on bloods. Card 4242 4242 4242 4242",
        stripe_payment_id="ch_3PaidWithCard",
        calendly_cancel_url="https://calendly.com/cancellations/abc",
    )

    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    booking.refresh_from_db()
    [appointment] = sandbox.store.appointments()
    assert booking.medirecords_appointment_id == appointment["id"]
    assert booking.sync_state == SyncState.SYNCED
    assert booking.synced_at is not None
    assert appointment["providerId"] == SANDBOX_PRACTITIONERS["nurse"]["provider_id"]
    assert appointment["appointmentTypeId"] == SANDBOX_PRACTITIONERS["nurse"]["appointment_type_id"]
    assert appointment["appointmentIntervalCode"] == int(mr_client.interval_code_for(30))
    assert appointment["appointmentStatus"] == 2
    assert appointment["patientId"] == booking.patient.medirecords_patient_id
    assert (appointment["emailReminder"], appointment["reminderMethod"], appointment["reminderType"]) == (True, 1, 1)
    assert "Follow-up on bloods." in appointment["notes"]
    assert "Calendly" in appointment["notes"]
    assert "4242" not in appointment["notes"]
    assert "ch_3PaidWithCard" not in appointment["notes"]


def test_reminder_settings_are_sent_as_configured(sandbox, mr_client, dr_dia, settings):
    settings.MEDIRECORDS_EMAIL_REMINDER = False
    settings.MEDIRECORDS_REMINDER_METHOD = "3"
    settings.MEDIRECORDS_REMINDER_TYPE = ""
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person(), kind=BookingKind.PHONE)

    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    [appointment] = sandbox.store.appointments()
    assert (appointment["emailReminder"], appointment["reminderMethod"], appointment["reminderType"]) == (
        False,
        3,
        None,
    )
    assert "phone booking" in appointment["notes"]


@pytest.mark.parametrize("minutes", [30, 45, 60])
def test_the_booking_length_becomes_the_interval_code(sandbox, mr_client, dr_dia, minutes):
    booking = booking_at(dr_dia, sydney(2026, 12, 8), minutes=minutes, patient=new_person())

    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    assert sandbox.store.appointments()[0]["appointmentIntervalCode"] == int(mr_client.interval_code_for(minutes))


def test_a_moved_booking_moves_the_appointment(sandbox, mr_client, dr_dia, django_capture_on_commit_callbacks):
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person())
    sync.booking_sync(booking_id=booking.pk, client=mr_client)
    appointment_id = booking.__class__.objects.get(pk=booking.pk).medirecords_appointment_id

    new_start = sydney(2026, 12, 9, hour=14, minute=15)
    booking.__class__.objects.filter(pk=booking.pk).update(starts_at=new_start, ends_at=new_start + timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        booking_changed(booking_id=booking.pk)

    [appointment] = sandbox.store.appointments()
    assert appointment["id"] == appointment_id
    assert appointment["scheduleTime"] == "2026-12-09T14:15"
    assert appointment["appointmentIntervalCode"] == int(mr_client.interval_code_for(60))
    assert [request["path"] for request in requests_of(sandbox, "PUT")] == [
        f"/v1/practices/{appointment['practiceId']}/appointments/{appointment_id}"
    ]
    booking.refresh_from_db()
    assert booking.sync_state == SyncState.SYNCED
    assert booking.sync_completed_generation == booking.sync_requested_generation == 1


def test_a_cancellation_that_overtakes_a_failed_move_cancels_at_the_latest_time_in_one_update(
    sandbox, mr_client, dr_dia
):
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person())
    sync.booking_sync(booking_id=booking.pk, client=mr_client)
    # Moved to the next afternoon, an hour long; MediRecords fails the move, so a retry is to come.
    new_start = sydney(2026, 12, 9, hour=14, minute=15)
    booking.__class__.objects.filter(pk=booking.pk).update(
        starts_at=new_start, ends_at=new_start + timedelta(hours=1), sync_state=SyncState.PENDING
    )
    sandbox.set_faults(fail_next=[{"status": 500, "count": 1, "method": "PUT"}])
    assert sync.booking_sync(booking_id=booking.pk, client=mr_client).retry_in_seconds is not None
    # Cancelled before the retry came.
    booking.__class__.objects.filter(pk=booking.pk).update(
        status=BookingStatus.CANCELLED, cancelled_at=timezone.now(), sync_state=SyncState.PENDING
    )
    puts_before = len(requests_of(sandbox, "PUT"))

    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    [appointment] = sandbox.store.appointments()
    assert appointment["appointmentStatus"] == 8
    assert appointment["scheduleTime"] == "2026-12-09T14:15"
    assert appointment["appointmentIntervalCode"] == int(mr_client.interval_code_for(60))
    assert len(requests_of(sandbox, "PUT")) == puts_before + 1
    booking.refresh_from_db()
    assert booking.sync_state == SyncState.SYNCED


def test_a_sync_with_nothing_changed_changes_nothing(sandbox, mr_client, dr_dia):
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person())
    sync.booking_sync(booking_id=booking.pk, client=mr_client)
    booking.__class__.objects.filter(pk=booking.pk).update(sync_state=SyncState.PENDING)

    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    assert requests_of(sandbox, "PUT") == []
    assert len(requests_of(sandbox, "POST")) == 2  # the patient and the appointment, once


def test_a_cancelled_booking_cancels_the_appointment(sandbox, mr_client, dr_dia, settings):
    settings.MEDIRECORDS_CANCELLATION_REASON_CODE = 4
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person())
    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    booking.__class__.objects.filter(pk=booking.pk).update(
        status=BookingStatus.CANCELLED, cancelled_at=timezone.now(), sync_state=SyncState.PENDING
    )
    sync.booking_sync(booking_id=booking.pk, client=mr_client)
    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    [appointment] = sandbox.store.appointments()
    assert appointment["appointmentStatus"] == 8
    # The reason is the configured code; its words go to the notes.
    assert appointment["cancellationReason"] == 4
    assert appointment["notes"].endswith("\nCancelled through the Office 365 calendar.")
    assert len(requests_of(sandbox, "PUT")) == 1
    booking.refresh_from_db()
    assert booking.sync_state == SyncState.SYNCED


def test_a_booking_whose_notes_are_full_is_still_cancelled_within_the_notes_limit(sandbox, mr_client, dr_dia):
    # The reason fills the notes to MediRecords' limit; the cancellation's words must still fit,
    # or a strict MediRecords refuses the cancellation and the slot stays booked.
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person(), reason="Follow-up " * 80)
    sync.booking_sync(booking_id=booking.pk, client=mr_client)
    [created] = sandbox.store.appointments()
    assert len(created["notes"]) == 500

    booking.__class__.objects.filter(pk=booking.pk).update(
        status=BookingStatus.CANCELLED, cancelled_at=timezone.now(), sync_state=SyncState.PENDING
    )
    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    [appointment] = sandbox.store.appointments()
    assert appointment["appointmentStatus"] == 8
    assert len(appointment["notes"]) <= 500
    # The booking's line, by which a lost create is found, and the cancellation's words stay whole.
    assert appointment["notes"].endswith(
        f"Booked through the Office 365 calendar (booking #{booking.pk}).\nCancelled through the Office 365 calendar."
    )
    booking.refresh_from_db()
    assert booking.sync_state == SyncState.SYNCED


def test_a_booking_cancelled_before_it_was_ever_pushed_creates_nothing(sandbox, mr_client, dr_dia):
    booking = booking_at(
        dr_dia, sydney(2026, 12, 8), patient=new_person(), status=BookingStatus.CANCELLED, cancelled_at=timezone.now()
    )

    result = sync.booking_sync(booking_id=booking.pk, client=mr_client)

    assert result.outcome == SyncState.SYNCED
    assert sandbox.requests == []
    booking.refresh_from_db()
    assert booking.sync_state == SyncState.SYNCED
    assert booking.medirecords_appointment_id == ""
    assert booking.patient.medirecords_patient_id == ""


def test_an_appointment_create_whose_answer_was_lost_is_adopted_not_repeated(sandbox, mr_client, dr_dia):
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person())
    sandbox.set_faults(fail_next=[{"drop": True, "count": 1, "method": "POST", "path_prefix": "/v1/practices"}])

    first = sync.booking_sync(booking_id=booking.pk, client=mr_client)
    assert first.retry_in_seconds is not None
    booking.refresh_from_db()
    assert booking.medirecords_appointment_id == ""
    assert booking.medirecords_create_attempted_at is not None

    second = sync.booking_sync(booking_id=booking.pk, client=mr_client)

    assert second.outcome == SyncState.SYNCED
    [appointment] = sandbox.store.appointments()
    booking.refresh_from_db()
    assert booking.medirecords_appointment_id == appointment["id"]
    assert len(requests_of(sandbox, "POST", "/v1/practices")) == 1
    assert len(requests_of(sandbox, "GET", "/v1/practices")) >= 1


def test_a_lost_create_then_a_cancellation_cancels_what_was_made(sandbox, mr_client, dr_dia):
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person())
    sandbox.set_faults(fail_next=[{"drop": True, "count": 1, "method": "POST", "path_prefix": "/v1/practices"}])
    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    booking.__class__.objects.filter(pk=booking.pk).update(status=BookingStatus.CANCELLED)
    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    [appointment] = sandbox.store.appointments()
    assert appointment["appointmentStatus"] == 8


def test_a_practitioner_without_medirecords_ids_needs_attention(sandbox, mr_client, sandbox_practitioner):
    ramona = sandbox_practitioner("ramona")
    ramona.medirecords_appointment_type_id = ""
    ramona.save()
    booking = booking_at(ramona, sydney(2026, 12, 8), minutes=60, patient=new_person())

    result = sync.booking_sync(booking_id=booking.pk, client=mr_client)

    assert result.outcome == SyncState.NEEDS_ATTENTION
    booking.refresh_from_db()
    assert "has no MediRecords appointment type id" in booking.sync_error
    assert sandbox.store.appointments() == []


def test_a_length_medirecords_has_no_code_for_needs_attention(sandbox, mr_client, dr_dia):
    booking = booking_at(dr_dia, sydney(2026, 12, 8), minutes=50, patient=new_person())

    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    booking.refresh_from_db()
    assert booking.sync_state == SyncState.NEEDS_ATTENTION
    assert "no appointment interval of 50 minutes" in booking.sync_error


def test_an_appointment_cancelled_in_medirecords_while_the_booking_stands_needs_attention(sandbox, mr_client, dr_dia):
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person())
    sync.booking_sync(booking_id=booking.pk, client=mr_client)
    booking.refresh_from_db()
    mr_client.appointment_cancel(booking.medirecords_appointment_id, reason_code=1, note="Patient rang")
    booking.__class__.objects.filter(pk=booking.pk).update(sync_state=SyncState.PENDING)

    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    booking.refresh_from_db()
    assert booking.sync_state == SyncState.NEEDS_ATTENTION
    assert "cancelled in MediRecords" in booking.sync_error


def test_the_patient_is_matched_before_the_appointment_is_made(sandbox, mr_client, dr_dia):
    existing = seed_medirecords_patient(mr_client)
    booking = booking_at(
        dr_dia, datetime(2026, 12, 8, 1, 0, tzinfo=UTC), patient=new_person(date_of_birth=existing.dob)
    )

    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    assert sandbox.store.appointments()[0]["patientId"] == existing.id
    assert sandbox.store.appointments()[0]["scheduleTime"] == "2026-12-08T12:00"
