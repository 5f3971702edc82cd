"""The fake's state and behaviour, apart from HTTP: mailboxes and events, subscriptions, notifications,
delta rounds, tokens and throttling.

Two kinds of operations live here. Those a Graph client performs (`subscription_create`,
`event_read`, `delta_first_page`, ...) are called by the Graph API routes. Those that happen in
Outlook or to the fake itself (`add_mailbox`, `create_event`, `send_lifecycle`, `throttle_next`,
...) are called from Python and by the control routes; a change to an event notifies the
subscriptions that see it.
"""

import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from practitioners.fake_graph.calendar import Calendars, Change, StoredEvent, event_json
from practitioners.fake_graph.delta import DeltaPage, DeltaTracker
from practitioners.fake_graph.formats import GraphError, invalid_request, parse_timestamp
from practitioners.fake_graph.identity import IdentityProvider, TokenRegistry
from practitioners.fake_graph.notifications import (
    LIFECYCLE_EVENTS,
    Delivery,
    Dispatcher,
    change_notification,
    lifecycle_notification,
)
from practitioners.fake_graph.seed import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TENANT_ID,
    FAKE_MAILBOXES,
    MailboxSeed,
)
from practitioners.fake_graph.subscriptions import (
    Subscription,
    expiration_allowed,
    handshake,
    subscription_from_request,
)

REAL_GRAPH_URL = "https://graph.microsoft.com/v1.0"
THROTTLE_STATUSES = frozenset({429, 503})
_THROTTLE_ERRORS = {
    429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
    503: ("ServiceNotAvailable", "The service is temporarily unavailable. Retry after the time given."),
}


@dataclass
class Throttle:
    """The next `count` Graph requests whose path starts with `path_prefix` are answered `status`."""

    status: int
    count: int
    path_prefix: str | None
    retry_after: int

    def matches(self, path: str) -> bool:
        if self.path_prefix is None:
            return True
        # A prefix may be given with or without the version segment; Graph's paths ignore case.
        path, prefix = path.lower(), self.path_prefix.lower()
        return path.startswith(prefix) or path.startswith("/v1.0" + prefix)

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "count": self.count,
            "path_prefix": self.path_prefix,
            "retry_after": self.retry_after,
        }


@dataclass
class Options:
    duplicate_updates: bool = False
    """Send every `updated` notification twice in its POST, as Graph often does."""
    delta_page_size: int = 10
    """Events per delta page, unless the request asks for fewer with `Prefer: odata.maxpagesize`."""

    def as_json(self) -> dict[str, Any]:
        return {"duplicate_updates": self.duplicate_updates, "delta_page_size": self.delta_page_size}


