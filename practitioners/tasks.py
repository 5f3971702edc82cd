"""Celery tasks: thin wrappers that call services."""

import logging

from celery import Task, shared_task
from celery.exceptions import MaxRetriesExceededError

from practitioners import clients
from practitioners.graph import subscriptions

logger = logging.getLogger("clinic.graph.subscriptions")

RENEW_RETRY_SECONDS = 60
RENEW_MAX_RETRIES = 5


@shared_task(bind=True, name="practitioners.tasks.graph_subscriptions_renew", max_retries=RENEW_MAX_RETRIES)
def graph_subscriptions_renew_task(self: Task[[], dict[str, int]]) -> dict[str, int]:
    """Renew the Graph subscriptions that are due; retry soon (1, 2, 4, ... minutes) if Graph was busy.

    Failures stay recorded on each subscription, and beat runs this again on its schedule
    whatever happens to the retries.
    """
    missing = clients.graph_settings_missing()
    if missing:
        logger.warning("graph subscriptions not renewed: Graph is not configured", extra={"missing": missing})
        return {}
    report = subscriptions.graph_subscriptions_renew_due(client=clients.graph_client())
    if report.retry_later:
        try:
            raise self.retry(countdown=RENEW_RETRY_SECONDS * 2**self.request.retries)
        except MaxRetriesExceededError:
            failed = [label for label, _message in report.failed]
            logger.warning("graph subscriptions still failing after retries", extra={"failed": failed})
    return report.counts()
