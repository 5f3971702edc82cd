"""What the sync does when MediRecords fails: retry what may pass, stop and say so otherwise."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.changes import booking_changed
from bookings.models import Booking, SyncAttempt, SyncOperation, SyncOutcome, SyncState
from bookings.push import sync, tasks
from bookings.push.review import booking_sync_retry
from medirecords import RateLimitedError, ServerError
from medirecords.sandbox import SANDBOX_PRACTITIONERS
from tests.bookings.sync_helpers import booking_at, new_person, requests_of, sydney

pytestmark = pytest.mark.django_db


@pytest.fixture
def dr_dia(sandbox_practitioner):
    return sandbox_practitioner("dr-dia")


@pytest.fixture
def eager_retries():
    """Let Celery run the task's retries in-process (propagating would raise the first `Retry`)."""
    from config.celery import app as celery_app

    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = True


def test_a_server_error_is_retried_by_the_task_until_it_succeeds(
    sandbox, mr_client, dr_dia, django_capture_on_commit_callbacks, eager_retries
):
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person())
    sandbox.set_faults(fail_next=[{"status": 500, "count": 2, "method": "POST", "path_prefix": "/v1/practices"}])

    with django_capture_on_commit_callbacks(execute=True):
        booking_changed(booking_id=booking.pk)

    booking.refresh_from_db()
    assert booking.sync_state == SyncState.SYNCED
    assert booking.sync_error == ""
    assert booking.sync_transient_failures == 0
    assert len(sandbox.store.appointments()) == 1
    creates = SyncAttempt.objects.filter(booking=booking, operation=SyncOperation.APPOINTMENT_CREATE)
    assert list(creates.order_by("pk").values_list("outcome", "http_status")) == [
        (SyncOutcome.TRANSIENT, 500),
        (SyncOutcome.TRANSIENT, 500),
        (SyncOutcome.OK, None),
    ]


def test_a_rate_limited_create_is_retried_and_completes(
    sandbox, mr_client, dr_dia, django_capture_on_commit_callbacks, eager_retries
):
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person())
    sandbox.set_faults(
        fail_next=[{"status": 429, "count": 1, "method": "POST", "path_prefix": "/v1/patients", "retry_after": 7}]
    )

    with django_capture_on_commit_callbacks(execute=True):
        booking_changed(booking_id=booking.pk)

    booking.refresh_from_db()
    assert booking.sync_state == SyncState.SYNCED
    assert len(sandbox.store.patients()) == 1
    assert SyncAttempt.objects.filter(outcome=SyncOutcome.TRANSIENT, http_status=429).count() == 1


def test_a_transient_failure_schedules_a_retry_after_the_back_off(sandbox, mr_client, dr_dia, settings):
    settings.MEDIRECORDS_SYNC_RETRY_BASE_SECONDS = 10
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person())
    sandbox.set_faults(fail_next=[{"status": 503, "count": 1, "method": "POST"}])

    result = sync.booking_sync(booking_id=booking.pk, client=mr_client)

    assert result.outcome == SyncState.PENDING
    assert 0 <= result.retry_in_seconds <= 10
    booking.refresh_from_db()
    assert booking.sync_state == SyncState.PENDING
    assert booking.sync_transient_failures == 1
    assert booking.sync_failing_since is not None
    assert booking.sync_retry_at is not None
    assert booking.sync_error.startswith("Will retry:")
    assert booking.sync_lease_until is None


def test_back_off_grows_exponentially_with_full_jitter_up_to_the_cap(settings):
    settings.MEDIRECORDS_SYNC_RETRY_BASE_SECONDS = 10
    settings.MEDIRECORDS_SYNC_RETRY_MAX_SECONDS = 3600
    for failures, ceiling in ((1, 10), (2, 20), (5, 160), (20, 3600)):
        delays = [sync.retry_delay_seconds(failures=failures) for _ in range(200)]
        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling / 2
    limited = RateLimitedError("rate limited", retry_after=120)
    assert sync.retry_delay_seconds(failures=1, error=limited) >= 120
    assert sync.retry_delay_seconds(failures=1, error=ServerError("boom", status=500)) <= 10


def test_failures_past_the_retry_horizon_need_attention(sandbox, mr_client, dr_dia, settings):
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person())
    Booking.objects.filter(pk=booking.pk).update(
        sync_failing_since=timezone.now() - timedelta(seconds=settings.MEDIRECORDS_SYNC_RETRY_HORIZON_SECONDS + 1),
        sync_transient_failures=40,
    )
    sandbox.set_faults(fail_next=[{"status": 500, "count": 1, "method": "POST"}])

    result = sync.booking_sync(booking_id=booking.pk, client=mr_client)

    assert result.outcome == SyncState.NEEDS_ATTENTION
    assert result.retry_in_seconds is None
    booking.refresh_from_db()
    assert booking.sync_state == SyncState.NEEDS_ATTENTION
    assert booking.sync_error.startswith("MediRecords kept failing for 24 hours")
    assert "500" in booking.sync_error


