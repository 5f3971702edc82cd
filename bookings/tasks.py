"""Celery tasks: thin wrappers that call services."""

from celery import shared_task

from bookings import inbox


@shared_task(name="bookings.tasks.delivery_process")
def delivery_process_task(delivery_id: int) -> str | None:
    return inbox.delivery_process(delivery_id=delivery_id)


@shared_task(name="bookings.tasks.inbox_sweep")
def inbox_sweep_task() -> int:
    return inbox.inbox_sweep()
