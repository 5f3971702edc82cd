"""The push of bookings to MediRecords, the practice's record of truth.

Whatever changes a booking (a new Office 365 event, a move, a cancellation, new patient
details, a staff decision) goes through `bookings.changes.booking_changed`, the one way in:
it counts the request (`sync_requested_generation`) and enqueues `booking_sync` after commit.
The sync reads the booking as it is then, so many requests converge on its latest state.

`booking_sync` is safe to run any number of times at once. One worker holds the booking's
lease (no transaction stays open across HTTP calls); the others return at once, because the
holder syncs again whenever the generation moved while it worked, and after giving the lease
back looks once more, so a request that arrived just as it finished is not lost. A lease
left by a worker that died runs out (MEDIRECORDS_SYNC_LEASE_SECONDS), and
`booking_sync_sweep` enqueues again what was requested but never finished.

Failures that may pass (rate limits, MediRecords' 5xx, no answer) are retried with
exponential back-off and full jitter, capped at MEDIRECORDS_SYNC_RETRY_MAX_SECONDS (minutes,
not hours: a clinic cannot wait), until MEDIRECORDS_SYNC_RETRY_HORIZON_SECONDS. Anything
else MediRecords refuses, a problem the push names for staff (`SyncNeedsAttentionError`),
and whatever is still failing at the horizon, waits for staff as "needs attention" with the
message (field names and messages, never patient values). Any other exception is a bug, not
something staff can fix: it leaves `booking_sync` (the task fails and logs it), the lease is
given back, and the booking stays waiting for the sweep.

Failures that may pass also mark MediRecords unreachable (`bookings.push.outage`). The first
sync (or the probe beat runs meanwhile) that sees it answer again resumes every sync still
waiting on its back-off, in bounded batches, so the waiting bookings go in as soon as
MediRecords is back rather than one back-off later. A scheduled retry carries the failure
count it was scheduled for: once another run has synced or failed the booking since, it is
stale and returns at once, so resumed syncs never leave two retry chains for one booking.
"""

import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from bookings.dispatch import booking_sync_enqueue, booking_syncs_resume_enqueue
from bookings.models import Booking, BookingStatus, SyncState
from bookings.push.appointments import appointment_push
from bookings.push.attempts import answers_observed, error_summary
from bookings.push.errors import SyncBusyError, SyncNeedsAttentionError
from bookings.push.leases import lease_acquire, lease_release, lease_renew
from bookings.push.outage import (
    medirecords_answer_note,
    medirecords_failure_note,
    medirecords_unreachable_since,
    outage_lasted,
    waiting_syncs_claim,
)
from bookings.push.patient_matching import patient_match_or_create
from config.backoff import full_jitter_seconds
from medirecords import MediRecordsClient, MediRecordsError, RateLimitedError, is_transient

logger = logging.getLogger("clinic.sync")

# Passes one lease holder makes before leaving what remains to the task it enqueues.
PASSES_MAX = 10
BUSY = "busy"
MISSING = "missing"
# A scheduled retry that another run overtook (the booking synced, or failed again and has a
# retry of its own scheduled).
SUPERSEDED = "superseded"


@dataclass(frozen=True)
class SyncResult:
    """How a call of `booking_sync` ended: a sync state, BUSY (another worker holds the
    booking) or MISSING; `retry_in_seconds` is set when the task should try again then."""

    booking_id: int
    outcome: str
    retry_in_seconds: float | None = None
    detail: str = ""
    # With a retry: the failure count it is scheduled for (see `booking_sync`'s `retry_of`).
    retry_of: int | None = None
    # Whether this pass saw MediRecords answer again after an outage, and so ended it.
    ended_outage: bool = False


def booking_sync(*, booking_id: int, client: MediRecordsClient, retry_of: int | None = None) -> SyncResult:
    """Bring MediRecords in line with the booking: its patient, and its appointment.

    The one place a booking reaches MediRecords. Must not run inside a transaction: what it
    writes (the lease, the ids learnt) has to be committed before each call it makes.
    `retry_of` is given by a scheduled retry: the failure count it was scheduled after.
    """
    started = time.perf_counter()
    if retry_of is not None and not Booking.objects.filter(pk=booking_id, sync_transient_failures=retry_of).exists():
        result = SyncResult(booking_id, SUPERSEDED)
        _log(result, started=started, passes=0)
        return result
    token = lease_acquire(model=Booking, pk=booking_id)
    if token is None:
        outcome = BUSY if Booking.objects.filter(pk=booking_id).exists() else MISSING
        result = SyncResult(booking_id, outcome)
        _log(result, started=started, passes=0)
        return result

    passes = 0
    ended_outage = False
    result = SyncResult(booking_id, SyncState.SYNCED)
    try:
        while passes < PASSES_MAX:
            booking = Booking.objects.select_related("patient", "practitioner").get(pk=booking_id)
            generation = booking.sync_requested_generation
            if booking.sync_state != SyncState.PENDING and booking.sync_completed_generation >= generation:
                result = SyncResult(booking_id, booking.sync_state)
                break
            passes += 1
            result = _sync_pass(booking, client=client, generation=generation)
            ended_outage = ended_outage or result.ended_outage
            if result.retry_in_seconds is not None or not _requested_since(booking_id, generation=generation):
                break
            renewed = lease_renew(model=Booking, pk=booking_id, token=token)
            if renewed is None:
                break
            token = renewed
    finally:
        lease_release(model=Booking, pk=booking_id, token=token)

    # A request that came in while we released is seen by no one else: enqueue it.
    if result.retry_in_seconds is None and _outstanding(booking_id):
        booking_sync_enqueue(booking_id=booking_id)
    if ended_outage:
        booking_syncs_resume_enqueue()
    _log(result, started=started, passes=passes)
    return result


