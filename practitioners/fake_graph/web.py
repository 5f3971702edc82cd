"""HTTP for the fake's two listeners: requests and replies as values, a router, and the
sandbox's background server (`medirecords.sandbox.http_server`), over TLS when given a context."""

import json
import logging
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from email.message import Message
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from medirecords.sandbox.http_server import BackgroundHTTPServer, BodyLimits, Request

logger = logging.getLogger("practitioners.fake_graph")

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
MAX_BODY_BYTES = 4 * 1024 * 1024

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: Headers = ()

    @classmethod
    def json(cls, status: int, payload: Any, headers: Headers = (), content_type: str = JSON_CONTENT_TYPE) -> "Reply":
        return cls(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"), content_type, headers)

    @classmethod
    def empty(cls, status: int = HTTPStatus.NO_CONTENT, headers: Headers = ()) -> "Reply":
        return cls(status, headers=headers)


@dataclass(frozen=True)
class Call:
    """One request, as the route handlers see it; `params` are the route's named groups, URL-decoded."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Message
    body: bytes
    params: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError when it is not."""
        return json.loads(self.body or b"null")


Handler = Callable[[Call], Reply]


class Router:
    """Finds the handler for a method and path; a known path with another method is a 405."""

    def __init__(
        self,
        routes: Mapping[str, Mapping[str, Handler]],
        *,
        not_found: Handler,
        method_not_allowed: Handler,
        ignore_case: bool = False,
    ) -> None:
        flags = re.IGNORECASE if ignore_case else 0
        self._routes = [(re.compile(pattern, flags), methods) for pattern, methods in routes.items()]
        self._not_found = not_found
        self._method_not_allowed = method_not_allowed

    def dispatch(self, call: Call) -> Reply:
        for pattern, methods in self._routes:
            match = pattern.fullmatch(call.path)
            if match is None:
                continue
            handler = methods.get(call.method)
            if handler is None:
                return self._method_not_allowed(call)
            params = {name: unquote(value) for name, value in match.groupdict().items()}
            return handler(replace(call, params=params))
        return self._not_found(call)


class BackgroundServer:
    """Serves `app` from a thread; `start()` binds (port 0 picks a free one), `stop()` returns promptly."""

    def __init__(
        self, app: Handler, *, host: str, port: int, name: str, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self._app = app
        self._http = BackgroundHTTPServer(
            self._serve,
            host=host,
            port=port,
            name=name,
            limits=BodyLimits(max_bytes=MAX_BODY_BYTES, refuse=Reply.empty, too_large_status=HTTPStatus.BAD_REQUEST),
            ssl_context=ssl_context,
        )

    def start(self) -> None:
        self._http.start()

    def stop(self) -> None:
        """Stops accepting connections; requests being answered finish on their own threads."""
        self._http.stop()

    @property
    def url(self) -> str:
        """`scheme://host:port` of the bound socket."""
        return self._http.url

    def _serve(self, request: Request) -> Reply:
        call = Call(request.method, request.path, request.query, request.headers, request.body)
        try:
            reply = self._app(call)
        except Exception:
            logger.exception("fake graph failed on %s %s", call.method, call.path)
            reply = Reply.json(500, {"error": {"code": "InternalServerError", "message": "The fake failed."}})
        logger.debug("%s %s -> %s", call.method, call.path, reply.status)
        return reply
