"""Bookings reach MediRecords exactly once, end to end.

Two real worker processes on PostgreSQL and Redis push 200 bookings across the five
practitioners to the MediRecords sandbox over HTTP; then the same with the sandbox failing,
rate limiting and dropping the response to a create.
"""

import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from bookings.changes import booking_changed
from bookings.models import Booking, BookingKind, Patient, PaymentStatus, SyncState
from medirecords.sandbox import SandboxServer
from practitioners.models import Practitioner
from tests.e2e.conftest import medirecords_sandbox_settings, practice_with_sandbox_ids, requires_distributed_setup

pytestmark = [requires_distributed_setup, pytest.mark.django_db(transaction=True)]

SYDNEY = ZoneInfo("Australia/Sydney")
TOKEN = "e2e-sandbox-token"
BOOKINGS = 200
PEOPLE = 150  # the last 50 bookings are people booking a second time


@pytest.fixture
def sandbox():
    with SandboxServer(token=TOKEN) as server:
        yield server


@pytest.fixture
def sandbox_settings(settings, sandbox):
    # Retries in seconds rather than minutes, so the faulty run settles within the test.
    return medirecords_sandbox_settings(settings, sandbox, token=TOKEN, retry_base_seconds="0.2", retry_max_seconds="2")


def bookings_across_the_practice(practitioners: list[Practitioner]) -> list[Booking]:
    """200 bookings on weekdays in December, each practitioner's back to back, no overlaps."""
    people = [
        Patient.objects.create(
            first_name=f"Person{number}",
            last_name=f"Testpatient{number}",
            date_of_birth=date(1950, 1, 1) + timedelta(days=97 * number),
            email=f"person{number}@example.com.au",
            mobile=f"+6141{number:07d}",
        )
        for number in range(PEOPLE)
    ]
    bookings = []
    for number in range(BOOKINGS):
        practitioner = practitioners[number % len(practitioners)]
        slot = number // len(practitioners)
        day = date(2026, 12, 1) + timedelta(days=slot // 8)
        local_start = datetime(day.year, day.month, day.day, 9, 0, tzinfo=SYDNEY) + timedelta(hours=slot % 8)
        starts_at = local_start.astimezone(UTC)
        bookings.append(
            Booking.objects.create(
                practitioner=practitioner,
                patient=people[number % PEOPLE],
                kind=BookingKind.PAID if practitioner.takes_payment else BookingKind.FREE_INITIAL,
                payment_status=PaymentStatus.PAID if practitioner.takes_payment else PaymentStatus.NOT_REQUIRED,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=practitioner.default_duration_minutes),
                reason="Follow-up",
                o365_event_id=f"AAMkE2E{number:05d}=",
            )
        )
    return bookings


def request_sync_of_all(bookings: list[Booking]) -> None:
    with transaction.atomic():
        for booking in bookings:
            booking_changed(booking_id=booking.pk)


def wait_until_all_synced(*, seconds: float) -> None:
    """Poll the outcome the worker processes write, with a deadline."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not Booking.objects.exclude(sync_state=SyncState.SYNCED).exists():
            return
        time.sleep(0.25)
    states = Counter(Booking.objects.values_list("sync_state", flat=True))
    raise AssertionError(f"not every booking synced within {seconds} s: {states}")


def assert_exactly_one_appointment_each(sandbox, bookings: list[Booking]) -> None:
    appointments = {appointment["id"]: appointment for appointment in sandbox.store.appointments()}
    assert len(appointments) == BOOKINGS
    seen = set()
    for booking in Booking.objects.select_related("practitioner", "patient").order_by("pk"):
        assert booking.patient is not None
        appointment = appointments[booking.medirecords_appointment_id]
        assert appointment["providerId"] == booking.practitioner.medirecords_provider_id
        assert appointment["patientId"] == booking.patient.medirecords_patient_id
        assert appointment["scheduleTime"] == booking.starts_at.astimezone(SYDNEY).strftime("%Y-%m-%dT%H:%M")
        seen.add(booking.medirecords_appointment_id)
    assert len(seen) == BOOKINGS
    # A person booking twice is one patient.
    assert len(sandbox.store.patients()) == PEOPLE
    assert (
        Patient.objects.exclude(medirecords_patient_id="").values("medirecords_patient_id").distinct().count() == PEOPLE
    )


def test_200_bookings_become_exactly_200_appointments(sandbox, sandbox_settings, start_worker):
    bookings = bookings_across_the_practice(practice_with_sandbox_ids())
    request_sync_of_all(bookings)
    start_worker(extra_environment=sandbox_settings)
    start_worker(extra_environment=sandbox_settings)

    wait_until_all_synced(seconds=120)
    assert_exactly_one_appointment_each(sandbox, bookings)


def test_the_same_through_errors_rate_limits_and_a_lost_response(sandbox, sandbox_settings, start_worker):
    bookings = bookings_across_the_practice(practice_with_sandbox_ids())
    sandbox.set_faults(
        seed=7,
        error_rate=0.3,
        rate_limit_rate=0.1,
        retry_after_seconds=1,
        fail_next=[{"drop": True, "count": 1, "method": "POST", "path_prefix": "/v1/practices"}],
    )
    request_sync_of_all(bookings)
    start_worker(extra_environment=sandbox_settings)
    start_worker(extra_environment=sandbox_settings)

    wait_until_all_synced(seconds=300)
    sandbox.set_faults(error_rate=0.0, rate_limit_rate=0.0)
    dropped = [seen for seen in sandbox.requests if seen["status"] == "dropped"]
    assert dropped, "the lost response must actually have happened"
    assert_exactly_one_appointment_each(sandbox, bookings)
