"""The Celery app: workers run the inbox handlers and the MediRecords push; beat runs upkeep."""

import os
from typing import Any

from celery import Celery
from celery.signals import beat_init

from bookings.dispatch import GRAPH_SUBSCRIPTIONS_CHECK

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each flow keeps its tasks in its own package; workers and beat import them all at start.
app.autodiscover_tasks(
    ["bookings.inbox", "bookings.office365", "bookings.push", "bookings.notifications", "practitioners"]
)

# Seconds after beat starts before it asks for subscription upkeep: time for the web
# process beside it to come up, since Graph validates a new subscription by calling it.
SUBSCRIPTION_UPKEEP_DELAY_SECONDS = 10


@beat_init.connect
def _subscription_upkeep_at_start(sender: Any, **kwargs: Any) -> None:
    """Right after a deploy or restart, instead of at the first interval: subscribe the calendars
    that have no subscription, recreate those Graph no longer holds, and import their events."""
    app.send_task(GRAPH_SUBSCRIPTIONS_CHECK, countdown=SUBSCRIPTION_UPKEEP_DELAY_SECONDS)


# Imported for its signal handlers: one log line per task.
import config.task_logging  # noqa: E402, F401
