"""A standard-library HTTP server for local fakes, served from a background thread.

The MediRecords sandbox and the fake of Microsoft Graph both answer real HTTP on a port of
their own; this is what they share: bind without a DNS lookup, one thread per connection,
keep-alive without Nagle's delay, bodies read by Content-Length (chunked refused), optional
TLS with the handshake on the connection's own thread, and a stop that returns at once.
Each fake turns a `Request` into its own reply, or None to drop the connection unanswered.
They share their lifecycle too: `with` around a block, and a command line that serves until
signalled.
"""

import logging
import selectors
import signal
import socket
import socketserver
import ssl
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar, cast
from urllib.parse import parse_qs

logger = logging.getLogger("medirecords.sandbox.http")

# A client that connects and never finishes the TLS handshake must not hold a thread for ever.
TLS_HANDSHAKE_TIMEOUT_SECONDS = 10


class Answer(Protocol):
    """What a fake answers with: its own reply type, of this shape."""

    @property
    def status(self) -> int: ...
    @property
    def body(self) -> bytes: ...
    @property
    def content_type(self) -> str | None: ...
    @property
    def headers(self) -> tuple[tuple[str, str], ...]: ...


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]  # the first value of each parameter
    query_string: str
    headers: Message
    body: bytes


@dataclass(frozen=True)
class BodyLimits:
    """The largest body read, and the answers to a body that cannot be read."""

    max_bytes: int
    refuse: Callable[[int], Answer]  # the answer for a status: 411 chunked, 400 bad length, too large
    too_large_status: int = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class BackgroundHTTPServer:
    """Serves `handle` from a thread; `start()` binds (port 0 picks a free one), `stop()` returns promptly."""

    def __init__(
        self,
        handle: Callable[[Request], Answer | None],
        *,
        host: str,
        port: int,
        name: str,
        limits: BodyLimits,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._handle = handle
        self._address = (host, port)
        self._name = name
        self._limits = limits
        self._ssl_context = ssl_context
        self._running: _Running | None = None

    def start(self) -> None:
        if self._running is not None:
            raise RuntimeError(f"{self._name} is already running")
        httpd = _HTTPServer(self._address, self._handle, self._limits, self._ssl_context)
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
    """Accepts connections until `wake` becomes readable.

    Unlike `serve_forever`, which polls for its stop flag, this stops as soon as `stop()` writes.
    """
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

    def __init__(
        self,
        address: tuple[str, int],
        handle: Callable[[Request], Answer | None],
        limits: BodyLimits,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.handle = handle
        self.limits = limits
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
        # Clients that hang up mid-answer (timeouts, dropped connections, failed handshakes)
        # are normal here.
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

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the base class writes every request to stderr; the fakes log their own."""

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            return
        path, _, query_string = self.path.partition("?")
        query = {name: values[0] for name, values in parse_qs(query_string, keep_blank_values=True).items()}
        request = Request(self.command, path, query, query_string, self.headers, body)
        reply = self._server.handle(request)
        if reply is None:
            self.close_connection = True
            return
        self._send(reply)

    @property
    def _server(self) -> _HTTPServer:
        return cast(_HTTPServer, self.server)

    def _read_body(self) -> bytes | None:
        """The request body, or None after answering a request whose body cannot be read."""
        limits = self._server.limits
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._send(limits.refuse(HTTPStatus.LENGTH_REQUIRED), close=True)
            return None
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0:
            self._send(limits.refuse(HTTPStatus.BAD_REQUEST), close=True)
            return None
        if length > limits.max_bytes:
            self._send(limits.refuse(limits.too_large_status), close=True)
            return None
        return self.rfile.read(length)

    def _send(self, reply: Answer, *, close: bool = False) -> None:
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
            # The client has gone (it timed out, or hung up); nobody is left to answer.
            self.close_connection = True


class LocalFake(ABC):
    """A fake that its owner starts and stops, or that `with` starts and stops around a block."""

    @abstractmethod
    def start(self) -> Self: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


FakeT = TypeVar("FakeT", bound=LocalFake)


def serve_until_stopped(
    fake_made: Callable[[], FakeT],
    *,
    name: str,
    announcement: Callable[[FakeT], str],
    verbose: bool,
    stopping: threading.Event,
) -> int:
    """A fake's command line: start the fake `fake_made` returns, print `announcement` of it and
    serve until `stopping` is set; returns the exit code (1, the reason on stderr, when the fake
    cannot be made or started)."""
    try:
        fake = fake_made()
        fake.start()
    except (OSError, ValueError) as error:
        print(f"{name}: cannot start: {error}", file=sys.stderr)
        return 1
    # Only once serving: a refusal to start leaves the process's logging as it was.
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    try:
        print(announcement(fake), flush=True)
        # A timeout keeps the wait responsive to signals on every platform.
        while not stopping.wait(timeout=1.0):
            pass
    finally:
        fake.stop()
    return 0


def run_until_signalled(serve: Callable[[threading.Event], int]) -> int:
    """Run `serve(stopping)` with SIGINT and SIGTERM setting `stopping`; returns its exit code.

    The handlers are installed before the server answers, so that a signal sent as soon as it
    does is not lost, and restored afterwards, for a caller that runs this in its own process.
    """
    stopping = threading.Event()
    previous = {
        number: signal.signal(number, lambda signum, frame: stopping.set())
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        return serve(stopping)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
