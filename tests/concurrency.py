"""Racing one action in several threads at once, as concurrent workers would."""

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


def run_together(action: Callable[[], T], *, threads: int) -> tuple[list[T], list[BaseException]]:
    """Run `action` in `threads` threads released together; answers what the runs returned (in
    the order they finished) and what they raised. Each thread closes its database connection."""
    barrier = threading.Barrier(threads)
    results: list[T] = []
    errors: list[BaseException] = []

    def run_once() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(action())
        except BaseException as error:  # noqa: BLE001 - reported in the test's thread
            errors.append(error)
        finally:
            connection.close()

    started = [threading.Thread(target=run_once) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout=30)
    return results, errors
