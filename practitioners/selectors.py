"""Reads of practitioner data that other apps reuse."""

import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User

from practitioners.models import GraphSubscription, Practitioner, StaffProfile


def graph_subscription_get(*, graph_id: str) -> GraphSubscription | None:
    """The subscription Graph calls `graph_id`, with its practitioner, or None."""
    return GraphSubscription.objects.select_related("practitioner").filter(graph_id=graph_id).first()


@dataclass(frozen=True)
class SubscriptionCredentials:
    """What a receiver needs to judge a notification: the secret and the URL it belongs to."""

    graph_id: str
    client_state: str
    receiver: str


# Far more than the practice has subscriptions; only ids of subscriptions we hold get in.
CREDENTIALS_CACHE_MAX_ENTRIES = 1000

_credentials_cache: dict[str, tuple[float, SubscriptionCredentials]] = {}
_credentials_lock = threading.Lock()


def graph_subscription_credentials(*, graph_id: str) -> SubscriptionCredentials | None:
    """The credentials of subscription `graph_id`, or None if we have no such subscription.

    Kept per process for GRAPH_SUBSCRIPTION_CACHE_SECONDS: receivers look them up for every
    notification while Graph waits, and they change only when a subscription is created or
    replaced. A subscription deleted within that window is still caught by the worker, which
    reads the row again before doing anything. An unknown id is not kept: Graph may notify
    through a new subscription before our row for it is committed, and spam with random ids
    would only fill the cache.
    """
    now = time.monotonic()
    with _credentials_lock:
        cached = _credentials_cache.get(graph_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    row = GraphSubscription.objects.filter(graph_id=graph_id).values_list("client_state", "receiver").first()
    if row is None:
        return None
    credentials = SubscriptionCredentials(graph_id, *row)
    with _credentials_lock:
        _credentials_cache.pop(graph_id, None)
        if len(_credentials_cache) >= CREDENTIALS_CACHE_MAX_ENTRIES:
            # The oldest entry goes: entries are (re)inserted when read, so it is the stalest.
            del _credentials_cache[next(iter(_credentials_cache))]
        _credentials_cache[graph_id] = (now + settings.GRAPH_SUBSCRIPTION_CACHE_SECONDS, credentials)
    return credentials


def graph_subscription_credentials_forget() -> None:
    """Drop the cached credentials (after this process creates or replaces subscriptions)."""
    with _credentials_lock:
        _credentials_cache.clear()


def staff_practitioner(*, user: User | AnonymousUser) -> Practitioner | None:
    """The practitioner a staff login belongs to, or None (cached on the user for the request)."""
    if not isinstance(user, User):
        return None
    if not hasattr(user, "_staff_practitioner"):
        profile = StaffProfile.objects.select_related("practitioner").filter(user=user).first()
        user._staff_practitioner = profile.practitioner if profile is not None else None  # type: ignore[attr-defined]
    practitioner: Practitioner | None = user._staff_practitioner  # type: ignore[attr-defined]
    return practitioner
