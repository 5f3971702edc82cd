"""Celery tasks of the inbox: thin wrappers that call its services."""

from celery import shared_task

from bookings import dispatch
from bookings.inbox import deliveries


@shared_task(name=dispatch.DELIVERY_PROCESS)
def delivery_process_task(delivery_id: int) -> str | None:
    return deliveries.delivery_process(delivery_id=delivery_id)


@shared_task(name=dispatch.INBOX_SWEEP)
def inbox_sweep_task() -> int:
    return deliveries.inbox_sweep()
