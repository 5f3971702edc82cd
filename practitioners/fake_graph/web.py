"""HTTP plumbing for the fake's two listeners: requests and replies as values, a router, and a
standard-library threaded server that runs in the background, over TLS when given a context."""

import json
import logging
import re
import selectors
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, unquote

logger = logging.getLogger("practitioners.fake_graph")

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
MAX_BODY_BYTES = 4 * 1024 * 1024
# A client that connects and never finishes the TLS handshake must not hold a thread for ever.
TLS_HANDSHAKE_TIMEOUT_SECONDS = 10

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
        self._address = (host, port)
        self._name = name
        self._ssl_context = ssl_context
        self._running: _Running | None = None

    def start(self) -> None:
        if self._running is not None:
            raise RuntimeError(f"{self._name} is already running")
        httpd = _HTTPServer(self._address, self._app, self._ssl_context)
        wake_reader, wake_writer = socket.socketpair()
        thread = threading.Thread(target=_accept_until_woken, args=(httpd, wake_reader), name=self._name, daemon=True)
        self._running = _Running(httpd, thread, wake_reader, wake_writer)
        thread.start()

    def stop(self) -> None:
        """Stops accepting connections; requests being answered finish on their own threads."""
        running, self._running = self._running, None
        if running is None:
            return
        running.wake_writer.send(b"\0")
        running.thread.join()
        running.httpd.server_close()
        running.wake_reader.close()
        running.wake_writer.close()

    @property
    def url(self) -> str:
        """`scheme://host:port` of the bound socket."""
        if self._running is None:
            raise RuntimeError(f"{self._name} has not been started")
        host, port = self._running.httpd.server_address[:2]
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{host!s}:{port}"


def _accept_until_woken(httpd: "_HTTPServer", wake: socket.socket) -> None:
    """Accepts connections until `wake` becomes readable; unlike `serve_forever`, it does not poll."""
    with selectors.DefaultSelector() as selector:
        selector.register(httpd, selectors.EVENT_READ)
        selector.register(wake, selectors.EVENT_READ)
        while True:
            ready = {key.fileobj for key, _ in selector.select()}
            if wake in ready:
                return
            httpd.handle_request()


@dataclass(frozen=True)
class _Running:
    httpd: "_HTTPServer"
    thread: threading.Thread
    wake_reader: socket.socket
    wake_writer: socket.socket


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: Handler, ssl_context: ssl.SSLContext | None) -> None:
        self.app = app
        self.ssl_context = ssl_context
        super().__init__(address, _RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's fully qualified name, which can stall on DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = port

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake happens here, on the connection's own thread, so that a slow client
        # cannot stall the loop that accepts connections.
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(TLS_HANDSHAKE_TIMEOUT_SECONDS)
        with self.ssl_context.wrap_socket(request, server_side=True) as connection:
            super().finish_request(connection, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up mid-answer or fail the TLS handshake are normal here.
        logger.debug("connection error with %s", client_address, exc_info=True)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm on, the body would wait
    # for the client's delayed ACK (some 40 ms) on every request.
    disable_nagle_algorithm = True
    # Idle keep-alive connections are closed after a minute rather than held for ever.
    timeout = 60

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the base class writes every request to stderr."""

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            return
        path, _, query_string = self.path.partition("?")
        query = {name: values[0] for name, values in parse_qs(query_string, keep_blank_values=True).items()}
        call = Call(self.command, path, query, self.headers, body)
        try:
            reply = cast(_HTTPServer, self.server).app(call)
        except Exception:
            logger.exception("fake graph failed on %s %s", self.command, path)
            reply = Reply.json(500, {"error": {"code": "InternalServerError", "message": "The fake failed."}})
        logger.debug("%s %s -> %s", self.command, path, reply.status)
        self._send(reply)

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering a request whose body cannot be read."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._send(Reply.empty(HTTPStatus.LENGTH_REQUIRED), close=True)
            return None
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self._send(Reply.empty(HTTPStatus.BAD_REQUEST), close=True)
            return None
        return self.rfile.read(length)

    def _send(self, reply: Reply, *, close: bool = False) -> None:
        try:
            self.send_response(reply.status)
            for name, value in reply.headers:
                self.send_header(name, value)
            if reply.content_type is not None:
                self.send_header("Content-Type", reply.content_type)
            if reply.status != HTTPStatus.NO_CONTENT:
                self.send_header("Content-Length", str(len(reply.body)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:
            # The client has gone; nobody is left to answer.
            self.close_connection = True
