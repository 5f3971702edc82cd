"""What each of our HTTP clients (MediRecords, Graph) promises about giving up, checked alike."""

import responses


def assert_one_try_and_three_retries(sleeps: list[float]) -> None:
    """The client tried once and retried three times, pausing before each retry only."""
    assert len(responses.calls) == 4  # one try and three retries
    assert len(sleeps) == 3


def assert_a_long_wait_is_left_to_the_caller(error, sleeps: list[float], *, is_transient) -> None:
    """A Retry-After of 600 s, longer than the client waits, reaches the caller unslept, and as
    an error worth trying again later (by the library's own `is_transient`)."""
    assert error.retry_after == 600.0
    assert sleeps == []
    assert is_transient(error)
