"""Mailboxes and their calendar events: what the fake Graph stores, and how an event reads on the wire.

Every change to an event takes the next number of one sequence, so that a delta round can ask "what
changed since number N". Deleted events stay behind as tombstones for the same reason. Not
thread-safe on its own: `FakeGraph` holds one lock around it.
"""

import html
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from practitioners.fake_graph.formats import (
    GraphError,
    change_key,
    etag,
    graph_timestamp,
    graph_wall_time,
    invalid_request,
    new_event_id,
    new_ical_uid,
    new_item_key,
    parse_date_time_time_zone,
    time_zone,
)

# What Outlook writes for an attendee who has not answered yet.
_NO_RESPONSE = {"response": "none", "time": "0001-01-01T00:00:00Z"}
_CHOICES = {
    "showAs": {"free", "tentative", "busy", "oof", "workingElsewhere", "unknown"},
    "sensitivity": {"normal", "personal", "private", "confidential"},
    "importance": {"low", "normal", "high"},
}
_TEXT_FIELDS = {"subject", "bodyPreview", "originalStartTimeZone", "originalEndTimeZone"}
_FLAGS = {"isCancelled", "isAllDay", "isOnlineMeeting"}
# What may be given when creating or changing an event; `id`, `iCalUId` and `calendarId` only when creating.
SETTABLE_FIELDS = (
    _TEXT_FIELDS | _FLAGS | set(_CHOICES) | {"body", "start", "end", "location", "attendees", "organizer", "categories"}
)


@dataclass
class Mailbox:
    id: str
    principal_name: str
    display_name: str
    calendar_id: str
    """The default calendar's id: the one `users/{id}/events` and `calendarView` see."""
    other_calendar_ids: list[str] = field(default_factory=list)

    def has_calendar(self, calendar_id: str) -> bool:
        return calendar_id == self.calendar_id or calendar_id in self.other_calendar_ids

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "principal_name": self.principal_name,
            "display_name": self.display_name,
            "calendar_id": self.calendar_id,
            "other_calendar_ids": list(self.other_calendar_ids),
        }


@dataclass
class StoredEvent:
    id: str
    mailbox: Mailbox
    calendar_id: str
    ical_uid: str
    created: datetime
    item_key: bytes
    start: datetime
    end: datetime
    content: dict[str, Any]
    last_modified: datetime
    version: int = 1
    sequence: int = 0
    deleted: bool = False

    @property
    def change_key(self) -> str:
        return change_key(self.item_key, self.version)

    @property
    def etag(self) -> str:
        return etag(self.change_key)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and self.end > start


@dataclass
class Change:
    """One change to an event, in the order it happened."""

    change_type: str  # "created", "updated" or "deleted"
    event: StoredEvent


