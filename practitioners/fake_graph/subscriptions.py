"""Change-notification subscriptions on calendars: the checks Graph makes when one is created or
renewed, and the validation handshake it performs with the subscriber's endpoints.

Rules for Outlook events (Graph's subscription resource documentation): at most 10,080 minutes of
life, values under 45 minutes become 45; `clientState` up to 128 characters; `users/{id}/events`
sees the mailbox's default calendar, `users/{id}/calendars/{id}/events` one calendar.
"""

import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote_plus, urlsplit

import requests

from practitioners.fake_graph.calendar import Calendars, Mailbox
from practitioners.fake_graph.formats import GraphError, graph_timestamp, invalid_request, parse_timestamp

MAX_LIFETIME = timedelta(minutes=10_080)
MIN_LIFETIME = timedelta(minutes=45)
MAX_CLIENT_STATE_LENGTH = 128
HANDSHAKE_TIMEOUT_SECONDS = 10
CHANGE_TYPES = frozenset({"created", "updated", "deleted"})

_RESOURCE = re.compile(r"/?users/(?P<user>[^/]+)(?:/calendars/(?P<calendar>[^/]+))?/events", re.IGNORECASE)


@dataclass
class Subscription:
    id: str
    resource: str
    change_types: tuple[str, ...]
    notification_url: str
    lifecycle_notification_url: str | None
    client_state: str | None
    expiration: datetime
    mailbox: Mailbox
    calendar_id: str
    application_id: str
    creator_id: str

    def sees(self, mailbox: Mailbox, calendar_id: str, change_type: str) -> bool:
        return self.mailbox.id == mailbox.id and self.calendar_id == calendar_id and change_type in self.change_types

    def as_json(self) -> dict[str, Any]:
        """The subscription resource, as Graph returns it (without `@odata.context`)."""
        return {
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.application_id,
            "changeType": ",".join(self.change_types),
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": self.lifecycle_notification_url,
            "expirationDateTime": graph_timestamp(self.expiration),
            "creatorId": self.creator_id,
            "includeResourceData": None,
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationUrlAppId": None,
        }


def subscription_from_request(
    body: Any, *, calendars: Calendars, application_id: str, creator_id: str, now: datetime
) -> Subscription:
    """A subscription built from a `POST /subscriptions` body, checked as Graph checks it (before the
    handshake); raises GraphError for a body Graph would refuse."""
    if not isinstance(body, Mapping):
        raise invalid_request("The request body must be a JSON object.")
    change_types = _change_types(body.get("changeType"))
    notification_url = _endpoint(body.get("notificationUrl"), "notificationUrl")
    lifecycle_url = body.get("lifecycleNotificationUrl")
    if lifecycle_url is not None:
        lifecycle_url = _endpoint(lifecycle_url, "lifecycleNotificationUrl")
    resource = body.get("resource")
    mailbox, calendar_id = _resource(resource, calendars)
    client_state = body.get("clientState")
    if client_state is not None and (not isinstance(client_state, str) or len(client_state) > MAX_CLIENT_STATE_LENGTH):
        raise invalid_request(f"clientState must be a string of at most {MAX_CLIENT_STATE_LENGTH} characters.")
    return Subscription(
        id=str(uuid.uuid4()),
        resource=str(resource),
        change_types=change_types,
        notification_url=notification_url,
        lifecycle_notification_url=lifecycle_url,
        client_state=client_state,
        expiration=expiration_allowed(body.get("expirationDateTime"), now=now),
        mailbox=mailbox,
        calendar_id=calendar_id,
        application_id=application_id,
        creator_id=creator_id,
    )


def expiration_allowed(value: Any, *, now: datetime) -> datetime:
    """The expiration Graph keeps for a requested `expirationDateTime`; raises GraphError for one it refuses."""
    if value is None:
        raise invalid_request("expirationDateTime is required.")
    expiration = parse_timestamp(value, "expirationDateTime")
    if expiration <= now:
        raise invalid_request("Subscription expiration must be in the future.")
    if expiration - now > MAX_LIFETIME:
        raise invalid_request(
            f"Subscription expiration can only be {MAX_LIFETIME // timedelta(minutes=1)} minutes in the future."
        )
    return max(expiration, now + MIN_LIFETIME)


