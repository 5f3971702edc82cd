"""What every receiver of other systems' posts does with what it cannot trust.

Bodies too large to read, JSON nested deeper than any genuine sender nests it, and free text
that must fit its column and must not carry invisible controls that reorder what staff read.
"""

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.http import JsonResponse

# Graph and JotForm nest a few levels (a notification's resourceData, an address answer);
# deeper is not theirs, and reading it later could exhaust the stack.
JSON_DEPTH_MAX = 16

# Unicode's explicit bidirectional embeddings, overrides and isolates (U+202A-U+202E,
# U+2066-U+2069) and the implicit marks (U+200E, U+200F, U+061C): in a name they make staff
# read something other than what is stored ("Trojan Source").
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

_email_validator = EmailValidator()


def body_too_large_answer() -> JsonResponse:
    """413 naming the limit, for a body over DATA_UPLOAD_MAX_MEMORY_SIZE (REQUEST_BODY_MAX_BYTES)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return JsonResponse({"error": f"the body is larger than {limit} bytes, the most this service accepts"}, status=413)


def json_nesting_depth(document: Any) -> int:
    """How deep lists and objects nest in a parsed JSON document (counted without recursion)."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children)
    return deepest


def bidi_controls_strip(text: str) -> str:
    """The text without bidirectional controls; everything a person would read is kept."""
    return BIDI_CONTROLS.sub("", text)


def email_or_none(value: str) -> str | None:
    """The address (lower-cased) when Django's EmailValidator accepts it, otherwise None.

    The validator refuses line breaks and anything around an "@" that is not an address, so
    a header injection such as "a@b.example\\r\\nbcc: ..." is never kept.
    """
    address = value.strip().lower()
    if not address:
        return None
    try:
        _email_validator(address)
    except ValidationError:
        return None
    return address


@dataclass(frozen=True)
class BoundedText:
    """Free text cut to fit where it is stored, and whether anything had to be cut."""

    text: str
    truncated: bool


def text_bounded(value: str, *, max_length: int) -> BoundedText:
    """The text as it fits in `max_length` characters: what fits is kept and the cut is reported.

    NULs and other control characters a sender has no reason to send (all but tab and line
    breaks) are dropped first: PostgreSQL cannot store a NUL, and the rest only hide text.
    """
    cleaned = "".join(
        character for character in value if character in "\t\n\r" or unicodedata.category(character) not in ("Cc", "Cs")
    )
    if len(cleaned) <= max_length:
        return BoundedText(text=cleaned, truncated=False)
    return BoundedText(text=cleaned[:max_length], truncated=True)
