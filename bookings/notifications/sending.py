"""What a booking's patient and the enquiries inbox are told when it is made, moved or cancelled.

Every change to a booking goes through `bookings.changes.booking_changed`, which records
what the booking's current state calls for (`due.due_notifications_record`, in the change's
own transaction) and enqueues `booking_notify` after commit, which records it again (nothing
new by then, unless the booking changed since) and sends the rows, each once.

Sending claims the row with one UPDATE (one more attempt, the next attempt pushed past the
send), so only one worker sends it; the message is built from the booking as it is then. A
failure is retried by `notification_sweep`, each wait up to twice as long as the one before
(full jitter), until NOTIFICATION_MAX_ATTEMPTS; then the row waits, failed, for staff, who
can send any row again (`notification_resend`, audited).

Logs and `last_error` carry ids, kinds, channels and outcomes: never an address or a name.
"""

import logging
import math
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bookings.audit import AuditActor, audit_record
from bookings.models import (
    AuditAction,
    Booking,
    Notification,
    NotificationChannel,
    NotificationStatus,
)
from bookings.notifications.due import UNSENT, due_notifications_record, reason_not_to_send
from bookings.notifications.messages import enquiries_email, patient_email
from config.backoff import full_jitter_seconds
from config.log_redaction import REDACTED, redact_text

logger = logging.getLogger("clinic.notifications")

# Rows one sweep sends at most; the next sweep takes the rest.
SWEEP_BATCH = 100
LAST_ERROR_LENGTH_MAX = 300


class NotificationNotSentError(Exception):
    """An outcome recorded as a failure: the email backend reported that it sent nothing."""


def booking_notify(*, booking_id: int) -> int:
    """Log what the booking's current state calls for and send what is due once committed.

    Returns how many rows were newly due (a row that someone else logged first is sent only
    once).
    """
    due = due_notifications_record(booking_id=booking_id)
    transaction.on_commit(lambda: _booking_notifications_send(booking_id=booking_id))
    return due


def notification_send(*, notification_id: int, now: datetime | None = None) -> str | None:
    """Claim one due notification and send it; its status afterwards, or None if not claimed.

    Not claimed: sent, skipped, not due yet, out of attempts, or being sent by another worker.
    """
    now = now or timezone.now()
    if not _claim(notification_id=notification_id, now=now):
        return None
    notification = Notification.objects.select_related("booking__patient", "booking__practitioner").get(
        pk=notification_id
    )
    reason = reason_not_to_send(notification)
    if reason:
        status, error_name = _finish(notification, status=NotificationStatus.SKIPPED, last_error=reason), ""
    else:
        try:
            if not _message(notification).send():
                raise NotificationNotSentError("the email backend sent nothing")
        except Exception as error:  # noqa: BLE001 - any backend's failure is recorded, to be retried
            status, error_name = _failed(notification, error=error), type(error).__name__
        else:
            status, error_name = _finish(notification, status=NotificationStatus.SENT), ""
    logger.log(
        logging.WARNING if status == NotificationStatus.FAILED else logging.INFO,
        "notification sent" if status == NotificationStatus.SENT else f"notification {status}",
        extra={
            "notification_id": notification.pk,
            "booking_id": notification.booking_id,
            "kind": notification.kind,
            "channel": notification.channel,
            "outcome": status,
            "attempt": notification.attempts,
            "error": error_name,
        },
    )
    return status


