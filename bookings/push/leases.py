"""Leases: which worker may talk to MediRecords about a row, without holding a transaction.

A lease is a time in the row's `sync_lease_until`, taken by one atomic UPDATE that only
succeeds while no live lease is there. No transaction stays open across the HTTP calls made
under it (SQLite would lock the whole database meanwhile), and a worker that dies leaves a
lease that simply runs out. The time the lease was taken until is its token: releasing or
renewing touches the row only while it still holds that very lease.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Model, Q
from django.utils import timezone

LEASE_FIELD = "sync_lease_until"


def lease_seconds() -> int:
    return int(settings.MEDIRECORDS_SYNC_LEASE_SECONDS)


def lease_acquire(*, model: type[Model], pk: int, now: datetime | None = None) -> datetime | None:
    """Take the row's lease; its token, or None while another worker holds a live one."""
    now = now or timezone.now()
    token = now + timedelta(seconds=lease_seconds())
    free = Q(**{f"{LEASE_FIELD}__isnull": True}) | Q(**{f"{LEASE_FIELD}__lt": now})
    taken = model._default_manager.filter(free, pk=pk).update(**{LEASE_FIELD: token})
    return token if taken == 1 else None


def lease_renew(*, model: type[Model], pk: int, token: datetime) -> datetime | None:
    """Extend a lease still held; the new token, or None if it was lost (expired and taken)."""
    renewed = timezone.now() + timedelta(seconds=lease_seconds())
    if renewed <= token:
        return token
    updated = model._default_manager.filter(pk=pk, **{LEASE_FIELD: token}).update(**{LEASE_FIELD: renewed})
    return renewed if updated == 1 else None


def lease_release(*, model: type[Model], pk: int, token: datetime) -> None:
    """Give the lease back, unless it expired and another worker holds it now."""
    model._default_manager.filter(pk=pk, **{LEASE_FIELD: token}).update(**{LEASE_FIELD: None})
