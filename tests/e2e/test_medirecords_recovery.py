"""Once MediRecords answers again after an outage, every waiting booking goes in at once.

Two real worker processes push bookings to the MediRecords sandbox while it fails every call,
until each has failed four times; its next retry is then anywhere up to 32 s away, so that only
the resumption of the waiting syncs, not their own retries, brings all thirty in within the
deadline after the sandbox recovers.
"""

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from bookings.changes import booking_changed
from bookings.models import Booking, BookingKind, MediRecordsAvailability, Patient, PaymentStatus, SyncState
from medirecords.sandbox import SandboxServer
from tests.e2e.conftest import (
    medirecords_sandbox_settings,
    practice_with_sandbox_ids,
    requires_distributed_setup,
    wait_for,
)

pytestmark = [requires_distributed_setup, pytest.mark.django_db(transaction=True)]

SYDNEY = ZoneInfo("Australia/Sydney")
# The workers are other processes on the real clock: the bookings are a fortnight ahead of it.
_IN_A_FORTNIGHT = datetime.now(SYDNEY).date() + timedelta(days=14)
FIRST_DAY = datetime(_IN_A_FORTNIGHT.year, _IN_A_FORTNIGHT.month, _IN_A_FORTNIGHT.day, 9, 0, tzinfo=SYDNEY)
TOKEN = "e2e-recovery-token"
BOOKINGS = 30
FAILURES_EACH = 4
# After MediRecords answers again. Left to their own retries (up to 32 s away), thirty
# bookings would all be back within 20 s with a chance of (20/32) ** 30, about 1 in a million.
ALL_IN_WITHIN_SECONDS = 20


@pytest.fixture
def sandbox():
    with SandboxServer(token=TOKEN, faults={"error_rate": 1.0}) as server:
        yield server


@pytest.fixture
def sandbox_settings(settings, sandbox):
    return medirecords_sandbox_settings(settings, sandbox, token=TOKEN, retry_base_seconds="4", retry_max_seconds="600")


def bookings_for_new_patients() -> list[Booking]:
    practitioners = practice_with_sandbox_ids()
    bookings = []
    for number in range(BOOKINGS):
        practitioner = practitioners[number % len(practitioners)]
        patient = Patient.objects.create(
            first_name=f"Recovery{number}",
            last_name=f"Testpatient{number}",
            date_of_birth=date(1960, 1, 1) + timedelta(days=101 * number),
            email=f"recovery{number}@example.com.au",
        )
        local_start = FIRST_DAY + timedelta(hours=number // len(practitioners))
        starts_at = local_start.astimezone(UTC)
        bookings.append(
            Booking.objects.create(
                practitioner=practitioner,
                patient=patient,
                kind=BookingKind.PAID if practitioner.takes_payment else BookingKind.FREE_INITIAL,
                payment_status=PaymentStatus.PAID if practitioner.takes_payment else PaymentStatus.NOT_REQUIRED,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=practitioner.default_duration_minutes),
                o365_event_id=f"AAMkRecovery{number:05d}=",
            )
        )
    return bookings


def not_within(what: str, seconds: float) -> Callable[[], str]:
    """What did not happen in time, and the sync states the bookings were left in."""
    return lambda: f"{what} not within {seconds} s: {Counter(Booking.objects.values_list('sync_state', flat=True))}"


def test_every_waiting_booking_goes_in_soon_after_medirecords_answers_again(sandbox, sandbox_settings, start_worker):
    bookings = bookings_for_new_patients()
    with transaction.atomic():
        for booking in bookings:
            booking_changed(booking_id=booking.pk)
    start_worker(extra_environment=sandbox_settings)
    start_worker(extra_environment=sandbox_settings)
    wait_for(
        lambda: not Booking.objects.filter(sync_transient_failures__lt=FAILURES_EACH).exists(),
        seconds=120,
        describe=not_within(f"{FAILURES_EACH} failures of every booking", 120),
    )
    outage_began = MediRecordsAvailability.objects.get().unreachable_since
    assert outage_began is not None

    sandbox.set_faults(error_rate=0.0)
    answered_again = time.monotonic()
    wait_for(
        lambda: not Booking.objects.exclude(sync_state=SyncState.SYNCED).exists(),
        seconds=ALL_IN_WITHIN_SECONDS,
        describe=not_within("every booking in MediRecords", ALL_IN_WITHIN_SECONDS),
    )
    all_in = time.monotonic() - answered_again

    print(f"all {BOOKINGS} bookings in MediRecords {all_in:.1f} s after it answered again")
    assert len(sandbox.store.appointments()) == BOOKINGS
    assert len({booking.medirecords_appointment_id for booking in Booking.objects.all()}) == BOOKINGS
    availability = MediRecordsAvailability.objects.get()
    assert availability.unreachable_since is None
    assert availability.last_outage_began_at == outage_began
    assert availability.last_recovered_at is not None
