"""Celery tasks of the notifications: thin wrappers that call its services."""

from celery import shared_task

from bookings import dispatch
from bookings.notifications import sending


@shared_task(name=dispatch.BOOKING_NOTIFY)
def booking_notify_task(booking_id: int) -> int:
    return sending.booking_notify(booking_id=booking_id)


@shared_task(name=dispatch.NOTIFICATION_SWEEP)
def notification_sweep_task() -> int:
    return sending.notification_sweep()
