"""The record of every call made to MediRecords on a booking's behalf (`SyncAttempt`).

Each call runs inside `attempt_recorded`, which times it and stores how it ended. The stored
error is what MediRecords said about the request (operation, field names, messages), never
the values sent, and is scrubbed of anything that looks like a contact detail or a date of
birth besides.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.utils import timezone

from bookings.models import SyncAttempt, SyncOperation, SyncOutcome
from config.log_redaction import redact_text
from medirecords import MediRecordsError, ValidationError, is_transient

ERROR_LENGTH_MAX = 500

# Inside `answers_observed`: for each call recorded, whether MediRecords answered it.
_answers: ContextVar[list[bool] | None] = ContextVar("medirecords_answers", default=None)


@contextmanager
def answers_observed() -> Iterator[list[bool]]:
    """Collect, for every call recorded inside the block, whether MediRecords answered it
    (False for a failure that may pass: 5xx, 429, no answer)."""
    seen: list[bool] = []
    token = _answers.set(seen)
    try:
        yield seen
    finally:
        _answers.reset(token)


@contextmanager
def attempt_recorded(*, booking_id: int | None, operation: SyncOperation) -> Iterator[None]:
    """Time the call made inside the block and store a `SyncAttempt`; errors pass through.

    Without a booking (a patient matched on its own) nothing is stored.
    """
    if booking_id is None:
        with _answer_observed():
            yield
        return
    started_at = timezone.now()
    started = time.perf_counter()
    try:
        with _answer_observed():
            yield
    except Exception as error:
        SyncAttempt.objects.create(
            booking_id=booking_id,
            operation=operation,
            started_at=started_at,
            duration_ms=_elapsed_ms(started),
            outcome=SyncOutcome.TRANSIENT if is_transient(error) else SyncOutcome.FAILED,
            http_status=error.status if isinstance(error, MediRecordsError) else None,
            error=error_summary(error),
        )
        raise
    SyncAttempt.objects.create(
        booking_id=booking_id,
        operation=operation,
        started_at=started_at,
        duration_ms=_elapsed_ms(started),
        outcome=SyncOutcome.OK,
    )


@contextmanager
def _answer_observed() -> Iterator[None]:
    try:
        yield
    except MediRecordsError as error:
        _observed(answered=not is_transient(error))
        raise
    _observed(answered=True)


def _observed(*, answered: bool) -> None:
    seen = _answers.get()
    if seen is not None:
        seen.append(answered)


def error_summary(error: BaseException) -> str:
    """What went wrong, fit for staff screens and log lines: no values, only names and messages."""
    if isinstance(error, ValidationError) and error.errors:
        text = "MediRecords refused: " + "; ".join(f"{field.parameter}: {field.message}" for field in error.errors)
    else:
        text = str(error) or type(error).__name__
    return redact_text(text)[:ERROR_LENGTH_MAX]


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