def booking_syncs_resume(*, limit: int | None = None) -> int:
    """Enqueue up to `limit` (MEDIRECORDS_RECOVERY_BATCH_SIZE) syncs waiting on a back-off, the
    soonest appointments first; returns how many.

    A full batch enqueues the next one behind it, so the queue paces the rest, as long as
    MediRecords still answers. Safe to repeat: a booking a worker holds is not taken, and a
    sync that finds its booking synced already returns at once.
    """
    limit = limit or settings.MEDIRECORDS_RECOVERY_BATCH_SIZE
    booking_ids = waiting_syncs_claim(limit=limit)
    for booking_id in booking_ids:
        booking_sync_enqueue(booking_id=booking_id)
    if booking_ids:
        logger.info("booking syncs resumed", extra={"enqueued": len(booking_ids)})
    if len(booking_ids) == limit and medirecords_unreachable_since() is None:
        booking_syncs_resume_enqueue()
    return len(booking_ids)


def medirecords_probe(*, client: MediRecordsClient) -> bool:
    """While MediRecords is marked unreachable, ask it one cheap question; when it answers,
    end the outage and resume the waiting syncs. Returns whether it answered.

    Beat runs it every MEDIRECORDS_PROBE_INTERVAL_SECONDS, so recovery is noticed that soon
    even when every waiting sync's next retry is minutes away.
    """
    if medirecords_unreachable_since() is None:
        return True
    try:
        client.ping()
    except MediRecordsError as error:
        if is_transient(error):
            medirecords_failure_note()
            return False
        # Any other answer (a refused token, say) still shows MediRecords is reachable again:
        # the syncs it resumes then say what is wrong, booking by booking.
    if _outage_ended():
        booking_syncs_resume_enqueue()
    return True


def booking_sync_sweep(*, now: datetime | None = None) -> int:
    """Enqueue again every booking whose sync was asked for and then lost; returns how many.

    That is: a request not yet finished (or a booking never synced), no live lease, asked for
    longer ago than INBOX_SWEEP_AGE_SECONDS, and no retry still to come.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.INBOX_SWEEP_AGE_SECONDS)
    waiting = Q(sync_requested_generation__gt=F("sync_completed_generation")) | Q(sync_state=SyncState.PENDING)
    unleased = Q(sync_lease_until__isnull=True) | Q(sync_lease_until__lt=now)
    asked_long_ago = Q(sync_requested_at__lt=cutoff) | Q(sync_requested_at__isnull=True, created_at__lt=cutoff)
    no_retry_to_come = Q(sync_retry_at__isnull=True) | Q(sync_retry_at__lt=cutoff)
    booking_ids = list(
        Booking.objects.filter(waiting, unleased, asked_long_ago, no_retry_to_come).values_list("pk", flat=True)
    )
    for booking_id in booking_ids:
        booking_sync_enqueue(booking_id=booking_id)
    if booking_ids:
        logger.info("booking syncs swept", extra={"enqueued": len(booking_ids)})
    return len(booking_ids)


def retry_delay_seconds(*, failures: int, error: BaseException | None = None) -> float:
    """Exponential back-off with full jitter, capped at MEDIRECORDS_SYNC_RETRY_MAX_SECONDS;
    never sooner than a rate limit's Retry-After."""
    delay = full_jitter_seconds(
        attempt=failures,
        base_seconds=settings.MEDIRECORDS_SYNC_RETRY_BASE_SECONDS,
        cap_seconds=settings.MEDIRECORDS_SYNC_RETRY_MAX_SECONDS,
    )
    if isinstance(error, RateLimitedError) and error.retry_after is not None:
        delay = max(delay, error.retry_after)
    return delay


def _sync_pass(booking: Booking, *, client: MediRecordsClient, generation: int) -> SyncResult:
    """One attempt at the booking as read; records its outcome against `generation`, and what
    it showed of MediRecords' availability."""
    with answers_observed() as answers:
        result = _sync_pass_outcome(booking, client=client, generation=generation)
    # The last call tells how MediRecords is now: an earlier answer in the same pass may predate a failure.
    if answers and not answers[-1]:
        medirecords_failure_note()
    elif any(answers) and _outage_ended():
        result = replace(result, ended_outage=True)
    return result