def notification_sweep(*, now: datetime | None = None) -> int:
    """Send every notification whose (next) attempt is due; returns how many were attempted.

    That is: pending or failed, due, with attempts left. A row whose first send was lost
    (a worker that died, a broker that was down) is pending and due, so it is found too.
    """
    now = now or timezone.now()
    notification_ids = list(
        Notification.objects.filter(
            status__in=UNSENT, next_attempt_at__lte=now, attempts__lt=settings.NOTIFICATION_MAX_ATTEMPTS
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    attempted = [
        notification_id
        for notification_id in notification_ids
        if notification_send(notification_id=notification_id, now=now) is not None
    ]
    if notification_ids:
        logger.info("notifications swept", extra={"due": len(notification_ids), "attempted": len(attempted)})
    return len(attempted)


def notification_resend(*, notification_ids: Iterable[int], actor: AuditActor) -> int:
    """Send these notifications again whatever became of them (a sent one too: staff mean it).

    Each gets fresh attempts and an audit entry; they are sent once committed. Returns how many.
    """
    now = timezone.now()
    with transaction.atomic():
        chosen = list(
            Notification.objects.select_for_update(of=("self",))
            .select_related("booking")
            .filter(pk__in=list(notification_ids))
            .order_by("pk")
        )
        for notification in chosen:
            audit_record(
                actor=actor,
                action=AuditAction.NOTIFICATION_RESENT,
                subject=str(notification)[:100],
                booking=notification.booking,
                before={"status": notification.status, "attempts": notification.attempts},
                after={"status": NotificationStatus.PENDING, "attempts": 0},
            )
        chosen_ids = [notification.pk for notification in chosen]
        Notification.objects.filter(pk__in=chosen_ids).update(
            status=NotificationStatus.PENDING, attempts=0, next_attempt_at=now, last_error=""
        )
        transaction.on_commit(lambda: _notifications_send(notification_ids=chosen_ids))
    logger.info("notifications resent", extra={"requested": len(chosen_ids)})
    return len(chosen_ids)


def retry_delay_seconds(*, attempts: int) -> float:
    """The wait after the `attempts`-th failed send: full jitter below a doubling ceiling."""
    # No cap: NOTIFICATION_MAX_ATTEMPTS bounds how far the ceiling can double.
    return full_jitter_seconds(
        attempt=attempts, base_seconds=settings.NOTIFICATION_RETRY_BASE_SECONDS, cap_seconds=math.inf
    )


# --- Helpers -----------------------------------------------------------------------------


def _booking_notifications_send(*, booking_id: int) -> None:
    now = timezone.now()
    due = Notification.objects.filter(
        booking_id=booking_id,
        status__in=UNSENT,
        next_attempt_at__lte=now,
        attempts__lt=settings.NOTIFICATION_MAX_ATTEMPTS,
    ).order_by("pk")
    _notifications_send(notification_ids=list(due.values_list("pk", flat=True)), now=now)


def _notifications_send(*, notification_ids: list[int], now: datetime | None = None) -> None:
    for notification_id in notification_ids:
        notification_send(notification_id=notification_id, now=now)


def _claim(*, notification_id: int, now: datetime) -> bool:
    """Take the row for one send attempt, atomically, so no two workers send it.

    Due means due at `now`; the next attempt then moves past the send (from the clock's time,
    as a sweep's `now` ages while it sends): should this worker die, the row is due again then.
    """
    claimed = Notification.objects.filter(
        pk=notification_id,
        status__in=UNSENT,
        next_attempt_at__lte=now,
        attempts__lt=settings.NOTIFICATION_MAX_ATTEMPTS,
    ).update(
        attempts=F("attempts") + 1,
        next_attempt_at=timezone.now() + timedelta(seconds=settings.INBOX_SWEEP_AGE_SECONDS),
    )
    return claimed == 1


def _message(notification: Notification) -> EmailMultiAlternatives:
    booking = notification.booking
    if notification.channel == NotificationChannel.PATIENT_EMAIL:
        return patient_email(booking=booking, kind=notification.kind, sequence=notification.sequence)
    return enquiries_email(booking=booking, kind=notification.kind)


def _finish(notification: Notification, *, status: NotificationStatus, last_error: str = "") -> str:
    Notification.objects.filter(pk=notification.pk).update(
        status=status,
        last_error=last_error,
        next_attempt_at=None,
        sent_at=timezone.now() if status == NotificationStatus.SENT else F("sent_at"),
    )
    return status


def _failed(notification: Notification, *, error: BaseException) -> str:
    """Record a failed send: due again after the back-off, or, out of attempts, waiting for staff."""
    attempts = notification.attempts
    out_of_attempts = attempts >= settings.NOTIFICATION_MAX_ATTEMPTS
    Notification.objects.filter(pk=notification.pk).update(
        status=NotificationStatus.FAILED,
        last_error=_error_summary(error, booking=notification.booking),
        next_attempt_at=None
        if out_of_attempts
        else timezone.now() + timedelta(seconds=retry_delay_seconds(attempts=attempts)),
    )
    return NotificationStatus.FAILED


def _error_summary(error: BaseException, *, booking: Booking) -> str:
    """The error's class and its message, without anything that looks like a contact detail or
    a date, nor the patient's own details (a mail server may quote them back)."""
    text = redact_text(str(error))
    patient = booking.patient
    if patient is not None:
        for value in (patient.email, patient.mobile, patient.first_name, patient.last_name):
            if value.strip():
                text = re.sub(rf"(?<!\w){re.escape(value.strip())}(?!\w)", REDACTED, text, flags=re.IGNORECASE)
    summary = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return summary[:LAST_ERROR_LENGTH_MAX]
