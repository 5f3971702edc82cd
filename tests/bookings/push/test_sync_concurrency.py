"""Many workers at once: still one MediRecords patient per person and one appointment per booking."""

import threading

import pytest
from django.db import connection

from bookings.models import Booking, SyncState
from bookings.push import sync
from medirecords import MediRecordsClient
from medirecords.sandbox import PRACTICE_ID
from tests.bookings.conftest import SANDBOX_TOKEN
from tests.bookings.sync_helpers import booking_at, new_person, sydney
from tests.conftest import requires_postgresql

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]


def a_client(sandbox) -> MediRecordsClient:
    """One client per thread, as each worker process has its own."""
    return MediRecordsClient(
        sandbox.api_url, SANDBOX_TOKEN, PRACTICE_ID, backoff_seconds=0.01, sleep=lambda seconds: None
    )


def run_at_once(sandbox, booking_ids: list[int]) -> list[BaseException]:
    barrier = threading.Barrier(len(booking_ids))
    errors: list[BaseException] = []

    def sync_once(booking_id: int) -> None:
        try:
            client = a_client(sandbox)
            barrier.wait(timeout=10)
            sync.booking_sync(booking_id=booking_id, client=client)
        except BaseException as error:  # noqa: BLE001 - reported in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sync_once, args=(booking_id,)) for booking_id in booking_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def test_five_concurrent_syncs_of_one_booking_make_one_patient_and_one_appointment(
    sandbox, sandbox_practitioner, sync_requests
):
    # Slow answers widen the window in which the workers overlap.
    sandbox.set_faults(latency_ms=50)
    booking = booking_at(sandbox_practitioner("dr-dia"), sydney(2026, 12, 8), patient=new_person())

    errors = run_at_once(sandbox, [booking.pk] * 5)

    assert errors == []
    assert len(sandbox.store.patients()) == 1
    [appointment] = sandbox.store.appointments()
    booking.refresh_from_db()
    assert booking.sync_state == SyncState.SYNCED
    assert booking.medirecords_appointment_id == appointment["id"]
    assert booking.sync_lease_until is None


def test_two_bookings_of_one_new_person_synced_at_once_make_one_patient(sandbox, sandbox_practitioner, sync_requests):
    sandbox.set_faults(latency_ms=50)
    patient = new_person()
    first = booking_at(sandbox_practitioner("dr-dia"), sydney(2026, 12, 8), patient=patient)
    second = booking_at(sandbox_practitioner("nurse"), sydney(2026, 12, 9), minutes=30, patient=patient)

    errors = run_at_once(sandbox, [first.pk, second.pk])

    assert errors == []
    [created] = sandbox.store.patients()
    assert len(sandbox.store.appointments()) == 2
    assert {appointment["patientId"] for appointment in sandbox.store.appointments()} == {created["id"]}
    assert set(Booking.objects.values_list("sync_state", flat=True)) == {SyncState.SYNCED}
