"""Celery tasks: thin wrappers that call services."""

import logging

from celery import Task, shared_task

from bookings import inbox, lifecycle, notifications, sync
from practitioners import subscriptions
from practitioners.clients import graph_client, graph_settings_missing, medirecords_client

logger = logging.getLogger("clinic.graph.subscriptions")

CHECK_RETRY_SECONDS = 60
CHECK_MAX_RETRIES = 5


@shared_task(name="bookings.tasks.delivery_process")
def delivery_process_task(delivery_id: int) -> str | None:
    return inbox.delivery_process(delivery_id=delivery_id)


@shared_task(name="bookings.tasks.inbox_sweep")
def inbox_sweep_task() -> int:
    return inbox.inbox_sweep()


@shared_task(bind=True, name="bookings.tasks.booking_sync", max_retries=None)
def booking_sync_task(self: Task[[int, int | None], str], booking_id: int, retry_of: int | None = None) -> str:
    """Sync the booking; when MediRecords failed in a way that may pass, try again after the
    back-off the sync chose (the sync itself gives up at the retry horizon). The retry carries
    the failure count it follows, so a retry that another run overtook does nothing."""
    result = sync.booking_sync(booking_id=booking_id, client=medirecords_client(), retry_of=retry_of)
    if result.retry_in_seconds is not None:
        raise self.retry(args=(booking_id,), kwargs={"retry_of": result.retry_of}, countdown=result.retry_in_seconds)
    return str(result.outcome)


@shared_task(name="bookings.tasks.booking_syncs_resume")
def booking_syncs_resume_task() -> int:
    return sync.booking_syncs_resume()


@shared_task(name="bookings.tasks.medirecords_probe")
def medirecords_probe_task() -> bool:
    return sync.medirecords_probe(client=medirecords_client())


@shared_task(name="bookings.tasks.booking_sync_sweep")
def booking_sync_sweep_task() -> int:
    return sync.booking_sync_sweep()


@shared_task(name="bookings.tasks.booking_notify")
def booking_notify_task(booking_id: int) -> int:
    return notifications.booking_notify(booking_id=booking_id)


@shared_task(name="bookings.tasks.notification_sweep")
def notification_sweep_task() -> int:
    return notifications.notification_sweep()


@shared_task(name="bookings.tasks.calendar_resyncs_due")
def calendar_resyncs_due_task() -> int:
    if graph_settings_missing():
        return 0
    return lifecycle.calendar_resyncs_due(client=graph_client())


@shared_task(bind=True, name="bookings.tasks.graph_subscriptions_check", max_retries=CHECK_MAX_RETRIES)
def graph_subscriptions_check_task(self: Task[[], dict[str, int]]) -> dict[str, int]:
    """Check that Graph still holds every subscription, subscribe calendars that have none, then
    import or resync the calendars that asked for it (new and recreated subscriptions), at once
    rather than at the next round of `calendar_resyncs_due`.

    Tried again soon (1, 2, 4, ... minutes) when another pass held the upkeep lease (at start,
    that may be a pass killed with the last run, whose lease lapses) or Graph failed for a while:
    waiting for the hourly round would leave a calendar deaf for an hour.
    """
    missing = graph_settings_missing()
    if missing:
        logger.warning("graph subscriptions not checked: Graph is not configured", extra={"missing": missing})
        return {}
    client = graph_client()
    report = subscriptions.graph_subscriptions_check(client=client)
    counts = report.counts() | {"resynced": lifecycle.calendar_resyncs_due(client=client)}
    if report.retry_later and self.request.retries < CHECK_MAX_RETRIES:
        raise self.retry(countdown=CHECK_RETRY_SECONDS * 2**self.request.retries)
    return counts
