"""Misbehaviour on request: failing, slowing down or dropping API requests, for tests and benchmarks.

Per request, in this order: the first matching `fail_next` entry (answer a status without doing
anything, or do the request and drop the connection); then `latency_ms`; then the random faults,
drawn from a generator seeded with `seed` so that a run can be repeated.
"""

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from medirecords.sandbox.validation import is_int

DEFAULTS: dict[str, Any] = {
    "latency_ms": 0,
    "error_rate": 0.0,
    "rate_limit_rate": 0.0,
    "retry_after_seconds": 1,
    "timeout_rate": 0.0,
    "timeout_seconds": 30.0,
    "drop_create_rate": 0.0,
    "seed": None,
    "fail_next": [],
}
_RATES = ("error_rate", "rate_limit_rate", "timeout_rate", "drop_create_rate")


class FaultError(ValueError):
    """Fault settings that cannot be applied; `errors` is in the API's 400 shape."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{error['parameter']}: {error['message']}" for error in errors))
        self.errors = errors


@dataclass
class Decision:
    """What to do to one request."""

    delay_seconds: float = 0.0
    # Answer this status without doing the request.
    status: int | None = None
    retry_after: int | None = None
    # Do the request, then close the connection without answering.
    drop: bool = False


class Faults:
    """The current fault settings and the decisions drawn from them. Thread-safe."""

    def __init__(self, initial: Mapping[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._initial = _validated(DEFAULTS, initial or {})
        self._settings = dict(self._initial)
        self._random = self._new_random()

    def settings(self) -> dict[str, Any]:
        with self._lock:
            return _copy(self._settings)

    def update(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Merges `changes` (all or nothing) and answers the settings now in force."""
        with self._lock:
            self._settings = _validated(self._settings, changes)
            if "seed" in changes:
                self._random = self._new_random()
            return _copy(self._settings)

    def reset(self) -> None:
        """Back to the settings given at construction."""
        with self._lock:
            self._settings = _copy(self._initial)
            self._random = self._new_random()

    def decide(self, method: str, path: str, *, creates: bool) -> Decision:
        """The decision for one request; `creates` says whether it creates a patient or appointment."""
        with self._lock:
            entry = self._take_fail_next(method, path)
            if entry is not None and not entry.get("drop"):
                retry_after = entry.get("retry_after", self._settings["retry_after_seconds"])
                return Decision(status=entry["status"], retry_after=retry_after if entry["status"] == 429 else None)
            decision = Decision(delay_seconds=self._settings["latency_ms"] / 1000, drop=entry is not None)
            if decision.drop:
                return decision
            if self._hit("timeout_rate"):
                decision.delay_seconds += self._settings["timeout_seconds"]
            elif self._hit("rate_limit_rate"):
                decision.status, decision.retry_after = 429, self._settings["retry_after_seconds"]
            elif self._hit("error_rate"):
                decision.status = 500
            elif creates and self._hit("drop_create_rate"):
                decision.drop = True
            return decision

    def _take_fail_next(self, method: str, path: str) -> dict[str, Any] | None:
        queue: list[dict[str, Any]] = self._settings["fail_next"]
        for index, entry in enumerate(queue):
            if entry.get("method", method).upper() == method.upper() and path.startswith(entry.get("path_prefix", "")):
                entry["count"] -= 1
                if entry["count"] == 0:
                    del queue[index]
                return entry
        return None

    def _hit(self, rate_name: str) -> bool:
        rate: float = self._settings[rate_name]
        # A rate of 0 draws nothing, so that enabling one fault does not shift another's sequence.
        return rate > 0 and self._random.random() < rate

    def _new_random(self) -> random.Random:
        # Simulated faults, not security: a seedable generator is what makes a run repeatable.
        return random.Random(self._settings["seed"])  # noqa: S311


def _copy(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {**settings, "fail_next": [dict(entry) for entry in settings["fail_next"]]}


def _validated(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`current` with `changes` applied, or FaultError listing every bad change."""
    errors: list[dict[str, Any]] = []
    merged = _copy(current)
    for name, value in changes.items():
        problem: str | None
        accepted = value
        if name not in DEFAULTS:
            problem = f"unknown fault; known: {', '.join(DEFAULTS)}"
        elif name in _RATES:
            problem = None if _is_number(value) and 0 <= value <= 1 else "must be a number from 0 to 1"
        elif name in ("latency_ms", "timeout_seconds"):
            problem = None if _is_number(value) and value >= 0 else "must be a number, 0 or more"
        elif name == "retry_after_seconds":
            # Retry-After carries whole seconds.
            problem = None if is_int(value) and value >= 0 else "must be an integer, 0 or more"
        elif name == "seed":
            problem = None if value is None or is_int(value) else "must be an integer or null"
        else:
            accepted, problem = _fail_next(value)
        if problem is None:
            merged[name] = accepted
        else:
            errors.append({"parameter": name, "value": value, "message": problem})
    if errors:
        raise FaultError(errors)
    return merged


def _fail_next(value: Any) -> tuple[list[dict[str, Any]], str | None]:
    if not isinstance(value, list):
        return [], "must be a list"
    entries: list[dict[str, Any]] = []
    for position, raw in enumerate(value):
        entry, problem = _fail_next_entry(raw, where=f"entry {position}")
        if problem is not None:
            return [], problem
        entries.append(entry)
    return entries, None


def _fail_next_entry(raw: Any, *, where: str) -> tuple[dict[str, Any], str | None]:
    """One `fail_next` entry as kept, or the first problem with it."""
    if not isinstance(raw, dict):
        return {}, f"{where} must be an object"
    unknown = set(raw) - {"status", "count", "method", "path_prefix", "retry_after", "drop"}
    if unknown:
        return {}, f"{where} has unknown keys: {', '.join(sorted(unknown))}"
    entry: dict[str, Any] = {"count": raw.get("count", 1)}
    if not is_int(entry["count"]) or entry["count"] < 1:
        return {}, f"{where}: count must be an integer, 1 or more"
    problem = _fail_next_outcome(raw, entry) or _fail_next_options(raw, entry)
    return entry, None if problem is None else f"{where}: {problem}"


def _fail_next_outcome(raw: dict[str, Any], entry: dict[str, Any]) -> str | None:
    """Puts what the matching request gets (a status, or no answer) into `entry`, or the problem."""
    if raw.get("drop") is True:
        if "status" in raw:
            return "give either status or drop, not both"
        entry["drop"] = True
    elif not (is_int(raw.get("status")) and 100 <= raw["status"] <= 599):
        return "status must be an HTTP status code (or drop must be true)"
    else:
        entry["status"] = raw["status"]
    return None


def _fail_next_options(raw: dict[str, Any], entry: dict[str, Any]) -> str | None:
    """Puts the optional method, path prefix and Retry-After into `entry`, or the problem."""
    for key in ("method", "path_prefix"):
        if raw.get(key) is not None:
            if not isinstance(raw[key], str):
                return f"{key} must be a string"
            entry[key] = raw[key]
    if raw.get("retry_after") is not None:
        if not is_int(raw["retry_after"]) or raw["retry_after"] < 0:
            return "retry_after must be an integer, 0 or more"
        entry["retry_after"] = raw["retry_after"]
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
