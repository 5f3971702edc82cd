"""Change and lifecycle notifications: their bodies, shaped as Graph sends them, and their delivery
from a background thread, each recorded as an attempt with its status and duration.

Graph waits 3 seconds for an answer and counts anything but 2xx as a failure. It retries failures
for up to 4 hours; the fake does not retry, it records the failure, so that a test sees it at once.
"""

import json
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from practitioners.fake_graph.calendar import StoredEvent
from practitioners.fake_graph.formats import graph_timestamp
from practitioners.fake_graph.subscriptions import Subscription

DELIVERY_TIMEOUT_SECONDS = 3.0
LIFECYCLE_EVENTS = frozenset({"reauthorizationRequired", "subscriptionRemoved", "missed"})


def change_notification(
    subscription: Subscription, change_type: str, event: StoredEvent, tenant_id: str
) -> dict[str, Any]:
    """One item of a change notification's `value`; the resource names the mailbox by its id."""
    resource = f"Users/{event.mailbox.id}/Events/{event.id}"
    return {
        "subscriptionId": subscription.id,
        "subscriptionExpirationDateTime": graph_timestamp(subscription.expiration),
        "changeType": change_type,
        "resource": resource,
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Event",
            "@odata.id": resource,
            "@odata.etag": event.etag,
            "id": event.id,
        },
        "clientState": subscription.client_state,
        "tenantId": tenant_id,
    }


def lifecycle_notification(subscription: Subscription, lifecycle_event: str, tenant_id: str) -> dict[str, Any]:
    """One item of a lifecycle notification's `value`."""
    return {
        "subscriptionId": subscription.id,
        "subscriptionExpirationDateTime": graph_timestamp(subscription.expiration),
        "tenantId": tenant_id,
        "clientState": subscription.client_state,
        "lifecycleEvent": lifecycle_event,
    }


@dataclass(frozen=True)
class Delivery:
    """One POST of notifications to a subscriber: `status` is None when no answer came (`error` says why)."""

    kind: str  # "change" or "lifecycle"
    url: str
    payload: dict[str, Any]
    status: int | None
    error: str | None
    duration_ms: float
    delivered_at: datetime

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "url": self.url,
            "payload": self.payload,
            "status": self.status,
            "error": self.error,
            "duration_ms": round(self.duration_ms, 3),
            "delivered_at": graph_timestamp(self.delivered_at),
        }


@dataclass
class Job:
    kind: str
    url: str
    payload: dict[str, Any]
    generation: int
    done: threading.Event = field(default_factory=threading.Event)
    delivery: Delivery | None = None


class Dispatcher:
    """Delivers notifications one POST at a time, in the order they were sent, from one thread.

    The thread starts with the first notification and stops with `stop()`.
    """

    def __init__(self, timeout: float = DELIVERY_TIMEOUT_SECONDS) -> None:
        self._timeout = timeout
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Condition()
        self._deliveries: list[Delivery] = []
        self._generation = 0
        self._thread: threading.Thread | None = None

    def send(self, kind: str, url: str, payload: dict[str, Any]) -> Job:
        with self._lock:
            job = Job(kind, url, payload, self._generation)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fake-graph-notifications", daemon=True)
                self._thread.start()
        self._queue.put(job)
        return job

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def wait_for(self, count: int, timeout: float) -> list[Delivery]:
        """The deliveries once there are at least `count`; raises TimeoutError after `timeout` seconds."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._deliveries) >= count, timeout=timeout):
                raise TimeoutError(f"{len(self._deliveries)} notification deliveries after {timeout} s, not {count}")
            return list(self._deliveries)

    def clear(self) -> None:
        """Forgets the deliveries; notifications not yet delivered are dropped."""
        with self._lock:
            self._generation += 1
            self._deliveries.clear()

    def stop(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _run(self) -> None:
        with requests.Session() as session:
            # The fake talks to local receivers: no proxies from the environment.
            session.trust_env = False
            while (job := self._queue.get()) is not None:
                if job.generation == self._generation:
                    self._deliver(session, job)
                job.done.set()

    def _deliver(self, session: requests.Session, job: Job) -> None:
        status: int | None = None
        error: str | None = None
        started = time.monotonic()
        try:
            response = session.post(
                job.url,
                data=json.dumps(job.payload).encode("utf-8"),
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=self._timeout,
                allow_redirects=False,
            )
            status = response.status_code
        except requests.Timeout:
            error = "timed out"
        except requests.RequestException as exception:
            error = type(exception).__name__
        delivery = Delivery(
            job.kind, job.url, job.payload, status, error, (time.monotonic() - started) * 1000, datetime.now(UTC)
        )
        with self._lock:
            if job.generation == self._generation:
                self._deliveries.append(delivery)
                job.delivery = delivery
            self._lock.notify_all()
