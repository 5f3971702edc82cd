"""Keeps health data and secrets out of log lines.

Our own code logs ids, never patient data; this filter is the safety net for everything else
(a library's message, an exception that quotes a value, Django's request records, urllib3's
request lines). It runs on every handler and scrubs the message, the `extra` fields and the
formatted traceback before any formatter sees them:

- percent-encoded text is decoded first, so `jane%40example.com` is caught like the address;
- every URL and path loses its query string (webhook tokens, MediRecords' RSQL searches,
  staff search terms);
- values of known fields (`firstName=="Jane"`, `"email": "..."`, `token=...`) are dropped,
  whatever they look like, and so is every configured secret wherever it appears;
- emails, phone numbers, dates of birth and Medicare numbers are caught by their shape;
- objects (a request, a socket) are logged as a short description, never their repr, and
  SQL keeps its shape but not its literals or parameters.
"""

import logging
import re
import traceback
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

REDACTED = "[redacted]"

# `extra` keys that can only ever carry patient data or secrets, whatever their value looks like.
SENSITIVE_KEYS = frozenset(
    {
        "name",
        "first_name",
        "last_name",
        "full_name",
        "given_name",
        "family_name",
        "surname",
        "email",
        "mobile",
        "phone",
        "dob",
        "date_of_birth",
        "address",
        "answers",
        "medicare",
        "medicare_number",
        "raw_body",
        "body",
        "params",
        "token",
        "client_state",
        "secret",
        "password",
        "authorization",
    }
)

# Loggers whose DEBUG records cannot be scrubbed, so the service never logs them below INFO
# whatever LOG_LEVEL says: a missing template variable quotes the whole template context
# (patients' names among it), and SQL as run holds its parameters.
UNSCRUBBABLE_DEBUG_LOGGERS = ("django.template", "django.db.backends")

# Settings whose values are secrets: dropped wherever they appear in a line.
SECRET_SETTINGS = (
    "SECRET_KEY",
    "MEDIRECORDS_API_TOKEN",
    "MEDIRECORDS_FHIR_TOKEN",
    "AZURE_CLIENT_SECRET",
    "JOTFORM_API_KEY",
    "JOTFORM_WEBHOOK_TOKEN",
)
# Shorter values are too likely to be ordinary words to be replaced wherever they appear.
SECRET_MIN_LENGTH = 8

_QUERY_STRING = re.compile(
    # A URL (scheme and host, then an optional path) or an absolute path, then its query.
    r"((?:\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/?#\"'<>]*(?:/[^\s?#\"'<>]*)?|/[^\s?#\"'<>]*)\?)[^\s\"'<>#]+"
)

# Field names whose values are patient data or secrets, in text: RSQL (`lastName=="Citizen"`),
# JSON or a dict's repr (`"email": "..."`), key=value pairs (`token=...`).
_FIELD_NAMES = (
    r"(?:first|last|given|family|full|preferred|middle|sur)[_ -]?name|name|e-?mail(?:[_ -]?address)?"
    r"|mobile(?:[_ -]?(?:number|phone))?|phone(?:[_ -]?number)?|dob|date[_ -]?of[_ -]?birth|birth[_ -]?date"
    r"|medicare\w*|address|(?:validation|access|refresh|id|api)?[_ -]?token|client[_ -]?state|client[_ -]?secret"
    r"|secret|password|api[_ -]?key"
)
_KNOWN_FIELD = re.compile(
    rf"(?i)(?<![\w.-])([\"']?(?:{_FIELD_NAMES})[\"']?\s*(?:==|=|:)\s*)"
    r"(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^\s;,&)\]}]+)"
)
_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]+")

_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_PATTERNS = [
    # Medicare numbers: ten digits from 2 to 6, spaced 4-5-1 or not, perhaps with the IRN.
    re.compile(r"(?<![\w/.])[2-6]\d{3}[\s-]?\d{5}[\s-]?\d(?:[\s-]?\d)?(?![\w/])"),
    # Email addresses.
    re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+"),
    # Australian phone numbers in any common spelling, and any E.164 number.
    re.compile(r"(?<![\w/.])(?:\+?61[\s-]?|0)[2-478](?:[\s-]?\d){8}(?![\w/])"),
    re.compile(r"(?<![\w/.])\+\d(?:[\s-]?\d){7,14}(?![\w/])"),
    # Dates as a date of birth is written: 29/02/1980, 29-02-1980, 1980-02-29, 1980/02/29,
    # 29 February 1980, Feb 29, 1980, datetime.date(1980, 2, 29) (but not an ISO timestamp,
    # whose date is followed by a time).
    re.compile(r"(?<![\w/])\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}(?![\w/])"),
    re.compile(r"(?<![\w/])\d{4}[/-]\d{2}[/-]\d{2}(?![\w/:T])"),
    re.compile(rf"(?i)\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS}\s+\d{{4}}\b"),
    re.compile(rf"(?i)\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b"),
    re.compile(r"\bdate\(\d{4},\s*\d{1,2},\s*\d{1,2}\)"),
]
_SQL_LITERAL = re.compile(r"'(?:[^']|'')*'")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")

# Attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "correlation_id",
}


def _configured_secrets() -> tuple[str, ...]:
    try:
        from django.conf import settings

        if not settings.configured:
            return ()
        values = [getattr(settings, name, "") for name in SECRET_SETTINGS]
        values.extend(getattr(settings, "FIELD_ENCRYPTION_KEYS", []))
    except Exception:  # noqa: BLE001 - a log line must never fail because settings cannot be read
        return ()
    return tuple(value for value in values if isinstance(value, str) and len(value) >= SECRET_MIN_LENGTH)


def _secret_pattern() -> re.Pattern[str] | None:
    """One pattern for the configured secrets, rebuilt only when they change (tests override them)."""
    return _pattern_for(_configured_secrets())


@lru_cache(maxsize=1)
def _pattern_for(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    longest_first = sorted(set(secrets), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, longest_first))) if longest_first else None


def url_without_query(text: str) -> str:
    """Every URL and path in `text` keeps its path and loses its query string."""
    return _QUERY_STRING.sub(rf"\1{REDACTED}", text) if "?" in text else text


def _percent_decoded(text: str) -> str:
    # Twice, for values encoded twice (`%2540`); `+` is left alone, as query strings go anyway.
    for _ in range(2):
        if not _PERCENT_ESCAPE.search(text):
            break
        text = unquote(text, errors="replace")
    return text


def redact_text(text: str) -> str:
    """Replace anything in `text` that could be patient data or a secret."""
    # Query strings go before decoding, while their values cannot yet hold a quote or a space.
    text = url_without_query(text)
    if "%" in text:
        # Known fields first while encoded, where a value cannot yet hold a space.
        text = url_without_query(_percent_decoded(_KNOWN_FIELD.sub(rf"\1{REDACTED}", text)))
    secrets = _secret_pattern()
    if secrets is not None:
        text = secrets.sub(REDACTED, text)
    text = _KNOWN_FIELD.sub(rf"\1{REDACTED}", text)
    text = _CREDENTIAL.sub(rf"\1 {REDACTED}", text)
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def redact_sql(sql: str) -> str:
    """SQL keeps its shape; its string literals (the parameters, interpolated) go."""
    return redact_text(_SQL_LITERAL.sub(f"'{REDACTED}'", sql))


def _describe_request(request: Any) -> str:
    return f"<{type(request).__name__}: {request.method} {redact_text(str(request.path))}>"


def _redact_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | datetime):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {key: REDACTED if key in SENSITIVE_KEYS else _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(item) for item in value]
    if isinstance(value, date):
        return REDACTED  # a bare date in a log line is as likely a date of birth as anything
    if hasattr(value, "method") and hasattr(value, "path") and hasattr(value, "META"):
        # Django's request records carry the request: its repr holds the full query string.
        return _describe_request(value)
    try:
        return redact_text(str(value))
    except Exception:  # noqa: BLE001 - an object whose str() fails is described by its type
        return f"<{type(value).__name__}>"


def _message(record: logging.LogRecord) -> str:
    sql = getattr(record, "sql", None)
    if isinstance(sql, str):
        # django.db.backends: the SQL as run has the parameters interpolated.
        duration = getattr(record, "duration", None)
        timing = f"({duration:.3f}) " if isinstance(duration, float) else ""
        return f"{timing}{redact_sql(sql)}; args={REDACTED}"
    return redact_text(record.getMessage())


class HealthDataFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _message(record)
        record.args = None
        for key in set(vars(record)) - _STANDARD_ATTRIBUTES:
            value = getattr(record, key)
            if key == "sql" and isinstance(value, str):
                setattr(record, key, redact_sql(value))
            else:
                setattr(record, key, REDACTED if key in SENSITIVE_KEYS else _redact_value(value))
        if record.exc_info:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


def is_redacting(handler: logging.Handler) -> bool:
    """Whether a handler scrubs what it writes (every handler the service configures must)."""
    return any(isinstance(item, HealthDataFilter) for item in handler.filters)
