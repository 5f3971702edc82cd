"""Processing one stored Graph change notification: fetch the event as it is now, apply it.

A notification only says that something changed, and Graph sends several for one change,
late and in any order. So the notification's own content is never trusted beyond its ids:
the event is fetched again and its current state applied, which makes every repeat and
every reordering land on the same booking.
"""

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bookings.graph_events import EventNotABooking
from bookings.inbox import DeliveryIgnored
from bookings.models import BookingStatus
from bookings.selectors import booking_for_event
from bookings.services import BookingChange, BookingResult, booking_cancel_for_event, booking_upsert_from_event
from practitioners.graph import GraphClient, GraphNotFound
from practitioners.models import GraphSubscription, Practitioner
from practitioners.selectors import graph_subscription_get

logger = logging.getLogger("clinic.graph")

IGNORED_OUTCOMES = {
    BookingChange.ALREADY_CANCELLED: "the booking is cancelled, and cancellation is final",
    BookingChange.STALE: "a newer version of the event has already been applied",
}


def graph_notification_process(
    *, notification: Mapping[str, Any], client: GraphClient, now: datetime | None = None
) -> BookingResult:
    """Apply the change a stored notification announces to the practitioner's booking.

    Raises DeliveryIgnored, saying why, when there is nothing to do; lets Graph's errors
    through (the inbox marks the delivery failed and the sweep tries again later).
    """
    subscription = subscription_of(notification)
    practitioner = subscription.practitioner
    event_id = str(notification["resourceData"]["id"])
    if notification.get("changeType") == "deleted":
        return _booking_cancel(practitioner=practitioner, event_id=event_id, now=now)
    reason_not_to_fetch = _reason_not_to_fetch(
        practitioner=practitioner, event_id=event_id, etag=str(notification["resourceData"].get("@odata.etag", ""))
    )
    if reason_not_to_fetch:
        raise DeliveryIgnored(reason_not_to_fetch)
    if not practitioner.o365_mailbox:
        raise ValueError(f"practitioner #{practitioner.pk} has no Office 365 mailbox to read the event from")

    try:
        event = client.event_get(
            mailbox=practitioner.o365_mailbox, event_id=event_id, calendar_id=practitioner.o365_calendar_id
        )
    except GraphNotFound:
        # Deleted since the notification was sent: the deletion is the current state.
        return _booking_cancel(practitioner=practitioner, event_id=event_id, now=now)
    try:
        result = booking_upsert_from_event(practitioner=practitioner, event=event, now=now)
    except EventNotABooking as reason:
        raise DeliveryIgnored(f"not a patient's booking: {reason}") from None
    return _result_check(result)


def subscription_of(notification: Mapping[str, Any]) -> GraphSubscription:
    """The subscription a stored notification came through, or DeliveryIgnored if it is gone."""
    subscription = graph_subscription_get(graph_id=str(notification.get("subscriptionId", "")))
    if subscription is None:
        raise DeliveryIgnored("the subscription is no longer known")
    return subscription


def _reason_not_to_fetch(*, practitioner: Practitioner, event_id: str, etag: str) -> str:
    """Why the event need not be fetched at all, or "" when it must be.

    A cancelled booking stays cancelled whatever the event says, and a booking that already
    shows this version of the event (Graph often announces one change as both `created` and
    `updated`, and replays repeat it) would not change. Each fetch spared counts against
    Graph's throttling.
    """
    booking = booking_for_event(practitioner=practitioner, event_id=event_id)
    if booking is None:
        return ""
    if booking.status == BookingStatus.CANCELLED:
        return IGNORED_OUTCOMES[BookingChange.ALREADY_CANCELLED]
    if etag and booking.o365_etag == etag:
        return "this version of the event is already applied"
    return ""


def _booking_cancel(*, practitioner: Practitioner, event_id: str, now: datetime | None) -> BookingResult:
    result = booking_cancel_for_event(practitioner=practitioner, event_id=event_id, now=now)
    if result is None:
        raise DeliveryIgnored("no booking for this event")
    return _result_check(result)


def _result_check(result: BookingResult) -> BookingResult:
    logger.info("booking applied", extra={"booking_id": result.booking.pk, "change": result.change.value})
    if result.change in IGNORED_OUTCOMES:
        raise DeliveryIgnored(IGNORED_OUTCOMES[result.change])
    return result
