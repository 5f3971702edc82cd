"""Keeping a calendar's bookings whole when its Graph subscription has trouble.

Graph tells the lifecycle URL when a subscription needs its authorisation renewed, when it
has been removed, and when notifications were missed. Removal and missed notifications
both leave gaps, which `calendar_resync` fills by reading the calendar's changes (Graph's
delta query) and applying each changed event exactly as a change notification would.
"""

import json
import logging
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from bookings.inbox.deliveries import DeliveryIgnoredError, delivery_store
from bookings.models import DeliverySource, InboundDelivery
from bookings.office365.errors import Office365Error
from bookings.office365.events import EventNotABookingError
from bookings.office365.processing import (
    delivery_notification,
    graph_event_apply,
    subscription_calendar,
    subscription_of,
)
from practitioners import clients
from practitioners.graph import subscriptions
from practitioners.graph.client import DeltaPage, GraphClient, GraphDeltaExpiredError, GraphError
from practitioners.models import GraphSubscription, SubscriptionGap

logger = logging.getLogger("clinic.graph")

RESYNC_DAYS_BEHIND = 1


class SubscriptionUpkeepFailedError(Office365Error):
    """A failure: Graph refused to keep a subscription going; the message is Graph's error, no patient data."""


def graph_lifecycle_delivery_handle(delivery: InboundDelivery) -> None:
    """The inbox's handler for Graph lifecycle deliveries (registered from `BookingsConfig.ready`)."""
    graph_lifecycle_process(notification=delivery_notification(delivery), client=clients.graph_client())


def graph_lifecycle_process(
    *, notification: Mapping[str, Any], client: GraphClient, now: datetime | None = None
) -> None:
    """Answer one stored lifecycle notification; DeliveryIgnoredError for an unknown subscription or event."""
    subscription = subscription_of(notification)
    lifecycle_event = notification.get("lifecycleEvent")
    if lifecycle_event == "reauthorizationRequired":
        outcome = subscriptions.graph_subscription_reauthorize(subscription=subscription, client=client, now=now)
        if outcome in (subscriptions.RenewOutcome.FAILED, subscriptions.RenewOutcome.FAILED_TRANSIENT):
            # Recorded on the subscription too; failing the delivery has the sweep try again.
            raise SubscriptionUpkeepFailedError(f"reauthorizing the subscription failed: {subscription.last_error}")
    elif lifecycle_event == "subscriptionRemoved":
        replacement = subscriptions.graph_subscription_replace(subscription=subscription, client=client, now=now)
        _resync_after_replacement(
            subscription=replacement, replaced_graph_id=subscription.graph_id, client=client, now=now
        )
    elif lifecycle_event == "missed":
        calendar_resync(subscription=subscription, client=client, now=now)
    else:
        raise DeliveryIgnoredError("not a lifecycle event this service acts on")


def calendar_resync(
    *, subscription: GraphSubscription, client: GraphClient, now: datetime | None = None
) -> Counter[str]:
    """Apply every change to the subscription's calendar since the last resync; counts by outcome.

    The first resync reads from yesterday to GRAPH_RESYNC_DAYS_AHEAD days ahead (the furthest
    date patients can book), importing the events already in a newly subscribed calendar;
    later ones continue from the saved delta link (or start over when Graph no longer knows
    it). A resync that read the whole window records it in `calendar_imported_at`. The new
    delta link is saved only once every change has been applied, so a resync that fails
    half-way is repeated whole; then the calendar's open gaps (`SubscriptionGap`) are closed.

    Graph's delta items carry only what changed, so each is taken as an event id only: the
    event is fetched and applied as a change notification would apply it, and a removal
    cancels a booking only once Graph confirms the event is gone.
    """
    now = now or timezone.now()
    requested_at = (
        GraphSubscription.objects.filter(pk=subscription.pk).values_list("resync_requested_at", flat=True).first()
    )
    page, read_in_full = _delta_read(subscription=subscription, client=client, now=now)
    outcomes: Counter[str] = Counter()
    for event_id in _changed_event_ids(page):
        try:
            result = graph_event_apply(subscription=subscription, event_id=event_id, client=client, now=now)
        except EventNotABookingError:
            outcomes["not_a_booking"] += 1
        else:
            outcomes[result.change.value if result else "no_booking"] += 1

    subscription.delta_link = page.delta_link
    changed = ["delta_link", "updated_at"]
    if read_in_full:
        subscription.calendar_imported_at = now
        changed.append("calendar_imported_at")
    subscription.save(update_fields=changed)
    SubscriptionGap.objects.filter(practitioner_id=subscription.practitioner_id, recovered_at__isnull=True).update(
        recovered_at=now
    )
    if requested_at is not None:
        # Cleared only if nobody asked again while this resync ran.
        GraphSubscription.objects.filter(pk=subscription.pk, resync_requested_at=requested_at).update(
            resync_requested_at=None
        )
    logger.info("calendar resynced", extra={"subscription_id": subscription.pk, "outcomes": dict(outcomes)})
    return outcomes


