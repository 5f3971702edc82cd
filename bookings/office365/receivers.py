"""The Graph notification URLs: check what Graph posts, store the genuine notifications, 202.

Graph gives a receiver 3 seconds and throttles or drops subscriptions whose endpoint is
slow, so these views only check and store; the work happens on a worker afterwards.

Graph signs nothing: a notification is believed only when its subscription is one of ours,
it echoes that subscription's secret `clientState`, and it came to the URL that subscription
points at. Everything else is discarded and counted, never stored, so spam cannot fill the
inbox or reach a worker. Each genuine notification is stored as its own delivery (a POST
may carry several, for several calendars), keyed so that Graph's many duplicates land on
one row. Nothing here calls Graph: the worker re-fetches the event later.

The checks come first and the views, which need `NotificationUrl`, at the end.
"""

import hmac
import json
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from bookings.inbox.deliveries import delivery_store
from bookings.models import DeliverySource, InboundDelivery
from bookings.office365.errors import Office365Error
from bookings.untrusted_input import JSON_DEPTH_MAX, body_too_large_answer, json_nesting_depth
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


class MalformedNotificationsError(Office365Error):
    """A failure of the sender: the body is not a Graph notification batch at all; the message says what is wrong."""


@dataclass
class AcceptResult:
    stored: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


CHANGE_TYPES = frozenset({"created", "updated", "deleted"})
DELIVERY_KEY_MAX_LENGTH = InboundDelivery._meta.get_field("delivery_key").max_length or 1024
# Graph batches far fewer; a body with more is not Graph's and is refused before any lookup.
NOTIFICATIONS_PER_POST_MAX: Final = 1000
# Lookups a POST may spend on subscriptions we do not know; further unknown ones are rejected unread.
UNKNOWN_SUBSCRIPTIONS_PER_POST_MAX: Final = 10
# Graph's subscription ids are GUIDs; anything else is refused before it reaches the database.
SUBSCRIPTION_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
# Graph retries a lifecycle notification within minutes; the same event later is a new one.
LIFECYCLE_REPEAT_WINDOW_MINUTES: Final = 10


