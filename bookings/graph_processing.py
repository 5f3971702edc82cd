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
from practitioners.graph import GraphClient, GraphNotFound, events_resource_parse, is_item_gone
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

    try:
        result = graph_event_apply(subscription=subscription, event_id=event_id, client=client, now=now)
    except EventNotABooking as reason:
        raise DeliveryIgnored(f"not a patient's booking: {reason}") from None
    if result is None:
        raise DeliveryIgnored("no booking for this event")
    return _result_check(result)


def graph_event_apply(
    *, subscription: GraphSubscription, event_id: str, client: GraphClient, now: datetime | None = None
) -> BookingResult | None:
    """Make the booking for event `event_id` agree with the event as Graph has it now.

    The event is fetched from the calendar the subscription watches. Only Graph saying the
    event itself does not exist cancels its booking (None when it had none); a 404 about the
    mailbox or user goes through with Graph's other errors, so the delivery fails where
    staff can see it instead of cancelling bookings. Raises EventNotABooking for an event
    that is not a patient's booking.
    """
    practitioner = subscription.practitioner
    mailbox, calendar_id = subscription_calendar(subscription)
    try:
        event = client.event_get(mailbox=mailbox, event_id=event_id, calendar_id=calendar_id)
    except GraphNotFound as error:
        if not is_item_gone(error):
            raise
        # Deleted since the change was announced: the deletion is the current state.
        return booking_cancel_for_event(practitioner=practitioner, event_id=event_id, now=now)
    return booking_upsert_from_event(practitioner=practitioner, event=event, now=now)


def subscription_calendar(subscription: GraphSubscription) -> tuple[str, str]:
    """(mailbox, calendar id or "") of the calendar the subscription watches.

    Read from the subscription's resource, which names the calendar Graph tells us about even
    after the practitioner's mailbox or calendar is changed; the practitioner's fields serve
    only when the resource is not one we recognise.
    """
    parsed = events_resource_parse(subscription.resource)
    if parsed is not None:
        return parsed
    practitioner = subscription.practitioner
    if not practitioner.o365_mailbox:
        raise ValueError(f"practitioner #{practitioner.pk} has no Office 365 mailbox to read the event from")
    return practitioner.o365_mailbox, practitioner.o365_calendar_id


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