def _sync_pass_outcome(booking: Booking, *, client: MediRecordsClient, generation: int) -> SyncResult:
    try:
        return _push(booking, client=client, generation=generation)
    except SyncNeedsAttentionError as problem:
        return _finish(booking, generation=generation, state=SyncState.NEEDS_ATTENTION, error=str(problem))
    except SyncBusyError as busy:
        return _failed_for_now(booking, generation=generation, error=busy)
    except MediRecordsError as error:
        if is_transient(error):
            return _failed_for_now(booking, generation=generation, error=error)
        return _finish(booking, generation=generation, state=SyncState.NEEDS_ATTENTION, error=error_summary(error))


def _outage_ended() -> bool:
    """Note that MediRecords answered; whether that ended an outage long enough to resume the
    waiting syncs for. A shorter one (failures mixed with answers) is left to the back-off,
    whose first steps are as soon."""
    began = medirecords_answer_note()
    return began is not None and outage_lasted(
        began=began, at_least_seconds=settings.MEDIRECORDS_SYNC_RETRY_BASE_SECONDS
    )


def _push(booking: Booking, *, client: MediRecordsClient, generation: int) -> SyncResult:
    patient = booking.patient
    if booking.status == BookingStatus.CANCELLED:
        # Nothing is matched or created for a cancelled booking; what exists is cancelled.
        patient_id = patient.medirecords_patient_id if patient is not None else ""
        change = appointment_push(booking=booking, patient_id=patient_id or None, client=client)
        return _finish(booking, generation=generation, state=SyncState.SYNCED, detail=change)
    if patient is None:
        raise SyncNeedsAttentionError("The booking has no patient.")

    match = patient_match_or_create(patient=patient, client=client, booking_id=booking.pk)
    if match.patient.pk != patient.pk:
        # Another of our patient rows already holds this MediRecords patient: the booking is theirs.
        Booking.objects.filter(pk=booking.pk).update(patient=match.patient)
        booking.patient = match.patient
    if match.needs_review:
        candidates = [candidate.to_json() for candidate in match.candidates]
        return _finish(
            booking, generation=generation, state=SyncState.NEEDS_REVIEW, candidates=candidates, detail=match.result
        )
    change = appointment_push(booking=booking, patient_id=match.medirecords_patient_id, client=client)
    return _finish(booking, generation=generation, state=SyncState.SYNCED, detail=f"{match.result}/{change}")


def _finish(
    booking: Booking,
    *,
    generation: int,
    state: SyncState,
    error: str = "",
    candidates: list[dict[str, Any]] | None = None,
    detail: str = "",
) -> SyncResult:
    """Record the outcome of a pass. The state is only shown if no newer request came in
    meanwhile; otherwise the booking stays "waiting to sync" for the next pass."""
    now = timezone.now()
    changes: dict[str, Any] = {
        "sync_error": error,
        "sync_completed_generation": generation,
        "sync_failing_since": None,
        "sync_transient_failures": 0,
        "sync_retry_at": None,
        "patient_candidates": candidates or [],
    }
    if state == SyncState.SYNCED:
        changes["synced_at"] = now
    shown = Booking.objects.filter(pk=booking.pk, sync_requested_generation=generation).update(
        sync_state=state, **changes
    )
    if not shown:
        Booking.objects.filter(pk=booking.pk).update(**changes)
    return SyncResult(booking.pk, state, detail=detail)


def _failed_for_now(booking: Booking, *, generation: int, error: BaseException) -> SyncResult:
    """A failure that may pass: schedule a retry, or give up once the horizon is reached."""
    now = timezone.now()
    failing_since = booking.sync_failing_since or now
    summary = error_summary(error)
    horizon = timedelta(seconds=settings.MEDIRECORDS_SYNC_RETRY_HORIZON_SECONDS)
    if now - failing_since >= horizon:
        hours = round(horizon / timedelta(hours=1), 1)
        message = f"MediRecords kept failing for {hours:g} hours; the last failure: {summary}"
        return _finish(booking, generation=generation, state=SyncState.NEEDS_ATTENTION, error=message)
    failures = booking.sync_transient_failures + 1
    delay = retry_delay_seconds(failures=failures, error=error)
    Booking.objects.filter(pk=booking.pk).update(
        sync_failing_since=failing_since,
        sync_transient_failures=failures,
        sync_retry_at=now + timedelta(seconds=delay),
        sync_error=f"Will retry: {summary}",
    )
    return SyncResult(
        booking.pk, SyncState.PENDING, retry_in_seconds=delay, detail=type(error).__name__, retry_of=failures
    )


def _requested_since(booking_id: int, *, generation: int) -> bool:
    return Booking.objects.filter(pk=booking_id, sync_requested_generation__gt=generation).exists()


def _outstanding(booking_id: int) -> bool:
    return Booking.objects.filter(pk=booking_id, sync_requested_generation__gt=F("sync_completed_generation")).exists()


def _log(result: SyncResult, *, started: float, passes: int) -> None:
    logger.info(
        "booking sync",
        extra={
            "booking_id": result.booking_id,
            "outcome": str(result.outcome),
            "detail": str(result.detail),
            "passes": passes,
            "retry_in_seconds": round(result.retry_in_seconds, 1) if result.retry_in_seconds is not None else None,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
