"""A stateful stand-in for the MediRecords API, for tests, demos and benchmarks.

It speaks the API as `medirecords/README.md` describes it, assumptions included, and can be told
to misbehave (latency, errors, rate limits, dropped connections). Standard library only.
"""

from medirecords.sandbox.faults import FaultError
from medirecords.sandbox.seed import (
    APPOINTMENT_TYPES,
    INTERVAL_CODES,
    PRACTICE_ID,
    PRACTICE_NAME,
    PROVIDERS,
    REGULAR_SESSIONS,
    SANDBOX_PRACTITIONERS,
    TITLE_CODES,
)
from medirecords.sandbox.server import SandboxServer
from medirecords.sandbox.store import Store

__all__ = [
    "APPOINTMENT_TYPES",
    "INTERVAL_CODES",
    "PRACTICE_ID",
    "PRACTICE_NAME",
    "PROVIDERS",
    "REGULAR_SESSIONS",
    "SANDBOX_PRACTITIONERS",
    "TITLE_CODES",
    "FaultError",
    "SandboxServer",
    "Store",
]
