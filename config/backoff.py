"""How long to wait before trying again: exponential back-off with full jitter.

Each wait is drawn uniformly between zero and a ceiling that doubles with every attempt, up to
a cap. Drawing the whole wait at random (rather than adding a little noise to a fixed wait)
spreads retries from many workers across the window, so they do not hit a recovering service
in step. Framework-free on purpose: any layer may import it.
"""

import random


def full_jitter_seconds(*, attempt: int, base_seconds: float, cap_seconds: float) -> float:
    """A wait in seconds before trying again after the `attempt`-th failure (counted from 1).

    The ceiling is `base_seconds` after the first failure, doubling with each one after, and
    never above `cap_seconds` (pass `math.inf` where attempts are bounded elsewhere). An
    attempt below 1 is treated as the first.
    """
    ceiling = min(cap_seconds, base_seconds * 2 ** max(attempt - 1, 0))
    return random.uniform(0, ceiling)  # noqa: S311 - jitter, not a secret
