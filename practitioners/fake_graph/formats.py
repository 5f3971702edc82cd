"""How Microsoft Graph writes things on the wire: its error body, date-times, ids and etags."""

import base64
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from practitioners.fake_graph.web import Call

# Outlook keeps the Windows name of the zone an event was made in; the fake knows the ones the
# practice meets, and takes any IANA name as well.
WINDOWS_TIME_ZONES = {
    "UTC": "UTC",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "E. Australia Standard Time": "Australia/Brisbane",
    "Cen. Australia Standard Time": "Australia/Adelaide",
    "AUS Central Standard Time": "Australia/Darwin",
    "W. Australia Standard Time": "Australia/Perth",
    "Tasmania Standard Time": "Australia/Hobart",
}

# The etag prefix Exchange gives calendar items; the rest identifies the item and its version.
_CHANGE_KEY_PREFIX = b"\x0f\x00\x00\x00\x16\x00\x00\x00"
# iCalUId = a fixed Outlook prefix, a FILETIME of creation, then a GUID.
_ICAL_UID_PREFIX = "040000008200E00074C5B7101A82E00800000000"
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


class GraphError(Exception):
    """A request Graph refuses, with the status and the `error.code` it answers with."""

    def __init__(self, status: int, code: str, message: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers

    def body(self, request_id: str, client_request_id: str | None = None) -> dict[str, Any]:
        """`{"error": {"code", "message", "innerError"}}`, as every Graph error is shaped."""
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": request_id,
                    "client-request-id": client_request_id or request_id,
                },
            }
        }


def invalid_request(message: str) -> GraphError:
    return GraphError(400, "InvalidRequest", message)


def method_not_allowed(call: Call) -> NoReturn:
    """A route's handler for a method it does not take, in Graph's words."""
    raise GraphError(405, "BadRequest", "Specified HTTP method is not allowed for the request target.")


def graph_timestamp(moment: datetime) -> str:
    """`2026-11-24T22:14:03.4427980Z`: UTC with the seven fractional digits .NET writes."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond:06d}0Z"


def graph_wall_time(moment: datetime, zone: ZoneInfo) -> str:
    """`2026-12-03T23:30:00.0000000`: a `dateTimeTimeZone.dateTime`, with its zone given apart."""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%dT%H:%M:%S}.{local.microsecond:06d}0"


def parse_timestamp(text: Any, name: str) -> datetime:
    """An ISO 8601 date-time with an offset or `Z` (up to seven fractional digits), as an aware datetime."""
    if not isinstance(text, str):
        raise invalid_request(f"{name} must be a date-time string.")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise invalid_request(f"{name} '{text}' is not a valid date-time.") from None
    if moment.tzinfo is None:
        raise invalid_request(f"{name} '{text}' needs a time zone offset.")
    return moment.astimezone(UTC)


def time_zone(name: str) -> ZoneInfo | None:
    """The zone for a Windows or IANA name; None when neither is known."""
    try:
        return ZoneInfo(WINDOWS_TIME_ZONES.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_date_time_time_zone(value: Any, name: str) -> datetime:
    """A `dateTimeTimeZone` (`{"dateTime": "...", "timeZone": "..."}`) as an aware UTC datetime."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise invalid_request(f"{name} must be an object with dateTime and timeZone.")
    zone = time_zone(str(value.get("timeZone") or "UTC"))
    if zone is None:
        raise invalid_request(f"{name}.timeZone '{value.get('timeZone')}' is not a known time zone.")
    try:
        wall = datetime.fromisoformat(value["dateTime"])
    except ValueError:
        raise invalid_request(f"{name}.dateTime '{value['dateTime']}' is not a valid date-time.") from None
    if wall.tzinfo is not None:
        return wall.astimezone(UTC)
    return wall.replace(tzinfo=zone).astimezone(UTC)


def new_event_id() -> str:
    """An id shaped like Outlook's: URL-safe base64 with padding (so it may end in `=`)."""
    return "AAMkAG" + base64.urlsafe_b64encode(secrets.token_bytes(34)).decode("ascii")


def new_item_key() -> bytes:
    """The part of a change key that stays the same across an item's versions."""
    return secrets.token_bytes(16)


def change_key(item_key: bytes, version: int) -> str:
    """`DwAAABYAAAB...`: standard base64 (so it may hold `/` and `+`), new for every version."""
    return base64.b64encode(_CHANGE_KEY_PREFIX + item_key + version.to_bytes(6, "big")).decode("ascii")


def etag(key: str) -> str:
    return f'W/"{key}"'


def new_ical_uid(created: datetime) -> str:
    filetime = int((created - _FILETIME_EPOCH).total_seconds() * 10_000_000)
    return (
        _ICAL_UID_PREFIX
        + filetime.to_bytes(8, "little").hex().upper()
        + "0000000000000000"
        + "10000000"
        + uuid.uuid4().hex.upper()
    )
