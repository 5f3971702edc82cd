"""Checking Microsoft Graph notifications as they arrive, and storing the genuine ones.

Graph signs nothing: a notification is believed only when its subscription is one of ours,
it echoes that subscription's secret `clientState`, and it came to the URL that subscription
points at. Everything else is discarded and counted, never stored, so spam cannot fill the
inbox or reach a worker. Each genuine notification is stored as its own delivery (a POST
may carry several, for several calendars), keyed so that Graph's many duplicates land on
one row. Nothing here calls Graph: the worker re-fetches the event later.
"""

import hmac
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bookings.inbox import delivery_store
from bookings.models import DeliverySource, InboundDelivery
from practitioners.models import SubscriptionReceiver
from practitioners.selectors import SubscriptionCredentials, graph_subscription_credentials

logger = logging.getLogger("clinic.graph")


class NotificationUrl(StrEnum):
    """Our three notification URLs, named after who may post to them."""

    CONSULTANT = SubscriptionReceiver.CONSULTANT.value
    PRACTITIONER = SubscriptionReceiver.PRACTITIONER.value
    LIFECYCLE = "lifecycle"


class Rejection(StrEnum):
    """Why a notification was discarded; logged as counts, never with the notification."""

    MALFORMED = "malformed"
    UNKNOWN_SUBSCRIPTION = "unknown_subscription"
    MISSING_CLIENT_STATE = "missing_client_state"
    WRONG_CLIENT_STATE = "wrong_client_state"
    WRONG_URL = "wrong_url"


class MalformedNotifications(Exception):  # noqa: N818 - names what the sender sent
    """The body is not a Graph notification batch at all; the message says what is wrong."""


@dataclass
class AcceptResult:
    stored: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


CHANGE_TYPES = frozenset({"created", "updated", "deleted"})
DELIVERY_KEY_MAX_LENGTH = InboundDelivery._meta.get_field("delivery_key").max_length or 1024


def notifications_accept(*, body: bytes, url: NotificationUrl, content_type: str = "application/json") -> AcceptResult:
    """Store every genuine notification of a Graph POST to `url`; discard and count the rest.

    Raises MalformedNotifications when the body is not `{"value": [{...}, ...]}`, and lets
    DatabaseError through so the receiver can ask Graph to try again.
    """
    notifications = _notifications_parse(body)
    result = AcceptResult()
    subscriptions: dict[str, SubscriptionCredentials | None] = {}
    for notification in notifications:
        rejection = _notification_check(notification, url=url, subscriptions=subscriptions)
        if rejection is None and len(delivery_key := _delivery_key(notification)) > DELIVERY_KEY_MAX_LENGTH:
            rejection = Rejection.MALFORMED
        if rejection is not None:
            result.rejected[rejection] += 1
            continue
        stored = delivery_store(
            source=_source_of(notification),
            delivery_key=delivery_key,
            body=_canonical_body(notification),
            headers={"Content-Type": content_type},
        )
        if stored.duplicate:
            result.duplicates += 1
        else:
            result.stored += 1

    if result.rejected:
        logger.warning(
            "graph notifications rejected",
            extra={"url": url.value, "rejected": sum(result.rejected.values()), "reasons": dict(result.rejected)},
        )
    # The request line and one "delivery stored" line per notification already tell the rest.
    logger.debug(
        "graph notifications accepted",
        extra={"url": url.value, "stored": result.stored, "duplicates": result.duplicates},
    )
    return result


def _notifications_parse(body: bytes) -> list[dict[str, Any]]:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedNotifications("the body is not JSON") from error
    if not isinstance(document, dict) or not isinstance(document.get("value"), list):
        raise MalformedNotifications('the body has no "value" list')
    notifications: list[dict[str, Any]] = document["value"]
    if not all(isinstance(notification, dict) for notification in notifications):
        raise MalformedNotifications('every item of "value" must be an object')
    return notifications


def _notification_check(
    notification: dict[str, Any], *, url: NotificationUrl, subscriptions: dict[str, SubscriptionCredentials | None]
) -> Rejection | None:
    """Why this notification must be discarded, or None when it is genuine and well formed.

    `subscriptions` remembers the lookups of this batch, so each subscription is read once.
    """
    subscription_id = notification.get("subscriptionId")
    if not isinstance(subscription_id, str) or not subscription_id:
        return Rejection.MALFORMED
    if subscription_id not in subscriptions:
        subscriptions[subscription_id] = graph_subscription_credentials(graph_id=subscription_id)
    subscription = subscriptions[subscription_id]
    if subscription is None:
        return Rejection.UNKNOWN_SUBSCRIPTION

    client_state = notification.get("clientState")
    if not isinstance(client_state, str) or not client_state:
        return Rejection.MISSING_CLIENT_STATE
    if not hmac.compare_digest(client_state.encode(), subscription.client_state.encode()):
        return Rejection.WRONG_CLIENT_STATE

    if _is_lifecycle(notification):
        # Lifecycle notifications go to the lifecycle URL, or to the notification URL of a
        # subscription created without one.
        if url not in (NotificationUrl.LIFECYCLE, subscription.receiver):
            return Rejection.WRONG_URL
        if not isinstance(notification.get("subscriptionExpirationDateTime", ""), str):
            return Rejection.MALFORMED
        return None

    if url != subscription.receiver:
        return Rejection.WRONG_URL
    resource_data = notification.get("resourceData")
    if (
        notification.get("changeType") not in CHANGE_TYPES
        or not isinstance(resource_data, dict)
        or not isinstance(resource_data.get("id"), str)
        or not resource_data["id"]
        or not isinstance(resource_data.get("@odata.etag", ""), str)
    ):
        return Rejection.MALFORMED
    return None


def _is_lifecycle(notification: dict[str, Any]) -> bool:
    return isinstance(notification.get("lifecycleEvent"), str) and bool(notification["lifecycleEvent"])


def _source_of(notification: dict[str, Any]) -> DeliverySource:
    return DeliverySource.GRAPH_LIFECYCLE if _is_lifecycle(notification) else DeliverySource.GRAPH


def _delivery_key(notification: dict[str, Any]) -> str:
    """The same change told twice gets the same key: Graph promises no id of its own."""
    subscription_id = notification["subscriptionId"]
    if _is_lifecycle(notification):
        expiry = notification.get("subscriptionExpirationDateTime", "")
        return f"{subscription_id}:{notification['lifecycleEvent']}:{expiry}"
    resource_data = notification["resourceData"]
    etag = resource_data.get("@odata.etag", "")
    return f"{subscription_id}:{resource_data['id']}:{notification['changeType']}:{etag}"


def _canonical_body(notification: dict[str, Any]) -> bytes:
    """The notification alone, as stable JSON, without the secret it has already proved."""
    kept = {key: value for key, value in notification.items() if key != "clientState"}
    return json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
