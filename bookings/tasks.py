"""Celery tasks: thin wrappers that call services."""

from celery import shared_task

from bookings import inbox, sync


@shared_task(name="bookings.tasks.delivery_process")
def delivery_process_task(delivery_id: int) -> str | None:
    return inbox.delivery_process(delivery_id=delivery_id)


@shared_task(name="bookings.tasks.inbox_sweep")
def inbox_sweep_task() -> int:
    return inbox.inbox_sweep()


@shared_task(name="bookings.tasks.booking_sync")
def booking_sync_task(booking_id: int) -> None:
    sync.booking_sync(booking_id=booking_id)
