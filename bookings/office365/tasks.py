"""Celery tasks of the Office 365 calendars: thin wrappers that call their services."""

import logging

from celery import Task, shared_task

from bookings import dispatch
from bookings.office365 import subscription_lifecycle
from practitioners.clients import graph_client, graph_settings_missing

logger = logging.getLogger("clinic.graph.subscriptions")

CHECK_RETRY_SECONDS = 60
CHECK_MAX_RETRIES = 5


@shared_task(name=dispatch.DUE_CALENDARS_RESYNC)
def due_calendars_resync_task() -> int:
    if graph_settings_missing():
        return 0
    return subscription_lifecycle.due_calendars_resync(client=graph_client())


@shared_task(bind=True, name=dispatch.GRAPH_SUBSCRIPTIONS_CHECK, max_retries=CHECK_MAX_RETRIES)
def graph_subscriptions_check_task(self: Task[[], dict[str, int]]) -> dict[str, int]:
    """`calendar_subscriptions_upkeep`, tried again soon (1, 2, 4, ... minutes) when it asks:
    waiting for the hourly round would leave a calendar deaf for an hour."""
    missing = graph_settings_missing()
    if missing:
        logger.warning("graph subscriptions not checked: Graph is not configured", extra={"missing": missing})
        return {}
    counts, retry_later = subscription_lifecycle.calendar_subscriptions_upkeep(client=graph_client())
    if retry_later and self.request.retries < CHECK_MAX_RETRIES:
        raise self.retry(countdown=CHECK_RETRY_SECONDS * 2**self.request.retries)
    return counts
