"""One exception hierarchy for everything that can go wrong talking to MediRecords.

Callers decide by type: a `ValidationError` will fail the same way again until someone fixes
the data; `is_transient` errors may succeed later.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One entry of a 400 response's `errors` list."""

    parameter: str
    value: object
    message: str


class MediRecordsError(Exception):
    """Base of every error raised by the client."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ValidationError(MediRecordsError):
    """MediRecords refused the request's data (400); `errors` says which fields and why."""

    def __init__(self, message: str, *, errors: list[FieldError], status: int = 400) -> None:
        super().__init__(message, status=status)
        self.errors = errors


class NotFoundError(MediRecordsError):
    """A failure: the resource does not exist (404)."""


class AuthError(MediRecordsError):
    """The token was missing, wrong or not allowed (401, 403)."""


class RateLimitedError(MediRecordsError):
    """A failure that may pass: too many requests (429) after the retries the client allows itself."""

    def __init__(self, message: str, *, retry_after: float | None, status: int = 429) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ServerError(MediRecordsError):
    """MediRecords failed (5xx)."""


class TransportError(MediRecordsError):
    """No usable answer: timeout, refused or reset connection, or a body that is not JSON.

    After a POST this means the request may or may not have taken effect: look it up before
    sending it again.
    """


class UnreadableResponseError(MediRecordsError):
    """A failure: MediRecords answered with a record this client cannot read (a date, a time
    or a code in no form it knows). The message names the record and the field, never the value."""


class UnknownIntervalError(MediRecordsError, ValueError):
    """A failure: MediRecords' code system has no appointment interval of the length asked.

    A ValueError too: the length asked for is what is wrong, until MediRecords offers it.
    """


def is_transient(error: BaseException) -> bool:
    """Whether the same request may succeed if tried again later."""
    return isinstance(error, RateLimitedError | ServerError | TransportError)
