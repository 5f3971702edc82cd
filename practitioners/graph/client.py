"""`GraphClient`: every call the service makes to Microsoft Graph.

Framework-free on purpose (no Django here): the caller hands in the base URL and a function
that returns a bearer token. One `requests.Session`, a timeout on every call, and retries
only where a repeat cannot do harm: GET, PATCH and DELETE on throttling, gateway errors and
dropped connections; POST only when Graph refused it with 429/503 and a `Retry-After` (it has
not acted then), never after a timeout. Errors come out as the `GraphError` hierarchy below.

Each call is logged as one line per attempt on the "clinic.graph" logger with the method,
the path template ("/users/{mailbox}/events/{id}"), the status and the duration: never a
mailbox address, an id or anything an event contains.
"""

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from config.backoff import full_jitter_seconds

logger = logging.getLogger("clinic.graph")

Timeout = float | tuple[float, float]
JSON = dict[str, Any]

IDEMPOTENT_METHODS = frozenset({"GET", "PATCH", "DELETE"})
RETRYABLE_STATUSES = frozenset({429, 503, 504})
# Graph answers these before it acts on a request, so even a POST may be sent again, provided
# Graph said when (Retry-After).
THROTTLED_STATUSES = frozenset({429, 503})
BACKOFF_MAX_SECONDS = 10.0
# A runaway guard for paged answers; a calendar's delta over a few months is a handful of pages.
PAGES_MAX = 1000
PREFER_UTC = 'outlook.timezone="UTC"'
ERROR_MESSAGE_MAX = 300
# Graph quotes user principal names in some error messages; they never reach logs or admin.
_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
# Graph's code for an item that does not exist; other 404s name a missing user or mailbox.
ITEM_NOT_FOUND = "ErrorItemNotFound"
_EVENTS_RESOURCE = re.compile(r"/?users/(?P<mailbox>[^/]+)/(?:calendars/(?P<calendar>[^/]+)/)?events/?", re.IGNORECASE)
# Path segments keep "@" (user principal names) and "=" (base64 padding in ids) readable.
_SEGMENT_SAFE = "@="


