"""The hand-off from a request or a task to the workers: enqueue a task by its name, after commit.

Services call these instead of importing a `tasks` module, so no service depends on the
Celery wrappers that depend on it. The names are the queue's contract: a message already
waiting in the broker names its task this way, so they stay the same when code moves.

After commit, because a worker must find what the transaction wrote. `robust=True`: a broker
that cannot be reached is logged and does not undo the change; the sweeps enqueue it later.
"""

from typing import Final

from celery import current_app
from django.db import transaction

DELIVERY_PROCESS: Final = "bookings.tasks.delivery_process"
INBOX_SWEEP: Final = "bookings.tasks.inbox_sweep"
BOOKING_SYNC: Final = "bookings.tasks.booking_sync"
BOOKING_SYNCS_RESUME: Final = "bookings.tasks.booking_syncs_resume"
BOOKING_SYNC_SWEEP: Final = "bookings.tasks.booking_sync_sweep"
MEDIRECORDS_PROBE: Final = "bookings.tasks.medirecords_probe"
BOOKING_NOTIFY: Final = "bookings.tasks.booking_notify"
NOTIFICATION_SWEEP: Final = "bookings.tasks.notification_sweep"
DUE_CALENDARS_RESYNC: Final = "bookings.tasks.calendar_resyncs_due"
GRAPH_SUBSCRIPTIONS_CHECK: Final = "bookings.tasks.graph_subscriptions_check"


def task_enqueue_after_commit(name: str, *args: int) -> None:
    """Enqueue the task registered as `name` with `args` once the current transaction commits.

    The registered task's own `delay`, so it runs eagerly where the settings say so (tests).
    """
    transaction.on_commit(lambda: current_app.tasks[name].delay(*args), robust=True)


def delivery_process_enqueue(*, delivery_id: int) -> None:
    task_enqueue_after_commit(DELIVERY_PROCESS, delivery_id)


def booking_sync_enqueue(*, booking_id: int) -> None:
    task_enqueue_after_commit(BOOKING_SYNC, booking_id)


def booking_syncs_resume_enqueue() -> None:
    task_enqueue_after_commit(BOOKING_SYNCS_RESUME)


def booking_notify_enqueue(*, booking_id: int) -> None:
    task_enqueue_after_commit(BOOKING_NOTIFY, booking_id)
