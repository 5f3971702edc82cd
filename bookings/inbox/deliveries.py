"""The inbox: every delivery from another system is stored here before it is processed.

Receivers call `delivery_store` and acknowledge; the commit enqueues `delivery_process` on a
worker, which hands the delivery to the handler registered for its source. Whatever is lost
on the way (a worker that died, a broker that was down) the periodic `inbox_sweep` finds and
enqueues again, so a stored delivery is never forgotten.
"""

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_guid import get_guid, set_guid

from bookings.audit import AuditActor, audit_record
from bookings.dispatch import delivery_process_enqueue
from bookings.models import AuditAction, DeliveryStatus, InboundDelivery
from config.log_redaction import redact_text

logger = logging.getLogger("clinic.inbox")

DeliveryHandler = Callable[[InboundDelivery], None]

_handlers: dict[str, DeliveryHandler] = {}


class DeliveryIgnoredError(Exception):
    """An outcome, not a failure: raised by a handler for a valid delivery that needs nothing
    done; the message says why."""


@dataclass(frozen=True)
class StoredDelivery:
    delivery: InboundDelivery
    duplicate: bool


def delivery_handler_register(*, source: str, handler: DeliveryHandler) -> None:
    """Route deliveries of `source` to `handler`. Apps call this from `AppConfig.ready`."""
    _handlers[source] = handler


def delivery_handler_unregister(*, source: str) -> None:
    _handlers.pop(source, None)


def delivery_store(
    *,
    source: str,
    delivery_key: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    correlation_id: str | None = None,
) -> StoredDelivery:
    """Store a delivery once per (source, key) and enqueue its processing after commit.

    A delivery already stored is a duplicate: nothing is written and nothing enqueued. Safe
    under concurrent calls with the same key (the unique constraint decides the winner).
    The correlation id defaults to the current request's, so the worker's log lines for
    this delivery carry the id of the request that brought it.
    """
    if correlation_id is None:
        correlation_id = get_guid() or ""
    candidate = InboundDelivery(
        source=source,
        delivery_key=delivery_key,
        body=body,
        headers=dict(headers or {}),
        correlation_id=correlation_id,
        received_at=timezone.now(),
    )
    # A single statement needs no transaction of its own; on_commit then runs at once, or when
    # the caller's transaction commits.
    candidate.pk = _insert_unless_stored(candidate)
    created = candidate.pk is not None
    if created:
        delivery = candidate
        delivery_enqueue(delivery_id=delivery.pk)
    else:
        delivery = InboundDelivery.objects.get(source=source, delivery_key=delivery_key)
    logger.info(
        "delivery stored",
        extra={"source": source, "delivery_id": delivery.pk, "duplicate": not created},
    )
    return StoredDelivery(delivery=delivery, duplicate=not created)


def _insert_unless_stored(delivery: InboundDelivery) -> int | None:
    """INSERT the row unless its (source, key) is stored already; the new id, or None.

    One statement, where get_or_create needs a read, a savepoint and a write: this runs once
    per notification while Graph waits. Both PostgreSQL and SQLite (3.35+) speak
    `ON CONFLICT ... DO NOTHING RETURNING`.
    """
    fields = [field for field in InboundDelivery._meta.concrete_fields if not field.primary_key]
    connection = connections[router.db_for_write(InboundDelivery)]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    values = [field.get_db_prep_save(field.pre_save(delivery, add=True), connection) for field in fields]
    table = connection.ops.quote_name(InboundDelivery._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) "  # noqa: S608 - names from the model
        "ON CONFLICT (source, delivery_key) DO NOTHING RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    return int(row[0]) if row else None


def delivery_enqueue(*, delivery_id: int) -> None:
    """Enqueue processing once the current transaction commits.

    If the broker is unreachable the error is logged and the delivery stays stored: the
    sweep enqueues it again later, so the sender still gets its acknowledgement.
    """
    delivery_process_enqueue(delivery_id=delivery_id)