def due_calendars_resync(*, client: GraphClient, now: datetime | None = None) -> int:
    """Resync every calendar whose subscription asked for it; returns how many were resynced.

    A subscription that had to be recreated (Graph had dropped it) asks for one, so changes
    made while nothing was watching still become bookings. A calendar that fails stays asked
    for and is tried again on the next round.
    """
    resynced = 0
    for subscription in GraphSubscription.objects.select_related("practitioner").filter(
        resync_requested_at__isnull=False
    ):
        try:
            calendar_resync(subscription=subscription, client=client, now=now)
        except GraphError as error:
            logger.warning(
                "requested calendar resync failed; tried again next round",
                extra={"subscription_id": subscription.pk, "error": type(error).__name__},
            )
            continue
        resynced += 1
    return resynced


def calendar_subscriptions_upkeep(*, client: GraphClient) -> tuple[dict[str, int], bool]:
    """Check that Graph still holds every subscription, subscribe the calendars that have none,
    then import or resync the calendars that asked for it (new and recreated subscriptions), at
    once rather than at the next round of `due_calendars_resync`.

    Returns the counts of what was done, and whether to try again soon: another pass held the
    upkeep lease, or Graph failed in a way that may pass.
    """
    report = subscriptions.graph_subscriptions_check(client=client)
    return report.counts() | {"resynced": due_calendars_resync(client=client)}, report.retry_later


def _changed_event_ids(page: DeltaPage) -> list[str]:
    """The ids of the events changed or removed, each once; items without an id are skipped."""
    ids = [event.get("id") for event in page.events] + list(page.removed_ids)
    return list(dict.fromkeys(event_id for event_id in ids if isinstance(event_id, str) and event_id))


def _resync_after_replacement(
    *, subscription: GraphSubscription, replaced_graph_id: str, client: GraphClient, now: datetime | None
) -> None:
    """Resync the calendar a replacement subscription watches.

    The removed subscription's row is gone by now, so a retry of the removal notification
    could not find it: a resync that fails here is stored as a `missed` notification of the
    replacement instead, which the inbox retries like any other.
    """
    try:
        calendar_resync(subscription=subscription, client=client, now=now)
    except Exception as error:  # noqa: BLE001 - whatever failed, the resync is stored to be retried
        logger.warning(
            "calendar resync after replacing a subscription failed; stored to be retried",
            extra={"subscription_id": subscription.pk, "error": type(error).__name__},
        )
        follow_up = {"subscriptionId": subscription.graph_id, "lifecycleEvent": "missed"}
        delivery_store(
            source=DeliverySource.GRAPH_LIFECYCLE,
            delivery_key=f"{subscription.graph_id}:missed:replacing:{replaced_graph_id}",
            body=json.dumps(follow_up, sort_keys=True).encode(),
            headers={"Content-Type": "application/json"},
        )


def _delta_read(*, subscription: GraphSubscription, client: GraphClient, now: datetime) -> tuple[DeltaPage, bool]:
    """The changes since the saved delta link, and whether the whole window was read instead."""
    mailbox, calendar_id = subscription_calendar(subscription)

    def changes_since(delta_link: str) -> DeltaPage:
        return client.calendar_delta(
            mailbox=mailbox,
            calendar_id=calendar_id,
            start=now - timedelta(days=RESYNC_DAYS_BEHIND),
            end=now + timedelta(days=settings.GRAPH_RESYNC_DAYS_AHEAD),
            delta_link=delta_link,
        )

    try:
        return changes_since(subscription.delta_link), not subscription.delta_link
    except GraphDeltaExpiredError:
        if not subscription.delta_link:
            raise
        return changes_since(""), True
