"""The field rules the sandbox enforces, paging, and the error answers it gives when a rule fails.

Each rule is a function returning a message for a bad value, or None for a good one, so that an
operation can check every field and answer all the failures in one 400.
"""

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

JSON_CONTENT_TYPE = "application/json"
FHIR_CONTENT_TYPE = "application/fhir+json"

MAX_PAGE_SIZE = 50
DEFAULT_PAGE_SIZE = 20

# [0-9] rather than \d: in a str pattern \d also matches other scripts' digits.
MOBILE_PATTERN = re.compile(r"04[0-9]{8}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SCHEDULE_TIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}):([0-9]{2})")
_YEAR_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


class ApiError(Exception):
    """An answer other than success, already in the shape the API sends it."""

    def __init__(self, status: int, body: Any, content_type: str = JSON_CONTENT_TYPE) -> None:
        super().__init__(f"{status} {body!r}")
        self.status = status
        self.body = body
        self.content_type = content_type


def not_found(message: str) -> ApiError:
    return ApiError(404, {"message": message})


def field_error(parameter: str, value: Any, message: str) -> ApiError:
    return ApiError(400, {"errors": [{"parameter": parameter, "value": value, "message": message}]})


def operation_outcome(code: str, diagnostics: Sequence[str]) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text} for text in diagnostics],
    }


def fhir_error(status: int, code: str, diagnostics: Sequence[str]) -> ApiError:
    return ApiError(status, operation_outcome(code, diagnostics), FHIR_CONTENT_TYPE)


class FieldErrors:
    """Collects every failing field of one request, to answer them together."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, parameter: str, value: Any, message: str) -> None:
        self.items.append({"parameter": parameter, "value": value, "message": message})

    def check(self, parameter: str, value: Any, problem: str | None) -> None:
        if problem is not None:
            self.add(parameter, value, problem)

    def raise_if_any(self) -> None:
        if self.items:
            raise ApiError(400, {"errors": self.items})


def is_int(value: Any) -> bool:
    """A JSON integer; JSON true and false are not numbers here."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_blank(value: Any) -> bool:
    return not isinstance(value, str) or not value.strip()


def parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def date_problem(value: Any) -> str | None:
    return None if parse_date(value) is not None else "must be a date in the format YYYY-MM-DD"


def birth_date_problem(value: Any) -> str | None:
    parsed = parse_date(value)
    if parsed is None:
        return "must be a date in the format YYYY-MM-DD"
    # The latest calendar date anywhere on Earth (UTC+14), so that today's date in the practice's
    # time zone is never taken for the future.
    latest_today = (datetime.now(UTC) + timedelta(hours=14)).date()
    if parsed > latest_today:
        return "must not be in the future"
    return None


def schedule_time_problem(value: Any) -> str | None:
    """Practice wall-clock time, exactly `YYYY-MM-DDTHH:mm`: no seconds, no offset."""
    message = "must be a date and time in the format YYYY-MM-DDTHH:mm"
    if not isinstance(value, str):
        return message
    match = _SCHEDULE_TIME.fullmatch(value)
    if match is None or parse_date(match.group(1)) is None:
        return message
    if int(match.group(2)) > 23 or int(match.group(3)) > 59:
        return message
    return None


def year_month_problem(value: Any) -> str | None:
    if isinstance(value, str) and _YEAR_MONTH.fullmatch(value):
        return None
    return "must be a month in the format YYYY-MM"


def mobile_problem(value: Any) -> str | None:
    if isinstance(value, str) and MOBILE_PATTERN.fullmatch(value):
        return None
    return "must match ^04\\d{8}$"


def email_problem(value: Any) -> str | None:
    message = "must be a well-formed email address"
    if not isinstance(value, str) or value.count("@") != 1:
        return message
    local, domain = value.split("@")
    if not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
        return message
    if any(character.isspace() for character in value):
        return message
    return None


def optional_string_problem(value: Any) -> str | None:
    return None if value is None or isinstance(value, str) else "must be a string"


def bounded_string_problem(value: Any, *, max_length: int) -> str | None:
    """A string of at most `max_length` characters, or nothing: a strict server refuses longer."""
    if value is None:
        return None
    if not isinstance(value, str):
        return "must be a string"
    return f"must be at most {max_length} characters" if len(value) > max_length else None


def optional_boolean_problem(value: Any) -> str | None:
    return None if value is None or isinstance(value, bool) else "must be true or false"


@dataclass(frozen=True)
class Paging:
    page: int
    size: int


def paging(query: Mapping[str, str], errors: FieldErrors) -> Paging:
    """Reads `page` and `size`; failures go to `errors` and leave the defaults in place."""
    page = _query_int(query, "page", 0, errors)
    if page < 0:
        errors.add("page", query.get("page"), "page must not be less than zero")
        page = 0
    size = _query_int(query, "size", DEFAULT_PAGE_SIZE, errors)
    if not 0 <= size <= MAX_PAGE_SIZE:
        errors.add("size", query.get("size"), f"size must be between 0 and {MAX_PAGE_SIZE}")
        size = DEFAULT_PAGE_SIZE
    return Paging(page=page, size=size)


def _query_int(query: Mapping[str, str], name: str, default: int, errors: FieldErrors) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        errors.add(name, raw, f"{name} must be an integer")
        return default


def page_body(items: Sequence[Any], paging: Paging) -> dict[str, Any]:
    """One page in the API's shape; page numbers are 0-based and a page past the end is empty."""
    total = len(items)
    # As Spring Data does it: a size of 0 is a single (empty) page.
    total_pages = 1 if paging.size == 0 else math.ceil(total / paging.size)
    start = paging.page * paging.size
    data = list(items[start : start + paging.size])
    return {
        "data": data,
        "first": paging.page == 0,
        "last": paging.page + 1 >= total_pages,
        "totalPages": total_pages,
        "totalElements": total,
        "numberOfElements": len(data),
        "size": paging.size,
        "page": paging.page,
    }
