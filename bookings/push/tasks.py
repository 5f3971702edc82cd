"""Celery tasks of the push to MediRecords: thin wrappers that call its services."""

from celery import Task, shared_task

from bookings import dispatch
from bookings.push import sync
from practitioners.clients import medirecords_client


@shared_task(bind=True, name=dispatch.BOOKING_SYNC, max_retries=None)
def booking_sync_task(self: Task[[int, int | None], str], booking_id: int, retry_of: int | None = None) -> str:
    """Sync the booking; when MediRecords failed in a way that may pass, try again after the
    back-off the sync chose (the sync itself gives up at the retry horizon). The retry carries
    the failure count it follows, so a retry that another run overtook does nothing."""
    result = sync.booking_sync(booking_id=booking_id, client=medirecords_client(), retry_of=retry_of)
    if result.retry_in_seconds is not None:
        raise self.retry(args=(booking_id,), kwargs={"retry_of": result.retry_of}, countdown=result.retry_in_seconds)
    return str(result.outcome)


@shared_task(name=dispatch.BOOKING_SYNCS_RESUME)
def booking_syncs_resume_task() -> int:
    return sync.booking_syncs_resume()


@shared_task(name=dispatch.MEDIRECORDS_PROBE)
def medirecords_probe_task() -> bool:
    return sync.medirecords_probe(client=medirecords_client())


@shared_task(name=dispatch.BOOKING_SYNC_SWEEP)
def booking_sync_sweep_task() -> int:
    return sync.booking_sync_sweep()