def notifications_accept(
    *, body: bytes, url: NotificationUrl, content_type: str = "application/json", now: datetime | None = None
) -> AcceptResult:
    """Store every genuine notification of a Graph POST to `url`; discard and count the rest.

    Raises MalformedNotificationsError when the body is not `{"value": [{...}, ...]}` of at most
    NOTIFICATIONS_PER_POST_MAX notifications, and lets DatabaseError through so the receiver
    can ask Graph to try again. `now` is when the POST arrived.
    """
    notifications = _notifications_parse(body)
    received_at = now or timezone.now()
    result = AcceptResult()
    subscriptions = _BatchSubscriptions()
    for notification in notifications:
        rejection = _notification_check(notification, url=url, subscriptions=subscriptions)
        if rejection is None and not _is_storable(delivery_key := _delivery_key(notification, received_at=received_at)):
            rejection = Rejection.MALFORMED
        if rejection is not None:
            result.rejected[rejection] += 1
            continue
        try:
            canonical_body = _canonical_body(notification)
        except UnicodeEncodeError:  # a lone surrogate, which no UTF-8 text can hold
            result.rejected[Rejection.MALFORMED] += 1
            continue
        stored = delivery_store(
            source=_source_of(notification),
            delivery_key=delivery_key,
            body=canonical_body,
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
    except (ValueError, RecursionError):
        # ValueError covers undecodable bytes and integers too long to convert; RecursionError,
        # nesting too deep to parse.
        raise MalformedNotificationsError("the body is not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("value"), list):
        raise MalformedNotificationsError('the body has no "value" list')
    if json_nesting_depth(document) > JSON_DEPTH_MAX:
        # Parsed, but storing it again as JSON could exhaust the stack.
        raise MalformedNotificationsError(f"the body is nested more than {JSON_DEPTH_MAX} levels deep")
    notifications: list[dict[str, Any]] = document["value"]
    if len(notifications) > NOTIFICATIONS_PER_POST_MAX:
        raise MalformedNotificationsError(f'"value" holds more than {NOTIFICATIONS_PER_POST_MAX} notifications')
    if not all(isinstance(notification, dict) for notification in notifications):
        raise MalformedNotificationsError('every item of "value" must be an object')
    return notifications


class _BatchSubscriptions:
    """The subscriptions one POST names, each read once.

    After UNKNOWN_SUBSCRIPTIONS_PER_POST_MAX unknown ones, any other id not yet read is taken
    as unknown without a query, so a POST of random ids costs a bounded number of queries.
    """

    def __init__(self) -> None:
        self._known: dict[str, SubscriptionCredentials] = {}
        self._unknown: set[str] = set()

    def get(self, graph_id: str) -> SubscriptionCredentials | None:
        if graph_id in self._known:
            return self._known[graph_id]
        if graph_id in self._unknown or len(self._unknown) >= UNKNOWN_SUBSCRIPTIONS_PER_POST_MAX:
            return None
        credentials = graph_subscription_credentials(graph_id=graph_id)
        if credentials is None:
            self._unknown.add(graph_id)
        else:
            self._known[graph_id] = credentials
        return credentials


def _notification_check(
    notification: dict[str, Any], *, url: NotificationUrl, subscriptions: _BatchSubscriptions
) -> Rejection | None:
    """Why this notification must be discarded, or None when it is genuine and well formed."""
    subscription_id = notification.get("subscriptionId")
    if not isinstance(subscription_id, str) or SUBSCRIPTION_ID.fullmatch(subscription_id) is None:
        return Rejection.MALFORMED
    subscription = subscriptions.get(subscription_id)
    if subscription is None:
        return Rejection.UNKNOWN_SUBSCRIPTION

    client_state = notification.get("clientState")
    if not isinstance(client_state, str) or not client_state:
        return Rejection.MISSING_CLIENT_STATE
    if not hmac.compare_digest(_utf8(client_state), _utf8(subscription.client_state)):
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


def _utf8(text: str) -> bytes:
    """The text as bytes to compare; a lone surrogate (never in our secrets) is kept, not an error."""
    return text.encode("utf-8", "surrogatepass")


def _delivery_key(notification: dict[str, Any], *, received_at: datetime) -> str:
    """The same change told twice gets the same key: Graph promises no id of its own.

    A lifecycle event repeats within one subscription period when it happens again (notifications
    missed twice), so its key also carries the LIFECYCLE_REPEAT_WINDOW_MINUTES window it arrived
    in: Graph's prompt retries of one delivery share a key, a later event gets its own. A retry
    that straddles two windows is stored twice, which is harmless: reauthorizing and resyncing
    twice change nothing.
    """
    subscription_id = notification["subscriptionId"]
    if _is_lifecycle(notification):
        expiry = notification.get("subscriptionExpirationDateTime", "")
        return f"{subscription_id}:{notification['lifecycleEvent']}:{expiry}:{_receipt_window(received_at)}"
    resource_data = notification["resourceData"]
    etag = resource_data.get("@odata.etag", "")
    return f"{subscription_id}:{resource_data['id']}:{notification['changeType']}:{etag}"


def _receipt_window(received_at: datetime) -> str:
    """The start of the LIFECYCLE_REPEAT_WINDOW_MINUTES window `received_at` falls in, in UTC."""
    moment = received_at.astimezone(UTC)
    start = moment.replace(
        minute=moment.minute - moment.minute % LIFECYCLE_REPEAT_WINDOW_MINUTES, second=0, microsecond=0
    )
    return start.strftime("%Y-%m-%dT%H:%MZ")


def _is_storable(delivery_key: str) -> bool:
    """Whether the key fits its column and can be stored as text by every database we run on."""
    if len(delivery_key) > DELIVERY_KEY_MAX_LENGTH or "\x00" in delivery_key:
        return False
    try:
        delivery_key.encode()
    except UnicodeEncodeError:
        return False
    return True


def _canonical_body(notification: dict[str, Any]) -> bytes:
    """The notification alone, as stable JSON, without the secret it has already proved."""
    kept = {key: value for key, value in notification.items() if key != "clientState"}
    return json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


GraphView = Callable[[HttpRequest], HttpResponse]


def graph_receiver(url: NotificationUrl) -> GraphView:
    """The view behind one of our Graph notification URLs.

    It answers Graph's validation handshake (`?validationToken=`, sent when a subscription
    is created) with the token itself, and otherwise accepts a batch of notifications.
    """

    @csrf_exempt
    def receive(request: HttpRequest) -> HttpResponse:
        if "validationToken" in request.GET:
            return validation_answer(request.GET["validationToken"])
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            body = request.body
        except RequestDataTooBig:
            return body_too_large_answer()
        try:
            notifications_accept(body=body, url=url, content_type=request.content_type or "")
        except MalformedNotificationsError as error:
            return JsonResponse({"error": str(error)}, status=400)
        except DatabaseError:
            # Graph retries a 5xx for up to 4 hours; what was stored before the failure
            # comes again under the same delivery keys and is not stored twice.
            logger.exception("graph notifications not stored", extra={"url": url.value})
            return JsonResponse({"error": "could not store the notifications; try again"}, status=503)
        return HttpResponse(status=202)

    receive.__name__ = f"graph_{url.value}_receiver"
    return receive


def validation_answer(token: str) -> HttpResponse:
    """The URL-decoded token, byte for byte, as plain text, which is what Graph checks.

    Plain text (never HTML) with nosniff set for the whole site means a token crafted as
    markup cannot run in anyone's browser.
    """
    return HttpResponse(token, content_type="text/plain; charset=utf-8")


graph_consultant_receiver = graph_receiver(NotificationUrl.CONSULTANT)
graph_practitioner_receiver = graph_receiver(NotificationUrl.PRACTITIONER)
graph_lifecycle_receiver = graph_receiver(NotificationUrl.LIFECYCLE)