def delivery_process(*, delivery_id: int) -> str | None:
    """Claim a delivery and run its source's handler; returns the resulting status.

    Returns None when the delivery is not there to claim: already finished, or being
    processed by another worker whose claim has not gone stale.
    """
    if not _delivery_claim(delivery_id=delivery_id):
        logger.info("delivery not claimed", extra={"delivery_id": delivery_id})
        return None
    delivery = InboundDelivery.objects.get(pk=delivery_id)
    if delivery.correlation_id:
        set_guid(delivery.correlation_id)

    started = time.perf_counter()
    handler = _handlers.get(delivery.source)
    if handler is None:
        status, error = DeliveryStatus.FAILED, f"no handler is registered for {delivery.source!r} deliveries"
    else:
        try:
            handler(delivery)
        except DeliveryIgnoredError as ignored:
            status, error = DeliveryStatus.IGNORED, str(ignored)
        except Exception as failure:
            logger.exception("delivery failed", extra={"delivery_id": delivery_id, "source": delivery.source})
            status, error = DeliveryStatus.FAILED, f"{type(failure).__name__}: {failure}"
        else:
            status, error = DeliveryStatus.PROCESSED, ""

    InboundDelivery.objects.filter(pk=delivery_id).update(
        status=status,
        last_error=redact_text(error)[:4000],
        processed_at=timezone.now() if status != DeliveryStatus.FAILED else None,
    )
    logger.info(
        "delivery processed",
        extra={
            "delivery_id": delivery_id,
            "source": delivery.source,
            "status": status,
            "attempt": delivery.attempts,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return status


def _delivery_claim(*, delivery_id: int) -> bool:
    """Atomically mark a delivery as being processed, so two workers never both run it.

    A claim older than the sweep age is taken to belong to a worker that died.
    """
    now = timezone.now()
    stale_claim = now - timedelta(seconds=settings.INBOX_SWEEP_AGE_SECONDS)
    claimable = Q(status__in=[DeliveryStatus.RECEIVED, DeliveryStatus.FAILED]) | Q(
        status=DeliveryStatus.PROCESSING, claimed_at__lt=stale_claim
    )
    claimed = InboundDelivery.objects.filter(claimable, pk=delivery_id).update(
        status=DeliveryStatus.PROCESSING, claimed_at=now, attempts=F("attempts") + 1
    )
    return claimed == 1


def inbox_sweep(*, now: datetime | None = None) -> int:
    """Enqueue again every delivery that should have finished by now; returns how many.

    That is: received but never picked up, claimed by a worker that has gone quiet, or failed
    with attempts left (each attempt waits twice as long as the one before).
    """
    now = now or timezone.now()
    age = timedelta(seconds=settings.INBOX_SWEEP_AGE_SECONDS)
    stale = Q(status=DeliveryStatus.RECEIVED, received_at__lt=now - age) | Q(
        status=DeliveryStatus.PROCESSING, claimed_at__lt=now - age
    )
    retry_due = Q()
    for attempts in range(1, settings.INBOX_MAX_ATTEMPTS):
        retry_due |= Q(attempts=attempts, claimed_at__lt=now - age * 2 ** (attempts - 1))
    failed_and_due = Q(status=DeliveryStatus.FAILED) & retry_due if settings.INBOX_MAX_ATTEMPTS > 1 else Q(pk__in=[])

    delivery_ids = list(InboundDelivery.objects.filter(stale | failed_and_due).values_list("pk", flat=True))
    for delivery_id in delivery_ids:
        delivery_enqueue(delivery_id=delivery_id)
    if delivery_ids:
        logger.info("inbox swept", extra={"enqueued": len(delivery_ids)})
    return len(delivery_ids)


def delivery_replay(*, delivery_ids: Iterable[int]) -> int:
    """Process chosen deliveries again, whatever their outcome was; returns how many.

    Deliveries being processed right now are left to finish.
    """
    return len(_deliveries_replay(delivery_ids=delivery_ids))


def delivery_replay_by_staff(*, delivery_ids: Iterable[int], actor: AuditActor) -> int:
    """`delivery_replay` asked for by a member of staff: each replay leaves an audit entry."""
    with transaction.atomic():
        replayed = _deliveries_replay(delivery_ids=delivery_ids)
        for delivery in replayed:
            audit_record(
                actor=actor,
                action=AuditAction.DELIVERY_REPLAYED,
                subject=str(delivery),
                before={"status": delivery.status, "attempts": delivery.attempts},
                after={"status": DeliveryStatus.RECEIVED},
            )
    return len(replayed)


def _deliveries_replay(*, delivery_ids: Iterable[int]) -> list[InboundDelivery]:
    ids = list(delivery_ids)
    with transaction.atomic():
        replayable = list(
            InboundDelivery.objects.select_for_update()
            .filter(pk__in=ids)
            .exclude(status=DeliveryStatus.PROCESSING)
            .only("pk", "source", "status", "attempts")
        )
        InboundDelivery.objects.filter(pk__in=[delivery.pk for delivery in replayable]).update(
            status=DeliveryStatus.RECEIVED, last_error=""
        )
        for delivery in replayable:
            delivery_enqueue(delivery_id=delivery.pk)
    logger.info("deliveries replayed", extra={"requested": len(ids), "replayed": len(replayable)})
    return replayable
