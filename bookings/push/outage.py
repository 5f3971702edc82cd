"""When MediRecords stops answering and when it answers again, as every worker's syncs see it.

One row (`MediRecordsAvailability`) holds it, changed only by single conditional UPDATEs: the
first failure after a good answer sets `unreachable_since`, and of the workers that then see
MediRecords answer, exactly one clears it and learns that it ended the outage, so exactly one
resumes the syncs left waiting on their back-off (`bookings.push.sync.booking_syncs_resume`).
"""

from datetime import datetime, timedelta

from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from bookings.models import Booking, MediRecordsAvailability, SyncState

_ROW = MediRecordsAvailability.SINGLETON_PK


def medirecords_failure_note(*, now: datetime | None = None) -> None:
    """A call failed in a way that may pass (5xx, 429, no answer): MediRecords is unreachable
    from now, unless it already was."""
    now = now or timezone.now()
    changes = {"unreachable_since": Coalesce(F("unreachable_since"), Value(now)), "last_failure_at": now}
    if not MediRecordsAvailability.objects.filter(pk=_ROW).update(**changes):
        MediRecordsAvailability.objects.get_or_create(pk=_ROW)
        MediRecordsAvailability.objects.filter(pk=_ROW).update(**changes)


def medirecords_answer_note(*, now: datetime | None = None) -> datetime | None:
    """MediRecords answered a call. When that ends an outage, its start; only the one caller
    whose UPDATE cleared it gets it, whatever the number of workers."""
    now = now or timezone.now()
    # Read first: most answers come while nothing failed, and a read takes no write lock.
    began = medirecords_unreachable_since()
    if began is None:
        return None
    ended = MediRecordsAvailability.objects.filter(pk=_ROW, unreachable_since=began).update(
        unreachable_since=None, last_outage_began_at=began, last_recovered_at=now
    )
    return began if ended else None


def medirecords_unreachable_since() -> datetime | None:
    """When the current run of failures began; None while MediRecords answers."""
    return (
        MediRecordsAvailability.objects.filter(pk=_ROW, unreachable_since__isnull=False)
        .values_list("unreachable_since", flat=True)
        .first()
    )


def waiting_syncs_claim(*, limit: int, now: datetime | None = None) -> list[int]:
    """Up to `limit` bookings waiting on a back-off (a retry still to come, no worker on them),
    the soonest appointments first; their retry is marked due now, so the next claim takes
    the next ones."""
    now = now or timezone.now()
    waiting = Q(sync_requested_generation__gt=F("sync_completed_generation")) | Q(sync_state=SyncState.PENDING)
    unleased = Q(sync_lease_until__isnull=True) | Q(sync_lease_until__lt=now)
    booking_ids = list(
        Booking.objects.filter(waiting, unleased, sync_retry_at__gt=now)
        .order_by("starts_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    Booking.objects.filter(pk__in=booking_ids).update(sync_retry_at=now)
    return booking_ids


def outage_lasted(*, began: datetime, at_least_seconds: float, now: datetime | None = None) -> bool:
    return (now or timezone.now()) - began >= timedelta(seconds=at_least_seconds)
