"""Keeps health data out of log lines.

Our own code logs ids, never patient data; this filter is the safety net for everything else
(a library's message, an exception that quotes a value). It runs on every handler and
scrubs the message, the `extra` fields and the formatted traceback before any formatter sees
them.
"""

import logging
import re
import traceback
from typing import Any

REDACTED = "[redacted]"

# `extra` keys that can only ever carry patient data, whatever their value looks like.
SENSITIVE_KEYS = frozenset(
    {
        "name",
        "first_name",
        "last_name",
        "full_name",
        "email",
        "mobile",
        "phone",
        "dob",
        "date_of_birth",
        "address",
        "answers",
        "medicare",
        "raw_body",
        "body",
    }
)

_PATTERNS = [
    # Email addresses.
    re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+"),
    # Australian phone numbers in any common spelling, and any E.164 number.
    re.compile(r"(?<![\w/.])(?:\+?61[\s-]?|0)[2-478](?:[\s-]?\d){8}(?![\w/])"),
    re.compile(r"(?<![\w/.])\+\d(?:[\s-]?\d){7,14}(?![\w/])"),
    # Dates as a date of birth is written: 29/02/1980, 29-02-1980, 1980-02-29 (but not an
    # ISO timestamp, whose date is followed by a time).
    re.compile(r"(?<![\w/])\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}(?![\w/])"),
    re.compile(r"(?<![\w/])\d{4}-\d{2}-\d{2}(?![\w/:T])"),
]

# Attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "correlation_id",
}


def redact_text(text: str) -> str:
    """Replace anything in `text` that looks like an email, phone number or date of birth."""
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: REDACTED if key in SENSITIVE_KEYS else _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    return value


class HealthDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        for key in set(vars(record)) - _STANDARD_ATTRIBUTES:
            value = getattr(record, key)
            setattr(record, key, REDACTED if key in SENSITIVE_KEYS else _redact_value(value))
        if record.exc_info:
            record.exc_text = redact_text("".join(traceback.format_exception(*record.exc_info)).rstrip())
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True
