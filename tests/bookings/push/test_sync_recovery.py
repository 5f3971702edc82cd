"""When MediRecords comes back: the back-off is capped at minutes, and the syncs left waiting
on it go in at once, once, with the outage recorded from its first failure to its end."""

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings

from bookings.models import Booking, MediRecordsAvailability, SyncState
from bookings.push import sync, tasks
from bookings.push.outage import medirecords_answer_note, medirecords_failure_note, medirecords_unreachable_since
from config import backoff
from tests.bookings.sync_helpers import booking_at, new_person, requests_of, sydney

pytestmark = pytest.mark.django_db

# Before the failures; the bookings are for the week after.
OUTAGE_BEGINS = sydney(2026, 12, 1, hour=9, minute=0)
WAITING = 6


@pytest.fixture
def dr_dia(sandbox_practitioner):
    return sandbox_practitioner("dr-dia")


@pytest.fixture
def clock():
    with time_machine.travel(OUTAGE_BEGINS, tick=False) as traveller:
        yield traveller


@pytest.fixture
def longest_back_off(monkeypatch):
    """Full jitter drawn at its ceiling, so each retry is as far away as the back-off allows."""
    monkeypatch.setattr(backoff.random, "uniform", lambda low, high: high)


def people_booked(practitioner, count: int) -> list[Booking]:
    return [
        booking_at(
            practitioner,
            sydney(2026, 12, 8, hour=9) + timedelta(hours=number),
            patient=new_person(email=f"p{number}@example.com"),
        )
        for number in range(count)
    ]


def test_the_back_off_is_capped_at_a_few_minutes_by_default(longest_back_off):
    assert 60 <= django_settings.MEDIRECORDS_SYNC_RETRY_MAX_SECONDS <= 300
    assert sync.retry_delay_seconds(failures=30) == django_settings.MEDIRECORDS_SYNC_RETRY_MAX_SECONDS


def test_once_medirecords_answers_again_every_waiting_sync_goes_in_at_once(
    sandbox, mr_client, dr_dia, clock, longest_back_off, django_capture_on_commit_callbacks
):
    bookings = people_booked(dr_dia, WAITING)
    sandbox.set_faults(error_rate=1.0)
    for booking in bookings:
        assert sync.booking_sync(booking_id=booking.pk, client=mr_client).retry_in_seconds is not None
    clock.shift(timedelta(minutes=4))
    for booking in bookings:
        # Their second failure: each next retry is 20 s or more away.
        assert sync.booking_sync(booking_id=booking.pk, client=mr_client).retry_in_seconds is not None
    assert medirecords_unreachable_since() == OUTAGE_BEGINS

    clock.shift(timedelta(seconds=1))
    sandbox.set_faults(error_rate=0.0)
    with django_capture_on_commit_callbacks(execute=True):
        # The first booking's retry comes due; the others' are still ahead.
        first = sync.booking_sync(booking_id=bookings[0].pk, client=mr_client)

    assert first.ended_outage
    assert sorted(Booking.objects.values_list("sync_state", flat=True)) == [SyncState.SYNCED] * WAITING
    assert len(sandbox.store.appointments()) == WAITING
    availability = MediRecordsAvailability.objects.get()
    assert availability.unreachable_since is None
    assert availability.last_outage_began_at == OUTAGE_BEGINS
    assert availability.last_recovered_at == OUTAGE_BEGINS + timedelta(minutes=4, seconds=1)


def test_a_retry_that_another_run_overtook_does_nothing(sandbox, mr_client, dr_dia):
    [booking] = people_booked(dr_dia, 1)
    sandbox.set_faults(fail_next=[{"status": 503, "count": 1, "method": "POST"}])
    failed = sync.booking_sync(booking_id=booking.pk, client=mr_client)
    assert failed.retry_of == 1
    # Resumed after the outage, it synced before its own retry came.
    assert sync.booking_sync(booking_id=booking.pk, client=mr_client).outcome == SyncState.SYNCED
    calls = len(sandbox.requests)

    stale = sync.booking_sync(booking_id=booking.pk, client=mr_client, retry_of=failed.retry_of)

    assert stale.outcome == sync.SUPERSEDED
    assert len(sandbox.requests) == calls