class GraphError(Exception):
    """Base of every error raised by the client; `code` is Graph's error code when it sent one."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class GraphNotFoundError(GraphError):
    """A failure: the resource does not exist (404): a deleted event, an expired or removed subscription.

    Graph answers 404 for a missing mailbox or user too; `code` tells them apart.
    """


class GraphAuthError(GraphError):
    """No token could be had, or Graph refused it (401, 403): configuration, not luck."""


class GraphThrottledError(GraphError):
    """A failure that may pass: Graph asked us to slow down (429, 503) for longer than the client waits by itself."""

    def __init__(
        self, message: str, *, status: int | None = None, code: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class GraphServerError(GraphError):
    """Graph failed (5xx other than 503)."""


class GraphTransportError(GraphError):
    """No usable answer: timeout, refused or reset connection, or a success that is not JSON.

    After a POST this means the request may or may not have taken effect.
    """


class GraphDeltaExpiredError(GraphError):
    """A failure the caller recovers from: a delta link is no longer valid (410); the next
    round starts again without one."""


def is_item_gone(error: BaseException) -> bool:
    """Whether Graph said the item itself no longer exists, not that the mailbox or user is missing."""
    return isinstance(error, GraphNotFoundError) and error.code == ITEM_NOT_FOUND


def events_resource_parse(resource: str) -> tuple[str, str] | None:
    """(mailbox, calendar id or "") of a subscription resource, or None when it is not one we make.

    Ours are `users/{mailbox}/events` and `users/{mailbox}/calendars/{calendar}/events`.
    """
    match = _EVENTS_RESOURCE.fullmatch(resource.strip())
    if match is None:
        return None
    return match["mailbox"], match["calendar"] or ""


def is_transient(error: BaseException) -> bool:
    """Whether the same request may succeed if tried again later."""
    return isinstance(error, GraphThrottledError | GraphServerError | GraphTransportError)


@dataclass(frozen=True)
class DeltaPage:
    """What changed in a calendar view since the last round, and where the next round starts.

    An event changed several times within one round appears once, in its latest state; an
    event created and deleted within it appears only in `removed_ids`.
    """

    events: list[JSON]
    removed_ids: list[str]
    delta_link: str


class GraphClient:
    def __init__(
        self,
        *,
        base_url: str,
        token_provider: Callable[[], str],
        timeout: Timeout = (5.0, 20.0),
        session: requests.Session | None = None,
        max_retries: int = 3,
        backoff_seconds: float = 0.5,
        retry_after_max_seconds: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.retry_after_max_seconds = retry_after_max_seconds
        self._token_provider = token_provider
        self._session = session or requests.Session()
        self._sleep = sleep
        origin = urlsplit(self.base_url)
        self._origin = (origin.scheme, origin.netloc)

    # --- Events -----------------------------------------------------------------------

    def event_get(self, *, mailbox: str, event_id: str, calendar_id: str = "") -> JSON:
        """One event as it is now, its times in UTC."""
        path, template = _events_path(mailbox=mailbox, calendar_id=calendar_id)
        data = self._request(
            "GET",
            f"{path}/{_segment(event_id)}",
            f"{template}/{{id}}",
            headers={"Prefer": PREFER_UTC},
        )
        return _object(data, where=f"GET {template}/{{id}}")

    def calendar_delta(
        self, *, mailbox: str, start: datetime, end: datetime, delta_link: str = "", calendar_id: str = ""
    ) -> DeltaPage:
        """Every change to the calendar view from `start` to `end` since `delta_link`.

        Without a delta link this is the whole view (the first round). Graph fixes the window
        in the links it returns, so `start` and `end` only matter for the first round.
        """
        path, template = _calendar_view_path(mailbox=mailbox, calendar_id=calendar_id)
        template = f"{template}/delta"
        if delta_link:
            url, params = self._link(delta_link, template=template), None
        else:
            url, params = f"{self.base_url}{path}/delta", {"startDateTime": _iso(start), "endDateTime": _iso(end)}

        events: dict[str, JSON] = {}
        removed: dict[str, None] = {}
        for _ in range(PAGES_MAX):
            data = _object(
                self._request("GET", url, template, params=params, headers={"Prefer": PREFER_UTC}, absolute=True),
                where=f"GET {template}",
            )
            for item in data.get("value") or []:
                event_id = item.get("id") if isinstance(item, dict) else None
                if not isinstance(event_id, str) or not event_id:
                    continue  # nothing to apply it to; an empty id must never match a booking
                if "@removed" in item:
                    events.pop(event_id, None)
                    removed[event_id] = None
                else:
                    removed.pop(event_id, None)
                    events.pop(event_id, None)  # re-inserted last: the latest state wins
                    events[event_id] = item
            if data.get("@odata.deltaLink"):
                return DeltaPage(
                    events=list(events.values()), removed_ids=list(removed), delta_link=str(data["@odata.deltaLink"])
                )
            next_link = data.get("@odata.nextLink")
            if not next_link:
                raise GraphError(f"GET {template}: a page with neither a next link nor a delta link")
            url, params = self._link(str(next_link), template=template), None
        raise GraphError(f"GET {template}: more than {PAGES_MAX} pages")

    # --- Subscriptions ----------------------------------------------------------------

    def subscription_create(
        self,
        *,
        resource: str,
        notification_url: str,
        lifecycle_notification_url: str,
        client_state: str,
        expires_at: datetime,
        change_type: str = "created,updated,deleted",
    ) -> JSON:
        """Subscribe to changes of `resource`. Graph validates both URLs before it answers."""
        body = {
            "changeType": change_type,
            "notificationUrl": notification_url,
            "lifecycleNotificationUrl": lifecycle_notification_url,
            "resource": resource,
            "expirationDateTime": _iso(expires_at),
            "clientState": client_state,
        }
        data = self._request("POST", "/subscriptions", "/subscriptions", json=body)
        return _object(data, where="POST /subscriptions")

    def subscription_renew(self, *, subscription_id: str, expires_at: datetime) -> JSON:
        """Move the subscription's expiry; Graph answers with the subscription as it now is."""
        data = self._request(
            "PATCH",
            f"/subscriptions/{_segment(subscription_id)}",
            "/subscriptions/{id}",
            json={"expirationDateTime": _iso(expires_at)},
        )
        return _object(data, where="PATCH /subscriptions/{id}")

    def subscription_reauthorize(self, *, subscription_id: str) -> None:
        """Answer a `reauthorizationRequired` lifecycle notification."""
        path = f"/subscriptions/{_segment(subscription_id)}/reauthorize"
        self._request("POST", path, "/subscriptions/{id}/reauthorize")

    def subscription_delete(self, *, subscription_id: str) -> None:
        """Delete the subscription; one Graph no longer has counts as deleted."""
        try:
            self._request("DELETE", f"/subscriptions/{_segment(subscription_id)}", "/subscriptions/{id}")
        except GraphNotFoundError:
            return

    def subscriptions_list(self) -> list[JSON]:
        """Every subscription this application holds, all pages."""
        url = f"{self.base_url}/subscriptions"
        subscriptions: list[JSON] = []
        for _ in range(PAGES_MAX):
            data = _object(self._request("GET", url, "/subscriptions", absolute=True), where="GET /subscriptions")
            subscriptions.extend(data.get("value") or [])
            next_link = data.get("@odata.nextLink")
            if not next_link:
                return subscriptions
            url = self._link(str(next_link), template="/subscriptions")
        raise GraphError(f"GET /subscriptions: more than {PAGES_MAX} pages")

    # --- HTTP -------------------------------------------------------------------------

    def _link(self, link: str, *, template: str) -> str:
        """A next or delta link, refused unless it points at Graph: our token goes with it."""
        parts = urlsplit(link)
        if (parts.scheme, parts.netloc) != self._origin:
            raise GraphError(f"GET {template}: a link outside {self._origin[1]} was not followed")
        return link

    def _request(
        self,
        method: str,
        path: str,
        path_template: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        absolute: bool = False,
    ) -> Any:
        """Send one request, retrying where that is safe, and return the decoded JSON body."""
        url = path if absolute else f"{self.base_url}{path}"
        idempotent = method in IDEMPOTENT_METHODS
        attempt = 0
        retries = 0
        token_refreshed = False
        while True:
            attempt += 1
            request_headers = {
                "Authorization": f"Bearer {self._token_provider()}",
                "Accept": "application/json",
                **(headers or {}),
            }
            started = time.perf_counter()
            try:
                response = self._session.request(
                    method, url, params=params, json=json, headers=request_headers, timeout=self.timeout
                )
            except requests.RequestException as error:
                self._log(method, path_template, None, started, attempt)
                if idempotent and retries < self.max_retries:
                    retries += 1
                    self._sleep(self._backoff(retries))
                    continue
                raise GraphTransportError(f"{method} {path_template}: {type(error).__name__}") from error

            status = response.status_code
            self._log(method, path_template, status, started, attempt)
            if status == 401 and not token_refreshed:
                # The token may have expired between issue and use; the provider hands out a fresh one.
                token_refreshed = True
                continue
            wait = self._retry_wait(method, response, retries=retries + 1)
            if wait is not None and retries < self.max_retries:
                retries += 1
                self._sleep(wait)
                continue
            return _decoded(response, method=method, path_template=path_template)

    def _retry_wait(self, method: str, response: requests.Response, *, retries: int) -> float | None:
        """How long to wait before sending the request again, or None not to send it again."""
        status = response.status_code
        retry_after = _retry_after(response)
        if method in IDEMPOTENT_METHODS:
            if status not in RETRYABLE_STATUSES:
                return None
            wait = retry_after if retry_after is not None else self._backoff(retries)
        else:
            if status not in THROTTLED_STATUSES or retry_after is None:
                return None
            wait = retry_after
        return wait if wait <= self.retry_after_max_seconds else None

    def _backoff(self, retries: int) -> float:
        """Exponential back-off with full jitter, so several workers do not retry in step."""
        return full_jitter_seconds(attempt=retries, base_seconds=self.backoff_seconds, cap_seconds=BACKOFF_MAX_SECONDS)

    @staticmethod
    def _log(method: str, path_template: str, status: int | None, started: float, attempt: int) -> None:
        logger.info(
            "graph call",
            extra={
                "method": method,
                "path": path_template,
                "status": status,
                "attempt": attempt,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )


def _events_path(*, mailbox: str, calendar_id: str) -> tuple[str, str]:
    """The events collection of the mailbox's default calendar or of one of its calendars."""
    return _calendar_collection_path(mailbox=mailbox, calendar_id=calendar_id, collection="events")


def _calendar_view_path(*, mailbox: str, calendar_id: str) -> tuple[str, str]:
    return _calendar_collection_path(mailbox=mailbox, calendar_id=calendar_id, collection="calendarView")


def _calendar_collection_path(*, mailbox: str, calendar_id: str, collection: str) -> tuple[str, str]:
    """The path of `collection` in the mailbox's default calendar or in one of its calendars,
    and the template logged for it (no mailbox or id)."""
    if calendar_id:
        return (
            f"/users/{_segment(mailbox)}/calendars/{_segment(calendar_id)}/{collection}",
            f"/users/{{mailbox}}/calendars/{{calendar}}/{collection}",
        )
    return f"/users/{_segment(mailbox)}/{collection}", f"/users/{{mailbox}}/{collection}"


def _segment(value: str) -> str:
    if not value:
        raise ValueError("a Graph path segment cannot be empty")
    return quote(value, safe=_SEGMENT_SAFE)


def _iso(value: datetime) -> str:
    """ISO 8601 in UTC with a "Z", as Graph writes its own times."""
    if value.tzinfo is None:
        raise ValueError("Graph needs aware datetimes")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _object(data: Any, *, where: str) -> JSON:
    if not isinstance(data, dict):
        raise GraphTransportError(f"{where}: expected a JSON object")
    return data


def _decoded(response: requests.Response, *, method: str, path_template: str) -> Any:
    status = response.status_code
    where = f"{method} {path_template}"
    if 200 <= status < 300:
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise GraphTransportError(f"{where}: the response is not JSON", status=status) from None

    code, detail = _error_detail(response)
    message = f"{where}: {status}" + (f" {code}" if code else "") + (f": {detail}" if detail else "")
    if status in (401, 403):
        raise GraphAuthError(message, status=status, code=code)
    if status == 404:
        raise GraphNotFoundError(message, status=status, code=code)
    if status == 410:
        raise GraphDeltaExpiredError(message, status=status, code=code)
    if status in THROTTLED_STATUSES:
        raise GraphThrottledError(message, status=status, code=code, retry_after=_retry_after(response))
    if status >= 500:
        raise GraphServerError(message, status=status, code=code)
    raise GraphError(message, status=status, code=code)


def _error_detail(response: requests.Response) -> tuple[str, str]:
    """Graph's `{"error": {"code", "message"}}`, addresses removed; the reason phrase otherwise."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", response.reason or ""
    message = _ADDRESS.sub("[address]", str(error.get("message") or ""))
    if len(message) > ERROR_MESSAGE_MAX:
        message = message[: ERROR_MESSAGE_MAX - 1] + "…"
    return str(error.get("code") or ""), message


def _retry_after(response: requests.Response) -> float | None:
    """Retry-After in seconds, whether Graph sent seconds or an HTTP date."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(tz=UTC)).total_seconds())