def handshake(url: str, *, timeout: float = HANDSHAKE_TIMEOUT_SECONDS) -> None:
    """Performs Graph's validation handshake with `url`; raises GraphError ("ValidationError") on failure.

    Graph POSTs `?validationToken=<token>` with an empty body and expects, within 10 seconds, 200 with
    `Content-Type: text/plain` and the decoded token as the body. Like Graph (.NET's UrlEncode) the
    token is encoded with `+` for spaces (Graph writes its escapes in lower case, `%3a`; urllib3
    upper-cases them); it also holds `+`, `/` and `=`, so that a receiver that decodes twice, or not
    at all, fails here rather than in production.
    """
    token = validation_token()
    separator = "&" if urlsplit(url).query else "?"
    target = f"{url}{separator}validationToken={quote_plus(token)}"
    started = time.monotonic()
    try:
        with requests.Session() as session:
            session.trust_env = False
            response = session.post(
                target,
                data=b"",
                headers={"Content-Type": "text/plain; charset=utf-8"},
                timeout=timeout,
                allow_redirects=False,
            )
    except requests.Timeout:
        raise _validation_error("Subscription validation request timed out.") from None
    except requests.RequestException as error:
        raise _validation_error(f"Subscription validation request failed: {type(error).__name__}.") from None
    if response.status_code != 200:
        raise _validation_error(
            "Subscription validation request failed. Notification endpoint must respond with 200 OK to "
            f"validation request (it answered {response.status_code})."
        )
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != "text/plain":
        raise _validation_error(
            f"Subscription validation request failed. Response must be text/plain (it was '{content_type}')."
        )
    if response.content != token.encode("utf-8"):
        raise _validation_error(
            "Subscription validation request failed. Response must exactly match validationToken query parameter."
        )
    if time.monotonic() - started > timeout:
        raise _validation_error("Subscription validation request timed out.")


def validation_token() -> str:
    request_id = uuid.uuid4()
    nonce = uuid.uuid4().hex
    return (
        f"Validation: Testing client application reachability for subscription Request-Id: {request_id} "
        f"Nonce: {nonce[:8]}+{nonce[8:16]}/{nonce[16:]}=="
    )


def _validation_error(message: str) -> GraphError:
    return GraphError(400, "ValidationError", message)


def _change_types(value: Any) -> tuple[str, ...]:
    if not isinstance(value, str) or not value.strip():
        raise invalid_request("changeType is required: a comma-separated list of created, updated, deleted.")
    given = tuple(part.strip() for part in value.split(","))
    unknown = [part for part in given if part not in CHANGE_TYPES]
    if unknown:
        raise invalid_request(f"changeType '{', '.join(unknown)}' is not supported for events.")
    return tuple(dict.fromkeys(given))


def _endpoint(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise invalid_request(f"{name} is required.")
    parts = urlsplit(value)
    # Graph requires https; the fake also takes http, for receivers run locally without TLS.
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid_request(f"{name} must be an absolute https URL.")
    return value


def _resource(value: Any, calendars: Calendars) -> tuple[Mailbox, str]:
    match = _RESOURCE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise invalid_request(
            f"Resource '{value}' is not supported: use users/{{id}}/events or users/{{id}}/calendars/{{id}}/events."
        )
    mailbox = calendars.mailbox_find(match["user"])
    if mailbox is None:
        raise invalid_request(f"Resource '{value}': the user '{match['user']}' is invalid.")
    calendar_id = match["calendar"] or mailbox.calendar_id
    if not mailbox.has_calendar(calendar_id):
        raise invalid_request(f"Resource '{value}': the calendar '{calendar_id}' was not found.")
    return mailbox, calendar_id
