"""The sandbox's HTTP side: routing, authentication, fault injection and the control endpoints.

`SandboxServer` runs a standard-library `ThreadingHTTPServer` in a background thread. API requests
(`/v1/...`, `/fhir/v1/...`) need the bearer token and are subject to faults; the control endpoints
(`/_sandbox/...`) and the page at `/` are neither.
"""

import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from email.message import Message
from http import HTTPStatus
from os import PathLike
from typing import Any, Self, cast

from medirecords.sandbox import multipart, page
from medirecords.sandbox.faults import Decision, FaultError, Faults
from medirecords.sandbox.http_server import BackgroundHTTPServer, BodyLimits, LocalFake, Request
from medirecords.sandbox.seed import PROVIDERS
from medirecords.sandbox.store import Result, Store
from medirecords.sandbox.validation import (
    FHIR_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    ApiError,
    fhir_error,
    field_error,
)

logger = logging.getLogger("medirecords.sandbox")

MAX_BODY_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(
        cls, status: int, payload: Any, content_type: str = JSON_CONTENT_TYPE, headers: tuple[tuple[str, str], ...] = ()
    ) -> "Reply":
        if status == HTTPStatus.NO_CONTENT:
            return cls(status, headers=headers)
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        return cls(status, body, content_type, headers)

    @classmethod
    def message(cls, status: int, headers: tuple[tuple[str, str], ...] = ()) -> "Reply":
        """`{"message": "<reason phrase>"}`, as the API answers a status with nothing more to say."""
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:  # a status with no registered name, set up as a fault
            phrase = "Error"
        return cls.json(status, {"message": phrase}, headers=headers)