@dataclass
class Calendars:
    mailboxes: dict[str, Mailbox] = field(default_factory=dict)
    events: dict[str, StoredEvent] = field(default_factory=dict)
    sequence: int = 0

    # Mailboxes.

    def mailbox_add(self, *, principal_name: str, display_name: str, id: str | None = None) -> Mailbox:
        mailbox_id = id or str(uuid.uuid4())
        if not principal_name or "@" not in principal_name:
            raise invalid_request("principal_name must be an email-like user principal name.")
        if self.mailbox_find(mailbox_id) is not None or self.mailbox_find(principal_name) is not None:
            raise GraphError(409, "Conflict", f"A mailbox with id '{mailbox_id}' or '{principal_name}' exists.")
        mailbox = Mailbox(mailbox_id, principal_name, display_name, calendar_id=new_event_id())
        self.mailboxes[mailbox.id] = mailbox
        return mailbox

    def calendar_add(self, mailbox: Mailbox) -> str:
        """Adds a calendar besides the default one (as a shared or secondary calendar); returns its id."""
        calendar_id = new_event_id()
        mailbox.other_calendar_ids.append(calendar_id)
        return calendar_id

    def mailbox_find(self, user: str) -> Mailbox | None:
        """The mailbox a `users/{user}` segment names: its id or its principal name (any case)."""
        found = self.mailboxes.get(user)
        if found is not None:
            return found
        wanted = user.lower()
        return next((m for m in self.mailboxes.values() if wanted in (m.id.lower(), m.principal_name.lower())), None)

    def mailbox_get(self, user: str) -> Mailbox:
        mailbox = self.mailbox_find(user)
        if mailbox is None:
            raise GraphError(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")
        return mailbox

    # Events.

    def event_create(self, mailbox: Mailbox, body: Mapping[str, Any]) -> Change:
        if not isinstance(body, Mapping):
            raise invalid_request("The event must be a JSON object.")
        unknown = set(body) - SETTABLE_FIELDS - {"id", "iCalUId", "calendarId"}
        if unknown:
            raise invalid_request(f"Unknown or read-only event properties: {', '.join(sorted(unknown))}.")
        event_id = _text(body.get("id"), "id") if body.get("id") else new_event_id()
        if event_id in self.events:
            raise GraphError(409, "ErrorItemAlreadyExists", f"An event with id '{event_id}' exists.")
        calendar_id = _text(body.get("calendarId") or mailbox.calendar_id, "calendarId")
        if not mailbox.has_calendar(calendar_id):
            raise GraphError(404, "ErrorItemNotFound", f"The mailbox has no calendar '{calendar_id}'.")
        now = datetime.now(UTC)
        content = _content_defaults(mailbox)
        start, end = _times(body, start=None, end=None)
        _merge(content, body)
        event = StoredEvent(
            id=event_id,
            mailbox=mailbox,
            calendar_id=calendar_id,
            ical_uid=_text(body["iCalUId"], "iCalUId") if body.get("iCalUId") else new_ical_uid(now),
            created=now,
            item_key=new_item_key(),
            start=start,
            end=end,
            content=content,
            last_modified=now,
            sequence=self._next_sequence(),
        )
        self.events[event.id] = event
        return Change("created", event)

    def event_update(self, mailbox: Mailbox, event_id: str, changes: Mapping[str, Any]) -> Change:
        event = self.event_get(mailbox, event_id)
        if not isinstance(changes, Mapping):
            raise invalid_request("The changes must be a JSON object.")
        unknown = set(changes) - SETTABLE_FIELDS
        if unknown:
            raise invalid_request(f"Unknown or read-only event properties: {', '.join(sorted(unknown))}.")
        content = dict(event.content)
        start, end = _times(changes, start=event.start, end=event.end)
        _merge(content, changes)
        event.content, event.start, event.end = content, start, end
        event.version += 1
        event.last_modified = datetime.now(UTC)
        event.sequence = self._next_sequence()
        return Change("updated", event)

    def event_delete(self, mailbox: Mailbox, event_id: str) -> Change:
        event = self.event_get(mailbox, event_id)
        event.deleted = True
        event.sequence = self._next_sequence()
        return Change("deleted", event)

    def event_get(self, mailbox: Mailbox, event_id: str, calendar_id: str | None = None) -> StoredEvent:
        event = self.events.get(event_id)
        if (
            event is None
            or event.deleted
            or event.mailbox.id != mailbox.id
            or (calendar_id is not None and calendar_id != event.calendar_id)
        ):
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return event

    def events_of(self, mailbox: Mailbox) -> Iterator[StoredEvent]:
        """The mailbox's live events, earliest first."""
        live = (e for e in self.events.values() if e.mailbox.id == mailbox.id and not e.deleted)
        return iter(sorted(live, key=lambda e: (e.start, e.id)))

    def changed_since(self, mailbox: Mailbox, sequence: int) -> list[StoredEvent]:
        """Events of the mailbox's default calendar changed (or deleted) after `sequence`, in change order."""
        changed = (
            e
            for e in self.events.values()
            if e.mailbox.id == mailbox.id and e.calendar_id == mailbox.calendar_id and e.sequence > sequence
        )
        return sorted(changed, key=lambda e: e.sequence)

    def _next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


def event_json(event: StoredEvent, *, view_zone: str | None = None) -> dict[str, Any]:
    """The event as `GET /users/{id}/events/{id}` returns it (without `@odata.context`).

    Times are in UTC unless `view_zone` names a zone (from `Prefer: outlook.timezone`).
    """
    zone = time_zone(view_zone) if view_zone else None
    zone_name = view_zone if zone is not None and view_zone else "UTC"
    zone = zone or ZoneInfo("UTC")
    content = event.content
    organizer_address = content["organizer"]["emailAddress"].get("address", "")
    is_organizer = organizer_address.lower() == event.mailbox.principal_name.lower()
    return {
        "@odata.etag": event.etag,
        "id": event.id,
        "createdDateTime": graph_timestamp(event.created),
        "lastModifiedDateTime": graph_timestamp(event.last_modified),
        "changeKey": event.change_key,
        "categories": list(content["categories"]),
        "transactionId": None,
        "originalStartTimeZone": content["originalStartTimeZone"],
        "originalEndTimeZone": content["originalEndTimeZone"],
        "iCalUId": event.ical_uid,
        "reminderMinutesBeforeStart": 15,
        "isReminderOn": True,
        "hasAttachments": False,
        "subject": content["subject"],
        "bodyPreview": content["bodyPreview"],
        "importance": content["importance"],
        "sensitivity": content["sensitivity"],
        "isAllDay": content["isAllDay"],
        "isCancelled": content["isCancelled"],
        "isOrganizer": is_organizer,
        "responseRequested": True,
        "seriesMasterId": None,
        "showAs": content["showAs"],
        "type": "singleInstance",
        "onlineMeetingUrl": None,
        "isOnlineMeeting": content["isOnlineMeeting"],
        "onlineMeetingProvider": "teamsForBusiness" if content["isOnlineMeeting"] else "unknown",
        "allowNewTimeProposals": True,
        "isDraft": False,
        "hideAttendees": False,
        "responseStatus": {"response": "organizer" if is_organizer else "none", "time": _NO_RESPONSE["time"]},
        "body": dict(content["body"]),
        "start": {"dateTime": graph_wall_time(event.start, zone), "timeZone": zone_name},
        "end": {"dateTime": graph_wall_time(event.end, zone), "timeZone": zone_name},
        "location": dict(content["location"]),
        "locations": [dict(content["location"])] if content["location"].get("displayName") else [],
        "recurrence": None,
        "attendees": [_copy(attendee) for attendee in content["attendees"]],
        "organizer": _copy(content["organizer"]),
        "onlineMeeting": None,
    }


def _content_defaults(mailbox: Mailbox) -> dict[str, Any]:
    return {
        "subject": "",
        "body": {"contentType": "html", "content": ""},
        "bodyPreview": None,
        "originalStartTimeZone": "UTC",
        "originalEndTimeZone": "UTC",
        "location": {"displayName": ""},
        "attendees": [],
        "organizer": {"emailAddress": {"name": mailbox.display_name, "address": mailbox.principal_name}},
        "categories": [],
        "isCancelled": False,
        "isAllDay": False,
        "isOnlineMeeting": False,
        "showAs": "busy",
        "sensitivity": "normal",
        "importance": "normal",
    }


def _times(given: Mapping[str, Any], *, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """The start and end `given` (or else the ones already held), in UTC."""
    new_start = parse_date_time_time_zone(given["start"], "start") if "start" in given else start
    new_end = parse_date_time_time_zone(given["end"], "end") if "end" in given else end
    if new_start is None or new_end is None:
        raise invalid_request("An event needs start and end.")
    if new_end < new_start:
        raise invalid_request("The end of an event cannot be before its start.")
    return new_start, new_end


def _merge(content: dict[str, Any], given: Mapping[str, Any]) -> None:
    """Validates the properties `given`, other than the times, into `content` (in place)."""
    _merge_plain(content, given)
    _merge_structured(content, given)
    if content["bodyPreview"] is None:
        content["bodyPreview"] = body_preview(content["body"])


def _merge_plain(content: dict[str, Any], given: Mapping[str, Any]) -> None:
    """The texts, flags and fixed choices `given`."""
    for name in _TEXT_FIELDS & set(given):
        content[name] = _text(given[name], name)
    for name in _FLAGS & set(given):
        if not isinstance(given[name], bool):
            raise invalid_request(f"{name} must be true or false.")
        content[name] = given[name]
    for name, allowed in _CHOICES.items():
        if name in given:
            if given[name] not in allowed:
                raise invalid_request(f"{name} must be one of {', '.join(sorted(allowed))}.")
            content[name] = given[name]


def _merge_structured(content: dict[str, Any], given: Mapping[str, Any]) -> None:
    """The body, location, attendees, organizer and categories `given`."""
    if "body" in given:
        content["body"] = _body(given["body"])
        if "bodyPreview" not in given:
            content["bodyPreview"] = None
    if "location" in given:
        location = _object(given["location"], "location")
        content["location"] = {"displayName": _text(location.get("displayName", ""), "location.displayName")}
    if "attendees" in given:
        if not isinstance(given["attendees"], list):
            raise invalid_request("attendees must be a list.")
        content["attendees"] = [_attendee(a) for a in given["attendees"]]
    if "organizer" in given:
        content["organizer"] = {"emailAddress": _email_address(_object(given["organizer"], "organizer"), "organizer")}
    if "categories" in given:
        if not isinstance(given["categories"], list) or not all(isinstance(c, str) for c in given["categories"]):
            raise invalid_request("categories must be a list of strings.")
        content["categories"] = list(given["categories"])


def body_preview(body: Mapping[str, str]) -> str:
    """The first 255 characters of the body as text, as Outlook derives `bodyPreview`."""
    text = body.get("content", "")
    if body.get("contentType") == "html":
        text = re.sub(r"(?i)<br\s*/?>", "\r\n", text)
        text = re.sub(r"(?i)</p>", "\r\n\r\n", text)
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return text.strip()[:255]


def _body(value: Any) -> dict[str, str]:
    body = _object(value, "body")
    content_type = str(body.get("contentType", "html")).lower()
    if content_type not in ("html", "text"):
        raise invalid_request("body.contentType must be html or text.")
    return {"contentType": content_type, "content": _text(body.get("content", ""), "body.content")}


def _attendee(value: Any) -> dict[str, Any]:
    attendee = _object(value, "attendee")
    kind = attendee.get("type", "required")
    if kind not in ("required", "optional", "resource"):
        raise invalid_request("attendee type must be required, optional or resource.")
    status = _object(attendee.get("status", _NO_RESPONSE), "attendee.status")
    return {
        "type": kind,
        "status": {
            "response": _text(status.get("response", "none"), "attendee.status.response"),
            "time": _text(status.get("time", _NO_RESPONSE["time"]), "attendee.status.time"),
        },
        "emailAddress": _email_address(attendee, "attendee"),
    }


def _email_address(holder: Mapping[str, Any], name: str) -> dict[str, str]:
    address = _object(holder.get("emailAddress"), f"{name}.emailAddress")
    return {
        "name": _text(address.get("name", ""), f"{name}.emailAddress.name"),
        "address": _text(address.get("address", ""), f"{name}.emailAddress.address"),
    }


def _object(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise invalid_request(f"{name} must be an object.")
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise invalid_request(f"{name} must be a string.")
    return value


def _copy(value: dict[str, Any]) -> dict[str, Any]:
    return {k: (_copy(v) if isinstance(v, dict) else v) for k, v in value.items()}
