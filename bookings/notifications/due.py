"""What a booking's current state calls for on each channel: the notification rows, logged once.

Booked and nothing logged on the channel: a confirmation. Moved since: a reschedule. Cancelled
after anything was logged: a cancellation. A row is unique per (booking, kind, channel,
sequence), so a duplicate delivery, a replay, a re-sync or two workers at once log nothing
new. Rows that later changes made wrong (a confirmation for a booking cancelled since, a
reschedule overtaken by another move) are skipped before they are sent. `sending` sends them.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from bookings.models import (
    Booking,
    BookingStatus,
    Notification,
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
)

CHANNELS = (NotificationChannel.PATIENT_EMAIL, NotificationChannel.ENQUIRIES_EMAIL)
# Kinds whose invite asks the patient's calendar to hold the slot (METHOD:REQUEST).
REQUESTS = (NotificationKind.CONFIRMATION, NotificationKind.RESCHEDULE)
UNSENT = (NotificationStatus.PENDING, NotificationStatus.FAILED)

NO_PATIENT_EMAIL = "The patient has no email address."
CANCELLED_SINCE = "Not sent: the booking has been cancelled since."
MOVED_AGAIN_SINCE = "Not sent: the booking has moved again since."


@dataclass(frozen=True)
class DueNotification:
    kind: NotificationKind
    channel: NotificationChannel
    sequence: int


def due_notifications_record(*, booking_id: int, now: datetime | None = None) -> int:
    """Log, as pending rows, what the booking's current state calls for; returns how many."""
    now = now or timezone.now()
    with transaction.atomic():
        booking = Booking.objects.select_related("patient").filter(pk=booking_id).first()
        if booking is None:
            return 0
        logged = list(booking.notifications.only("pk", "kind", "channel", "sequence", "status"))
        due = notifications_due(booking=booking, logged=logged, now=now)
        Notification.objects.bulk_create([_row_new(booking, item=item, now=now) for item in due], ignore_conflicts=True)
        _superseded_skip(booking=booking)
    return len(due)


def notifications_due(
    *, booking: Booking, logged: Iterable[Notification], now: datetime | None = None
) -> list[DueNotification]:
    """What the booking's current state calls for on each channel, that is not logged yet.

    Booked and nothing logged on the channel: a confirmation. Booked and moved since the last
    one logged (more moves than its sequence): a reschedule. Cancelled after anything was
    logged on the channel: a cancellation, whose SEQUENCE is above every request's. A
    booking cancelled before anything was logged calls for nothing, and so does one that
    has already started (a change to a past appointment is bookkeeping, not news; bookings
    made before notifications existed are not confirmed long after the fact).
    """
    if booking.starts_at <= (now or timezone.now()):
        return []
    rows = list(logged)
    due: list[DueNotification] = []
    for channel in CHANNELS:
        on_channel = [row for row in rows if row.channel == channel]
        if booking.status == BookingStatus.BOOKED:
            if not on_channel:
                due.append(DueNotification(NotificationKind.CONFIRMATION, channel, booking.reschedule_count))
            elif booking.reschedule_count > max(row.sequence for row in on_channel):
                due.append(DueNotification(NotificationKind.RESCHEDULE, channel, booking.reschedule_count))
        elif on_channel and all(row.kind != NotificationKind.CANCELLATION for row in on_channel):
            due.append(DueNotification(NotificationKind.CANCELLATION, channel, booking.reschedule_count + 1))
    return due


def _row_new(booking: Booking, *, item: DueNotification, now: datetime) -> Notification:
    """The row for a due notification: pending and due now, or skipped for want of an address."""
    unreachable = item.channel == NotificationChannel.PATIENT_EMAIL and not _patient_email(booking)
    return Notification(
        booking=booking,
        kind=item.kind,
        channel=item.channel,
        sequence=item.sequence,
        status=NotificationStatus.SKIPPED if unreachable else NotificationStatus.PENDING,
        last_error=NO_PATIENT_EMAIL if unreachable else "",
        next_attempt_at=None if unreachable else now,
    )


def reason_not_to_send(notification: Notification) -> str:
    """Why a row about to be sent should be skipped instead, or "": no address to send it to, or
    a later change to the booking has made it wrong."""
    booking = notification.booking
    if notification.channel == NotificationChannel.PATIENT_EMAIL and not _patient_email(booking):
        return NO_PATIENT_EMAIL
    return _superseded(
        notification,
        booking=booking,
        newest_sequence=_newest_sequences(booking_id=booking.pk).get(notification.channel, 0),
    )


def _superseded_skip(*, booking: Booking) -> None:
    """Skip the unsent rows the booking's later changes have made wrong (see `_superseded`)."""
    unsent = list(booking.notifications.filter(status__in=UNSENT).only("pk", "kind", "channel", "sequence"))
    newest = _newest_sequences(booking_id=booking.pk)
    for notification in unsent:
        reason = _superseded(notification, booking=booking, newest_sequence=newest.get(notification.channel, 0))
        if reason:
            Notification.objects.filter(pk=notification.pk, status__in=UNSENT).update(
                status=NotificationStatus.SKIPPED, last_error=reason, next_attempt_at=None
            )


def _superseded(notification: Notification, *, booking: Booking, newest_sequence: int) -> str:
    """Why an unsent row should no longer go out, or "".

    A confirmation or reschedule would ask a cancelled booking's patient to keep the slot; a
    reschedule is followed by a later one of the same channel, which says the same and more.
    A confirmation still goes out after a move: it is built from the booking as it is then.
    """
    if notification.kind in REQUESTS and booking.status == BookingStatus.CANCELLED:
        return CANCELLED_SINCE
    if notification.kind == NotificationKind.RESCHEDULE and notification.sequence < newest_sequence:
        return MOVED_AGAIN_SINCE
    return ""


def _newest_sequences(*, booking_id: int) -> dict[str, int]:
    rows = Notification.objects.filter(booking_id=booking_id).values("channel").annotate(newest=Max("sequence"))
    return {row["channel"]: row["newest"] for row in rows}


def _patient_email(booking: Booking) -> str:
    """The address the patient's email goes to; empty when there is none."""
    return booking.patient.email if booking.patient is not None else ""