@dataclass(frozen=True)
class Call:
    """One request, as the route handlers see it."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Message
    body: bytes
    query_string: str = ""
    params: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise field_error("body", None, "must be a valid JSON document") from None

    def fhir_json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise fhir_error(400, "invalid", ["the body must be a valid JSON document"]) from None

    def multipart(self) -> list[multipart.Part]:
        try:
            return multipart.parse(self.headers.get("Content-Type", ""), self.body)
        except multipart.MultipartError as error:
            raise field_error("body", None, str(error)) from None


Handler = Callable[[Call], Reply]


class Router:
    """Finds the handler for a method and path; a known path with another method is a 405."""

    def __init__(self, routes: Mapping[str, Mapping[str, Handler]]) -> None:
        self._routes = [(re.compile(pattern), methods) for pattern, methods in routes.items()]

    def dispatch(self, call: Call) -> Reply:
        for pattern, methods in self._routes:
            match = pattern.fullmatch(call.path)
            if match is None:
                continue
            handler = methods.get(call.method)
            if handler is None:
                return Reply.message(HTTPStatus.METHOD_NOT_ALLOWED, headers=(("Allow", ", ".join(methods)),))
            return handler(replace(call, params=match.groupdict()))
        return Reply.message(HTTPStatus.NOT_FOUND)


def _api_routes(store: Store) -> Router:
    def rest(operation: Callable[[Call], Result]) -> Handler:
        return lambda call: Reply.json(*operation(call))

    def fhir(operation: Callable[[Call], Result]) -> Handler:
        return lambda call: Reply.json(*operation(call), content_type=FHIR_CONTENT_TYPE)

    patient = r"/v1/patients/(?P<patient>[^/]+)"
    practice = r"/v1/practices/(?P<practice>[^/]+)"
    # Literal paths first: "search" and "exist" would otherwise be taken for a patient id.
    return Router(
        {
            r"/v1/patients": {"POST": rest(lambda c: store.patient_create(c.json()))},
            r"/v1/patients/search": {"GET": rest(lambda c: store.patients_search(c.query))},
            r"/v1/patients/exist": {"GET": rest(lambda c: store.patients_exist(c.query))},
            patient: {"GET": rest(lambda c: store.patient_get(c.params["patient"]))},
            f"{patient}/addresses": {
                "GET": rest(lambda c: store.addresses_list(c.params["patient"])),
                "POST": rest(lambda c: store.address_create(c.params["patient"], c.json())),
            },
            f"{patient}/settings": {
                "GET": rest(lambda c: store.settings_get(c.params["patient"])),
                "POST": rest(lambda c: store.settings_replace(c.params["patient"], c.json())),
            },
            f"{patient}/relationships": {
                "GET": rest(lambda c: store.relationships_list(c.params["patient"])),
                "POST": rest(lambda c: store.relationship_create(c.params["patient"], c.json())),
            },
            r"/v1/upload/patients/(?P<patient>[^/]+)/correspondences/inbounds": {
                "GET": rest(lambda c: store.documents_list(c.params["patient"])),
                "POST": rest(lambda c: store.document_create(c.params["patient"], c.multipart())),
            },
            r"/fhir/v1/Patient/(?P<patient>[^/]+)": {
                "GET": fhir(lambda c: store.fhir_patient_get(c.params["patient"])),
                "PUT": fhir(lambda c: store.fhir_patient_put(c.params["patient"], c.fhir_json())),
            },
            practice: {"GET": rest(lambda c: store.practice_get(c.params["practice"]))},
            f"{practice}/appointments": {
                "GET": rest(lambda c: store.appointments_list(c.params["practice"], c.query)),
                "POST": rest(lambda c: store.appointment_create(c.params["practice"], c.json())),
            },
            f"{practice}/appointments/(?P<appointment>[^/]+)": {
                "GET": rest(lambda c: store.appointment_get(c.params["practice"], c.params["appointment"])),
                "PUT": rest(
                    lambda c: store.appointment_replace(c.params["practice"], c.params["appointment"], c.json())
                ),
                "DELETE": rest(lambda c: store.appointment_delete(c.params["practice"], c.params["appointment"])),
            },
            f"{practice}/providers": {"GET": rest(lambda c: store.providers_list(c.params["practice"], c.query))},
            f"{practice}/appointment-types": {
                "GET": rest(lambda c: store.appointment_types_list(c.params["practice"]))
            },
            f"{practice}/regular-sessions": {
                "GET": rest(lambda c: store.regular_sessions_list(c.params["practice"], c.query))
            },
            r"/v1/code-system/appointment-interval-code": {"GET": rest(lambda c: store.interval_codes())},
        }
    )


_CREATES = re.compile(r"/v1/patients|/v1/practices/[^/]+/appointments")


def _is_api(path: str) -> bool:
    return any(path == root or path.startswith(root + "/") for root in ("/v1", "/fhir"))


def _fault_reply(decision: Decision) -> Reply:
    status = cast(int, decision.status)
    headers: tuple[tuple[str, str], ...] = ()
    if decision.retry_after is not None:
        headers = (("Retry-After", str(decision.retry_after)),)
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        # Whatever the 5xx, the body is the generic one a gateway or the application gives.
        return Reply.json(status, {"message": "Internal Server Error"}, headers=headers)
    return Reply.message(status, headers=headers)


class SandboxServer(LocalFake):
    """A MediRecords API that runs in a background thread, holds its state in memory and misbehaves
    on request.

    `with SandboxServer(token="t") as sandbox: requests.get(sandbox.api_url + "/patients/...")`
    """

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        token: str = "sandbox-token",  # noqa: S107 -- the sandbox's well-known default, not a secret.
        fhir_token: str | None = None,
        data_file: str | PathLike[str] | None = None,
        faults: Mapping[str, Any] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.token = token
        self.fhir_token = fhir_token
        self.store = Store(data_file)
        self._faults = Faults(faults)
        self._api = _api_routes(self.store)
        self._control = Router(
            {
                "/": {"GET": self._page},
                "/_sandbox/faults": {
                    "GET": lambda call: Reply.json(200, self._faults.settings()),
                    "POST": self._faults_update,
                },
                "/_sandbox/reset": {"POST": lambda call: self._reset_reply()},
                "/_sandbox/requests": {"GET": lambda call: Reply.json(200, {"data": self.requests})},
                "/_sandbox/state": {"GET": lambda call: Reply.json(200, self.store.snapshot())},
            }
        )
        self._requests: list[dict[str, Any]] = []
        self._requests_lock = threading.Lock()
        # Set while stopping, to cut short the sleeps of latency and timeout faults.
        self._stopping = threading.Event()
        self._running: BackgroundHTTPServer | None = None
        self._url: str | None = None

    # Lifecycle.

    def start(self) -> Self:
        if self._running is not None:
            raise RuntimeError("the sandbox is already running")
        self._stopping.clear()
        running = BackgroundHTTPServer(
            self._serve,
            host=self.host,
            port=self.port,
            name="medirecords-sandbox",
            limits=BodyLimits(max_bytes=MAX_BODY_BYTES, refuse=Reply.message),
        )
        running.start()
        self._running = running
        self._url = running.url
        self.store.base_url = self._url
        logger.debug("sandbox serving on %s", self._url)
        return self

    def stop(self) -> None:
        """Stops accepting connections; requests still being answered finish on their own threads."""
        running, self._running = self._running, None
        if running is None:
            return
        self._stopping.set()
        running.stop()

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the sandbox has not been started")
        return self._url

    @property
    def api_url(self) -> str:
        return self.url + "/v1"

    @property
    def fhir_url(self) -> str:
        return self.url + "/fhir/v1"

    # Control.

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The API requests seen, oldest first.

        Each is `{method, path, query, status, time, duration_ms}`: `time` is `time.monotonic()` at
        arrival; `status` is None while the request is being answered, and "dropped" for one whose
        connection was closed without an answer.
        """
        with self._requests_lock:
            return [dict(request) for request in self._requests]

    @property
    def faults(self) -> dict[str, Any]:
        return self._faults.settings()

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Merges `changes` into the fault settings; raises FaultError (a ValueError) for bad ones."""
        return self._faults.update(changes)

    def reset(self) -> None:
        """Forgets all patients, appointments and requests, and restores the faults given at start."""
        self.store.reset()
        self._faults.reset()
        with self._requests_lock:
            self._requests.clear()

    # Answering requests; called by the request handler, on its thread.

    def _serve(self, request: Request) -> Reply | None:
        call = Call(request.method, request.path, request.query, request.headers, request.body, request.query_string)
        return self._handle(call)

    def _handle(self, call: Call) -> Reply | None:
        """The reply to send, or None to drop the connection without one."""
        if not _is_api(call.path):
            return self._control.dispatch(call)

        record = self._record_arrival(call)
        creates = call.method == "POST" and _CREATES.fullmatch(call.path) is not None
        decision = self._faults.decide(call.method, call.path, creates=creates)
        if decision.delay_seconds:
            self._stopping.wait(decision.delay_seconds)
        reply = _fault_reply(decision) if decision.status is not None else self._answer(call)
        # Completed before the reply goes out, so a client that has its answer also finds the status.
        self._record_outcome(record, "dropped" if decision.drop else reply.status)
        return None if decision.drop else reply

    def _answer(self, call: Call) -> Reply:
        expected = self.fhir_token if call.path.startswith("/fhir/") and self.fhir_token else self.token
        scheme, _, given = call.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), expected.encode()):
            return Reply.json(401, {"message": "Unauthorized"}, headers=(("WWW-Authenticate", "Bearer"),))
        try:
            return self._api.dispatch(call)
        except ApiError as error:
            return Reply.json(error.status, error.body, error.content_type)
        except Exception:
            logger.exception("sandbox failed on %s %s", call.method, call.path)
            return Reply.message(HTTPStatus.INTERNAL_SERVER_ERROR)

    def _record_arrival(self, call: Call) -> dict[str, Any]:
        """Records the request as it arrives, so that one never answered (a timeout) is seen too."""
        record: dict[str, Any] = {
            "method": call.method,
            "path": call.path,
            "query": call.query_string,
            "status": None,
            "time": time.monotonic(),
            "duration_ms": None,
        }
        with self._requests_lock:
            self._requests.append(record)
        return record

    def _record_outcome(self, record: dict[str, Any], status: int | str) -> None:
        with self._requests_lock:
            record["status"] = status
            record["duration_ms"] = (time.monotonic() - record["time"]) * 1000
        logger.debug("%s %s -> %s in %.1f ms", record["method"], record["path"], status, record["duration_ms"])

    def _page(self, call: Call) -> Reply:
        names = {provider["id"]: provider["fullName"] for provider in PROVIDERS.values()}
        html = page.render(self.store.patients(), self.store.appointments(), names)
        return Reply(200, html.encode("utf-8"), "text/html; charset=utf-8")

    def _faults_update(self, call: Call) -> Reply:
        try:
            changes = call.json()
            if not isinstance(changes, dict):
                raise field_error("body", None, "must be a JSON object")
            return Reply.json(200, self._faults.update(changes))
        except ApiError as error:
            return Reply.json(error.status, error.body)
        except FaultError as error:
            return Reply.json(400, {"errors": error.errors})

    def _reset_reply(self) -> Reply:
        self.reset()
        return Reply(HTTPStatus.NO_CONTENT)
