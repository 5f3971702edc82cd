"""The Celery app: workers run the inbox handlers and the MediRecords push; beat runs upkeep."""

import os
from typing import Any

from celery import Celery
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each flow keeps its Celery tasks in its own package's `tasks` module. Workers and beat import
# them at start; every other process when Django is ready (`config.apps`), so that any process
# can enqueue a task by its name (`bookings.dispatch`). Nothing here imports an app: the
# apps' own modules import this package for its plumbing (`config.backoff`).
TASK_PACKAGES = ("bookings.inbox", "bookings.office365", "bookings.push", "bookings.notifications", "practitioners")
app.autodiscover_tasks(list(TASK_PACKAGES))

# Seconds after beat starts before it asks for subscription upkeep: time for the web
# process beside it to come up, since Graph validates a new subscription by calling it.
SUBSCRIPTION_UPKEEP_DELAY_SECONDS = 10
# The task it asks for, by the name bookings.dispatch gives it (tests/test_task_names.py checks).
SUBSCRIPTION_UPKEEP_TASK = "bookings.tasks.graph_subscriptions_check"


@beat_init.connect
def _subscription_upkeep_at_start(sender: Any, **kwargs: Any) -> None:
    """Right after a deploy or restart, instead of at the first interval: subscribe the calendars
    that have no subscription, recreate those Graph no longer holds, and import their events."""
    app.send_task(SUBSCRIPTION_UPKEEP_TASK, countdown=SUBSCRIPTION_UPKEEP_DELAY_SECONDS)


# Imported for its signal handlers: one log line per task.
import config.task_logging  # noqa: E402, F401