def test_a_refused_appointment_needs_attention_until_fixed_and_retried(
    sandbox, mr_client, sandbox_practitioner, django_capture_on_commit_callbacks, staff_actor
):
    doctor = sandbox_practitioner("doctor-2", medirecords_provider_id="10000000-0000-4000-8000-999999999999")
    booking = booking_at(doctor, sydney(2026, 12, 8), patient=new_person())

    with django_capture_on_commit_callbacks(execute=True):
        booking_changed(booking_id=booking.pk)

    booking.refresh_from_db()
    assert booking.sync_state == SyncState.NEEDS_ATTENTION
    assert booking.sync_error == (
        "MediRecords refused: providerId: No Provider for id: 10000000-0000-4000-8000-999999999999"
    )
    attempt = SyncAttempt.objects.get(booking=booking, operation=SyncOperation.APPOINTMENT_CREATE)
    assert (attempt.outcome, attempt.http_status) == (SyncOutcome.FAILED, 400)

    doctor.medirecords_provider_id = SANDBOX_PRACTITIONERS["doctor-2"]["provider_id"]
    doctor.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert booking_sync_retry(booking_ids=[booking.pk], actor=staff_actor) == 1

    booking.refresh_from_db()
    assert booking.sync_state == SyncState.SYNCED
    assert booking.sync_error == ""
    [appointment] = sandbox.store.appointments()
    assert booking.medirecords_appointment_id == appointment["id"]
    # The refused create was looked for before creating again, and only one exists.
    assert len(requests_of(sandbox, "POST", "/v1/practices")) == 2
    [entry] = booking.audit_entries.all()
    assert (entry.action, entry.before, entry.after) == (
        "sync_retried",
        {"sync_state": "needs_attention"},
        {"sync_state": "pending"},
    )


def test_an_unexpected_value_error_in_the_push_is_a_bug_left_for_the_sweep_not_needs_attention(
    sandbox, mr_client, dr_dia, monkeypatch, settings, sync_requests, django_capture_on_commit_callbacks
):
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person())

    def push_with_a_bug(**_arguments):
        raise ValueError("a bug in the push")

    monkeypatch.setattr(sync, "appointment_push", push_with_a_bug)

    with pytest.raises(ValueError, match="a bug in the push"):
        sync.booking_sync(booking_id=booking.pk, client=mr_client)

    booking.refresh_from_db()
    assert booking.sync_state == SyncState.PENDING
    assert booking.sync_error == ""
    assert booking.sync_lease_until is None
    later = timezone.now() + timedelta(seconds=settings.INBOX_SWEEP_AGE_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        sync.booking_sync_sweep(now=later)
    assert sync_requests == [booking.pk]


def test_sync_attempts_and_errors_hold_no_patient_data(sandbox, mr_client, dr_dia):
    patient = new_person(first_name="Zebedee", last_name="Quixote", email="zq@example.com.au")
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=patient)
    sandbox.set_faults(fail_next=[{"status": 400, "count": 1, "method": "POST", "path_prefix": "/v1/patients"}])

    sync.booking_sync(booking_id=booking.pk, client=mr_client)
    Booking.objects.filter(pk=booking.pk).update(sync_state=SyncState.PENDING)
    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    attempts = list(SyncAttempt.objects.filter(booking=booking).values())
    assert {attempt["operation"] for attempt in attempts} >= {
        SyncOperation.PATIENT_LOOKUP_EMAIL,
        SyncOperation.PATIENT_CREATE,
        SyncOperation.APPOINTMENT_CREATE,
    }
    recorded = repr(attempts) + Booking.objects.get(pk=booking.pk).sync_error
    for value in ("Zebedee", "Quixote", "zq@example.com.au", "0412345678", "+61412345678"):
        assert value not in recorded


def test_log_lines_carry_ids_and_outcomes_never_patient_data(sandbox, mr_client, dr_dia, caplog):
    patient = new_person(first_name="Zebedee", last_name="Quixote", email="zq@example.com.au")
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=patient)

    with caplog.at_level(logging.DEBUG):
        sync.booking_sync(booking_id=booking.pk, client=mr_client)

    [line] = [record for record in caplog.records if record.name == "clinic.sync"]
    assert line.booking_id == booking.pk
    assert line.outcome == SyncState.SYNCED
    assert line.duration_ms >= 0
    everything = "\n".join(
        f"{record.getMessage()} {vars(record)}"
        for record in caplog.records
        if record.name.startswith(("clinic", "medirecords"))
    )
    for value in ("Zebedee", "Quixote", "zq@example.com.au", "0412345678", "+61412345678", "1900-01-01"):
        assert value not in everything