def test_the_task_schedules_its_retry_with_the_failure_count_it_follows(sandbox, mr_client, dr_dia, monkeypatch):
    [booking] = people_booked(dr_dia, 1)
    sandbox.set_faults(fail_next=[{"status": 503, "count": 1, "method": "POST"}])
    scheduled = []

    def retry(**options):
        scheduled.append(options)
        return RuntimeError("retry")

    monkeypatch.setattr(tasks.booking_sync_task, "retry", retry)
    with pytest.raises(RuntimeError):
        tasks.booking_sync_task.run(booking.pk)

    [options] = scheduled
    assert options["args"] == (booking.pk,)
    assert options["kwargs"] == {"retry_of": 1}


def test_the_outage_keeps_its_first_failure_and_only_one_worker_ends_it(clock):
    medirecords_failure_note()
    clock.shift(timedelta(minutes=3))
    medirecords_failure_note()
    assert medirecords_unreachable_since() == OUTAGE_BEGINS
    assert MediRecordsAvailability.objects.get().last_failure_at == OUTAGE_BEGINS + timedelta(minutes=3)

    # Two workers see MediRecords answer: one ends the outage, the other learns nothing new.
    assert medirecords_answer_note() == OUTAGE_BEGINS
    assert medirecords_answer_note() is None
    assert medirecords_unreachable_since() is None


def test_a_short_outage_mixed_with_answers_leaves_the_waiting_syncs_to_their_back_off(
    sandbox, mr_client, dr_dia, clock, sync_requests
):
    first, second = people_booked(dr_dia, 2)
    sandbox.set_faults(fail_next=[{"status": 503, "count": 1, "method": "POST"}])
    sync.booking_sync(booking_id=second.pk, client=mr_client)
    clock.shift(timedelta(seconds=1))

    assert not sync.booking_sync(booking_id=first.pk, client=mr_client).ended_outage
    assert medirecords_unreachable_since() is None
    assert sync_requests == []


def test_the_probe_asks_only_while_medirecords_is_unreachable_and_resumes_the_waiting_syncs(
    sandbox, mr_client, dr_dia, clock, longest_back_off, django_capture_on_commit_callbacks
):
    assert sync.medirecords_probe(client=mr_client)
    assert sandbox.requests == []

    bookings = people_booked(dr_dia, 3)
    sandbox.set_faults(error_rate=1.0)
    for booking in bookings:
        sync.booking_sync(booking_id=booking.pk, client=mr_client)
    clock.shift(timedelta(seconds=15))
    assert not sync.medirecords_probe(client=mr_client)
    assert medirecords_unreachable_since() == OUTAGE_BEGINS
    for booking in bookings:
        # Their second failure: each next retry is 20 s away.
        sync.booking_sync(booking_id=booking.pk, client=mr_client)

    clock.shift(timedelta(seconds=5))
    sandbox.set_faults(error_rate=0.0)
    with django_capture_on_commit_callbacks(execute=True):
        assert sync.medirecords_probe(client=mr_client)

    assert medirecords_unreachable_since() is None
    assert sorted(Booking.objects.values_list("sync_state", flat=True)) == [SyncState.SYNCED] * 3
    assert len(requests_of(sandbox, "GET", "/v1/practices/")) >= 2


def test_the_waiting_syncs_are_resumed_in_bounded_batches_soonest_appointment_first(
    sandbox, mr_client, dr_dia, clock, longest_back_off, sync_requests, monkeypatch, django_capture_on_commit_callbacks
):
    bookings = people_booked(dr_dia, 5)
    sandbox.set_faults(error_rate=1.0)
    for booking in reversed(bookings):
        sync.booking_sync(booking_id=booking.pk, client=mr_client)
    medirecords_answer_note()
    resumes = []
    monkeypatch.setattr(tasks.booking_syncs_resume_task, "delay", lambda: resumes.append("next batch"))

    for expected in (2, 2, 1):
        with django_capture_on_commit_callbacks(execute=True):
            assert sync.booking_syncs_resume(limit=2) == expected

    assert sync_requests == [booking.pk for booking in bookings]
    # A full batch has the next one enqueued behind it; the last, short one does not.
    assert resumes == ["next batch", "next batch"]


def test_the_probe_takes_any_answer_but_a_failure_as_medirecords_being_back(sandbox, mr_client, clock):
    medirecords_failure_note()
    clock.shift(timedelta(minutes=1))
    sandbox.set_faults(fail_next=[{"status": 401, "count": 1}])

    assert sync.medirecords_probe(client=mr_client)
    assert medirecords_unreachable_since() is None