class FakeGraph:
    """Microsoft Graph's calendars and subscriptions for one tenant and one application, in memory."""

    def __init__(
        self,
        *,
        tenant_id: str = DEFAULT_TENANT_ID,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        mailboxes: Iterable[MailboxSeed] | None = None,
        duplicate_updates: bool = False,
        delta_page_size: int = 10,
    ) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        # Graph reports the service principal that created a subscription; any stable id will do.
        self.creator_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-graph:{tenant_id}:{client_id}"))
        self.tokens = TokenRegistry()
        self.identity = IdentityProvider(
            tenant_id=tenant_id, client_id=client_id, client_secret=client_secret, tokens=self.tokens
        )
        # Where the Graph API is served, for links and `@odata.context`; set by the server once bound.
        self.graph_url = REAL_GRAPH_URL
        self._seed_mailboxes = list(FAKE_MAILBOXES.values() if mailboxes is None else mailboxes)
        self._seed_options = Options(duplicate_updates, delta_page_size)
        self._dispatcher = Dispatcher()
        self._lock = threading.RLock()
        self._calendars = Calendars()
        self._subscriptions: dict[str, Subscription] = {}
        self._throttles: list[Throttle] = []
        self._delta = DeltaTracker()
        self._requests: list[dict[str, Any]] = []
        self.options = Options()
        self.reset()

    # Control: what happens in Outlook, or to the fake itself.

    def reset(self) -> None:
        """Back to the state at construction: the seeded mailboxes with no events, no subscriptions,
        notifications, throttling, delta tokens or request log, the options given then, and a token count
        of 0 (tokens already issued stay valid)."""
        with self._lock:
            self._calendars = Calendars()
            for seed in self._seed_mailboxes:
                self._mailbox_add(seed)
            self._subscriptions.clear()
            self._throttles.clear()
            self._delta.forget()
            self._requests.clear()
            self.options = Options(self._seed_options.duplicate_updates, self._seed_options.delta_page_size)
            self.tokens.reset_count()
            self._dispatcher.clear()

    def add_mailbox(self, *, principal_name: str, display_name: str, id: str | None = None) -> dict[str, Any]:
        """Adds a user with a mailbox; returns `{id, principal_name, display_name, calendar_id, ...}`."""
        with self._lock:
            return self._mailbox_add(MailboxSeed(id=id or "", principal_name=principal_name, display_name=display_name))

    def add_calendar(self, mailbox: str) -> str:
        """Adds a calendar besides the mailbox's default one; returns its id."""
        with self._lock:
            return self._calendars.calendar_add(self._calendars.mailbox_get(mailbox))

    def mailboxes(self) -> list[dict[str, Any]]:
        with self._lock:
            return [m.as_json() for m in self._calendars.mailboxes.values()]

    def create_event(self, mailbox: str, event: Mapping[str, Any]) -> dict[str, Any]:
        """Creates an event from a Graph-shaped body (`subject`, `body`, `start`, `end`, `attendees`, ...;
        `bodyPreview`, `id`, `iCalUId` and `calendarId` may be given too) and notifies `created`.

        `mailbox` is the user's id or principal name. Returns the event as Graph's GET returns it.
        """
        with self._lock:
            change = self._calendars.event_create(self._calendars.mailbox_get(mailbox), event)
            return self._changed(change)

    def update_event(self, mailbox: str, event_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Changes some of an event's properties (a new etag) and notifies `updated`."""
        with self._lock:
            change = self._calendars.event_update(self._calendars.mailbox_get(mailbox), event_id, changes)
            return self._changed(change)

    def delete_event(self, mailbox: str, event_id: str) -> None:
        """Deletes an event and notifies `deleted`; reading it then answers 404."""
        with self._lock:
            self._changed(self._calendars.event_delete(self._calendars.mailbox_get(mailbox), event_id))

    def events(self, mailbox: str) -> list[dict[str, Any]]:
        """The mailbox's events (all its calendars), earliest first."""
        with self._lock:
            return [self._event_json(e) for e in self._calendars.events_of(self._calendars.mailbox_get(mailbox))]

    def subscriptions(self) -> list[dict[str, Any]]:
        with self._lock:
            return [s.as_json() for s in self._live_subscriptions()]

    def forget_subscriptions(self) -> int:
        """Drops every subscription without a word to anyone, as Graph may (an administrator deleted
        them, a lost `subscriptionRemoved`); returns how many there were."""
        with self._lock:
            count = len(self._subscriptions)
            self._subscriptions.clear()
            return count

    def notifications(self) -> list[Delivery]:
        """Every POST of notifications made so far (change and lifecycle), oldest first."""
        return self._dispatcher.deliveries()

    def wait_for_notifications(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        """The deliveries once there are at least `count`; raises TimeoutError after `timeout` seconds."""
        return self._dispatcher.wait_for(count, timeout)

    def send_lifecycle(self, subscription_id: str, lifecycle_event: str, timeout: float = 10.0) -> Delivery:
        """Sends a lifecycle notification to the subscription's `lifecycleNotificationUrl` and returns its
        delivery. `subscriptionRemoved` also deletes the subscription, as Graph has by then."""
        if lifecycle_event not in LIFECYCLE_EVENTS:
            raise invalid_request(f"lifecycleEvent must be one of {', '.join(sorted(LIFECYCLE_EVENTS))}.")
        with self._lock:
            subscription = self._subscription(subscription_id)
            if subscription.lifecycle_notification_url is None:
                raise invalid_request("The subscription has no lifecycleNotificationUrl.")
            if lifecycle_event == "subscriptionRemoved":
                del self._subscriptions[subscription.id]
            payload = {"value": [lifecycle_notification(subscription, lifecycle_event, self.tenant_id)]}
            job = self._dispatcher.send("lifecycle", subscription.lifecycle_notification_url, payload)
        if not job.done.wait(timeout) or job.delivery is None:
            raise TimeoutError(f"the lifecycle notification was not delivered within {timeout} s")
        return job.delivery

    def tokens_issued(self) -> int:
        """Access tokens the identity provider has issued (since the last reset)."""
        return self.tokens.issued

    def expire_tokens(self) -> None:
        """Makes every access token issued so far expired: Graph answers 401 until a new one is used."""
        self.tokens.expire_all()

    def expire_delta_tokens(self) -> None:
        """Forgets every delta and skip token: following an old link answers 410."""
        with self._lock:
            self._delta.forget()

    def throttle_next(
        self, *, status: int = 429, count: int = 1, path_prefix: str | None = None, retry_after: int = 1
    ) -> None:
        """Answers the next `count` Graph API requests (whose path starts with `path_prefix`, with or
        without `/v1.0`) with `status` and `Retry-After: retry_after`. Rules queue up in order."""
        if status not in THROTTLE_STATUSES or count < 1 or retry_after < 0:
            raise invalid_request("status must be 429 or 503, count at least 1 and retry_after at least 0.")
        with self._lock:
            self._throttles.append(Throttle(status, count, path_prefix, retry_after))

    def throttles(self) -> list[dict[str, Any]]:
        with self._lock:
            return [t.as_json() for t in self._throttles]

    def set_options(self, *, duplicate_updates: bool | None = None, delta_page_size: int | None = None) -> Options:
        with self._lock:
            if duplicate_updates is not None:
                self.options.duplicate_updates = duplicate_updates
            if delta_page_size is not None:
                if delta_page_size < 1:
                    raise invalid_request("delta_page_size must be at least 1.")
                self.options.delta_page_size = delta_page_size
            return self.options

    def requests(self) -> list[dict[str, Any]]:
        """The Graph API requests answered so far: `{method, path, status}`, oldest first."""
        with self._lock:
            return [dict(r) for r in self._requests]

    # Graph API: what a client of Graph does. Each raises GraphError for what Graph refuses.

    def authenticate(self, authorization: str) -> None:
        scheme, _, token = authorization.partition(" ")
        refusal = self.tokens.refusal(token.strip() if scheme.lower() == "bearer" else "")
        if refusal is not None:
            raise GraphError(
                401,
                "InvalidAuthenticationToken",
                refusal,
                headers=(("WWW-Authenticate", f'Bearer realm="", authorization_uri="{self.identity.authority_host}"'),),
            )

    def check_throttling(self, path: str) -> None:
        with self._lock:
            rule = next((t for t in self._throttles if t.matches(path)), None)
            if rule is None:
                return
            rule.count -= 1
            if rule.count == 0:
                self._throttles.remove(rule)
        code, message = _THROTTLE_ERRORS[rule.status]
        raise GraphError(rule.status, code, message, headers=(("Retry-After", str(rule.retry_after)),))

    def record_request(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._requests.append({"method": method, "path": path, "status": status})

    def subscription_create(self, body: Any) -> dict[str, Any]:
        """Checks the request, performs the validation handshake with each endpoint, then creates it."""
        with self._lock:
            subscription = subscription_from_request(
                body,
                calendars=self._calendars,
                application_id=self.client_id,
                creator_id=self.creator_id,
                now=datetime.now(UTC),
            )
        # Outside the lock: the subscriber may well call Graph while it answers.
        handshake(subscription.notification_url)
        if subscription.lifecycle_notification_url is not None:
            handshake(subscription.lifecycle_notification_url)
        with self._lock:
            self._subscriptions[subscription.id] = subscription
            return subscription.as_json()

    def subscription_get(self, subscription_id: str) -> dict[str, Any]:
        with self._lock:
            return self._subscription(subscription_id).as_json()

    def subscription_update(self, subscription_id: str, body: Any) -> dict[str, Any]:
        """Renews: only `expirationDateTime` may change, within the same limits as at creation."""
        if not isinstance(body, Mapping) or set(body) != {"expirationDateTime"}:
            raise invalid_request("Only expirationDateTime can be updated on an event subscription.")
        with self._lock:
            subscription = self._subscription(subscription_id)
            subscription.expiration = expiration_allowed(body["expirationDateTime"], now=datetime.now(UTC))
            return subscription.as_json()

    def subscription_reauthorize(self, subscription_id: str) -> None:
        with self._lock:
            self._subscription(subscription_id)

    def subscription_delete(self, subscription_id: str) -> None:
        with self._lock:
            del self._subscriptions[self._subscription(subscription_id).id]

    def event_read(
        self, user: str, event_id: str, *, calendar_id: str | None = None, view_zone: str | None = None
    ) -> dict[str, Any]:
        with self._lock:
            mailbox = self._calendars.mailbox_get(user)
            event = self._calendars.event_get(mailbox, event_id, calendar_id)
            return event_json(event, view_zone=view_zone)

    def delta_first_page(self, user: str, start: str | None, end: str | None, page_size: int | None) -> DeltaPage:
        if start is None or end is None:
            raise GraphError(400, "ErrorInvalidParameter", "startDateTime and endDateTime are required.")
        window_start = parse_timestamp(start, "startDateTime")
        window_end = parse_timestamp(end, "endDateTime")
        if window_end <= window_start:
            raise GraphError(400, "ErrorInvalidParameter", "endDateTime must be after startDateTime.")
        with self._lock:
            mailbox = self._calendars.mailbox_get(user)
            token = self._delta.first_round(self._calendars, mailbox, window_start, window_end, self._delta_item)
            return self._delta.page(mailbox, token, self._page_size(page_size))

    def delta_next_page(self, user: str, skip_token: str, page_size: int | None) -> DeltaPage:
        with self._lock:
            return self._delta.page(self._calendars.mailbox_get(user), skip_token, self._page_size(page_size))

    def delta_next_round(self, user: str, delta_token: str, page_size: int | None) -> DeltaPage:
        with self._lock:
            mailbox = self._calendars.mailbox_get(user)
            token = self._delta.next_round(self._calendars, mailbox, delta_token, self._delta_item)
            return self._delta.page(mailbox, token, self._page_size(page_size))

    # Internals; callers hold the lock.

    def _mailbox_add(self, seed: MailboxSeed) -> dict[str, Any]:
        mailbox = self._calendars.mailbox_add(
            id=seed.get("id") or None, principal_name=seed["principal_name"], display_name=seed["display_name"]
        )
        return mailbox.as_json()

    def _changed(self, change: Change) -> dict[str, Any]:
        """Notifies every subscription that sees the change: one POST per notification URL, as Graph
        batches the notifications bound for one endpoint."""
        event = change.event
        batches: dict[str, list[dict[str, Any]]] = {}
        for subscription in self._live_subscriptions():
            if subscription.sees(event.mailbox, event.calendar_id, change.change_type):
                item = change_notification(subscription, change.change_type, event, self.tenant_id)
                copies = 2 if change.change_type == "updated" and self.options.duplicate_updates else 1
                batches.setdefault(subscription.notification_url, []).extend([item] * copies)
        for url, items in batches.items():
            self._dispatcher.send("change", url, {"value": items})
        return self._event_json(event)

    def _event_json(self, event: StoredEvent) -> dict[str, Any]:
        return {
            "@odata.context": f"{self.graph_url}/$metadata#users('{event.mailbox.id}')/events/$entity"
        } | event_json(event)

    def _delta_item(self, event: StoredEvent) -> dict[str, Any]:
        return {"@odata.type": "#microsoft.graph.event"} | event_json(event)

    def _page_size(self, requested: int | None) -> int:
        if requested is None or requested < 1:
            return self.options.delta_page_size
        return min(requested, self.options.delta_page_size)

    def _live_subscriptions(self) -> list[Subscription]:
        """The subscriptions not yet expired; Graph deletes a subscription that was not renewed in time."""
        now = datetime.now(UTC)
        for expired in [s for s in self._subscriptions.values() if s.expiration <= now]:
            del self._subscriptions[expired.id]
        return list(self._subscriptions.values())

    def _subscription(self, subscription_id: str) -> Subscription:
        self._live_subscriptions()
        subscription = self._subscriptions.get(subscription_id)
        if subscription is None:
            raise GraphError(404, "ResourceNotFound", f"The object '{subscription_id}' was not found.")
        return subscription