def test_a_request_counts_a_generation_and_shows_the_booking_as_waiting(dr_dia, sync_requests):
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person(), sync_state=SyncState.SYNCED)

    booking_changed(booking_id=booking.pk)
    booking_changed(booking_id=booking.pk)

    booking.refresh_from_db()
    assert booking.sync_requested_generation == 2
    assert booking.sync_state == SyncState.PENDING
    assert booking.sync_requested_at is not None


def test_a_synced_booking_with_no_new_request_is_left_alone(sandbox, mr_client, dr_dia):
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person())
    sync.booking_sync(booking_id=booking.pk, client=mr_client)
    seen = len(sandbox.requests)

    result = sync.booking_sync(booking_id=booking.pk, client=mr_client)

    assert result.outcome == SyncState.SYNCED
    assert len(sandbox.requests) == seen


def test_while_another_worker_holds_the_booking_a_sync_returns_at_once(sandbox, mr_client, dr_dia):
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person())
    Booking.objects.filter(pk=booking.pk).update(sync_lease_until=timezone.now() + timedelta(minutes=4))

    assert sync.booking_sync(booking_id=booking.pk, client=mr_client).outcome == sync.BUSY
    assert sandbox.requests == []


def test_a_lease_left_by_a_dead_worker_runs_out(sandbox, mr_client, dr_dia):
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person())
    Booking.objects.filter(pk=booking.pk).update(sync_lease_until=timezone.now() - timedelta(seconds=1))

    assert sync.booking_sync(booking_id=booking.pk, client=mr_client).outcome == SyncState.SYNCED
    booking.refresh_from_db()
    assert booking.sync_lease_until is None


def test_a_request_made_during_a_sync_is_synced_by_the_holder(sandbox, mr_client, dr_dia, monkeypatch):
    """The booking moves while its sync is talking to MediRecords: the holder goes round again."""
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person())
    moved_to = sydney(2026, 12, 8, hour=15)
    original_create = mr_client.appointment_create

    def create_then_move(appointment):
        created = original_create(appointment)
        Booking.objects.filter(pk=booking.pk).update(starts_at=moved_to, ends_at=moved_to + timedelta(minutes=45))
        booking_changed(booking_id=booking.pk)  # its task finds the lease taken
        return created

    monkeypatch.setattr(mr_client, "appointment_create", create_then_move)
    monkeypatch.setattr(tasks.booking_sync_task, "delay", lambda booking_id: None)

    result = sync.booking_sync(booking_id=booking.pk, client=mr_client)

    assert result.outcome == SyncState.SYNCED
    [appointment] = sandbox.store.appointments()
    assert appointment["scheduleTime"] == "2026-12-08T15:00"
    booking.refresh_from_db()
    assert booking.sync_completed_generation == booking.sync_requested_generation == 1
    assert booking.sync_state == SyncState.SYNCED


def test_the_sweep_enqueues_syncs_that_were_lost(dr_dia, sync_requests, django_capture_on_commit_callbacks):
    long_ago = timezone.now() - timedelta(hours=1)
    lost = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person())
    Booking.objects.filter(pk=lost.pk).update(sync_requested_generation=1, sync_requested_at=long_ago)
    never_requested = booking_at(dr_dia, sydney(2026, 12, 9), patient=new_person())
    Booking.objects.filter(pk=never_requested.pk).update(created_at=long_ago)
    just_requested = booking_at(dr_dia, sydney(2026, 12, 10), patient=new_person())
    Booking.objects.filter(pk=just_requested.pk).update(sync_requested_generation=1, sync_requested_at=timezone.now())
    being_synced = booking_at(dr_dia, sydney(2026, 12, 11), patient=new_person())
    Booking.objects.filter(pk=being_synced.pk).update(
        sync_requested_generation=1, sync_requested_at=long_ago, sync_lease_until=timezone.now() + timedelta(minutes=1)
    )
    retry_to_come = booking_at(dr_dia, sydney(2026, 12, 12), patient=new_person())
    Booking.objects.filter(pk=retry_to_come.pk).update(
        sync_requested_generation=1, sync_requested_at=long_ago, sync_retry_at=timezone.now() + timedelta(minutes=9)
    )
    done = booking_at(dr_dia, sydney(2026, 12, 13), patient=new_person())
    Booking.objects.filter(pk=done.pk).update(
        sync_requested_generation=1, sync_completed_generation=1, sync_state=SyncState.SYNCED, created_at=long_ago
    )
    waiting_for_staff = booking_at(dr_dia, sydney(2026, 12, 14), patient=new_person())
    Booking.objects.filter(pk=waiting_for_staff.pk).update(
        sync_requested_generation=1,
        sync_completed_generation=1,
        sync_state=SyncState.NEEDS_ATTENTION,
        created_at=long_ago,
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert sync.booking_sync_sweep() == 2
    assert sorted(sync_requests) == sorted([lost.pk, never_requested.pk])


def test_the_sweep_task_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["booking-sync-sweep"]
    assert entry["task"] == tasks.booking_sync_sweep_task.name
