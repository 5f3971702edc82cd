"""No test reaches a port it did not open.

A test that talks to whatever happens to listen on this machine (a developer's `make run`: the
MediRecords sandbox on 8100, the fake Graph on 8200) passes or fails by chance and writes into
that service's data. So, for the whole run:

- the external systems' URLs point nowhere: hosts under `.invalid` (RFC 6761), which the guard
  refuses to resolve at once, as the RFC asks, instead of asking a DNS server; tests that talk
  to MediRecords, Graph or JotForm use `responses` or a server they started on a free port;
- every outgoing TCP connection from this process is checked, whichever thread makes it. It may
  go to the configured database or Redis (DATABASE_URL, REDIS_URL), to a port a socket of this
  process has bound (servers tests start in-process: the sandbox, the fake Graph, live_server,
  stub receivers), or to a port the running test registered with `started_server_register`
  (a server it started in a subprocess). Anything else is refused as if nothing listened there,
  and the test fails even when the code under test swallowed the error.

pytest-socket was the first choice, but it allows or blocks by host only: allowing 127.0.0.1
for the test's own servers would allow the sandbox on 127.0.0.1:8100 too. Hence this patch of
`socket.socket.connect`/`connect_ex`, `bind` and `getaddrinfo`. Connections made inside C
libraries (libpq) and by child processes are not seen; those children inherit the environment
below, so they point nowhere as well.
"""

import errno
import ipaddress
import os
import socket
import threading
from collections.abc import Generator, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

# Set in the environment too, so that processes the tests start (workers, commands) inherit them.
UNREACHABLE_URLS = {
    "MEDIRECORDS_API_URL": "http://medirecords.invalid/v1",
    "MEDIRECORDS_FHIR_URL": "http://medirecords.invalid/fhir/v1",
    "GRAPH_API_URL": "https://graph.invalid/v1.0",
    "AZURE_AUTHORITY_HOST": "https://login.invalid",
    "JOTFORM_API_URL": "https://jotform.invalid",
    "CALENDLY_API_URL": "https://calendly.invalid",
    # Where Graph (the fake, in tests) would deliver notifications: nowhere unless a test says.
    "PUBLIC_BASE_URL": "http://clinic.invalid",
}

_INET_FAMILIES = (socket.AF_INET, socket.AF_INET6)
_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex
_original_bind = socket.socket.bind
_original_getaddrinfo = socket.getaddrinfo


def _is_invalid_name(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.rstrip(".").lower()
    return name == "invalid" or name.endswith(".invalid")


_DEFAULT_HOSTS = frozenset(str(urlsplit(url).hostname) for url in UNREACHABLE_URLS.values())


def _is_default_host(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    return isinstance(host, str) and host.rstrip(".").lower() in _DEFAULT_HOSTS


def _addresses(host: str, port: int) -> set[str]:
    """The IP addresses `host` stands for (itself, if it is one); empty if it does not resolve."""
    try:
        return {str(ipaddress.ip_address(host))}
    except ValueError:
        pass
    try:
        return {str(info[4][0]) for info in _original_getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
    except OSError:
        return set()


def _is_local(address: str) -> bool:
    parsed = ipaddress.ip_address(address.split("%", 1)[0])
    return parsed.is_loopback or parsed.is_unspecified


class NetworkGuard:
    """What this process may connect to, and the connections it was refused, by test."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.configured: set[tuple[str, int]] = set()
        self.bound_ports: set[int] = set()
        self.started_ports: set[int] = set()
        self.refused: list[str] = []

    def allow_service(self, url: str, default_port: int) -> None:
        """Allow the host and port of a configured service URL (database, Redis)."""
        parts = urlsplit(url)
        if not parts.hostname:
            return
        port = parts.port or default_port
        for address in _addresses(parts.hostname, port):
            self.configured.add((address, port))

    def port_bound(self, port: int) -> None:
        with self._lock:
            self.bound_ports.add(port)

    def is_allowed(self, host: str, port: int) -> bool:
        addresses = _addresses(host, port)
        if not addresses:
            return False
        with self._lock:
            ours = self.bound_ports | self.started_ports
        return all((address, port) in self.configured or (port in ours and _is_local(address)) for address in addresses)

    def refuse(self, host: str, port: int) -> None:
        with self._lock:
            self.refused.append(f"{host}:{port}")

    def refused_take(self) -> list[str]:
        with self._lock:
            refused, self.refused = self.refused, []
        return refused


guard = NetworkGuard()


def started_server_register(*, port: int) -> None:
    """Allow the running test to reach a server it started in a subprocess on `port`."""
    with guard._lock:
        guard.started_ports.add(port)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port of this test's own on 127.0.0.1 where nothing listens: connections are refused at once.

    Bound but never listening, so no other process can take it while the test runs.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _checked(sock: socket.socket, address: Any) -> bool:
    """True if `sock` may connect to `address`; records the refusal otherwise."""
    if sock.family not in _INET_FAMILIES or not isinstance(address, tuple):
        return True
    host, port = str(address[0]), int(address[1])
    if guard.is_allowed(host, port):
        return True
    guard.refuse(host, port)
    return False


def _connect(self: socket.socket, address: Any) -> None:
    if not _checked(self, address):
        raise ConnectionRefusedError(errno.ECONNREFUSED, f"network guard: {address[0]}:{address[1]} is not the test's")
    _original_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    if not _checked(self, address):
        return errno.ECONNREFUSED
    return _original_connect_ex(self, address)


def _bind(self: socket.socket, address: Any) -> None:
    _original_bind(self, address)
    if self.family in _INET_FAMILIES:
        guard.port_bound(self.getsockname()[1])


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if _is_default_host(host):
        # The code under test reached for an external system the test did not set up.
        guard.refuse(str(host), int(args[0]) if args and str(args[0]).isdigit() else 0)
    if _is_invalid_name(host):
        raise socket.gaierror(socket.EAI_NONAME, f"{host!s} is an .invalid name (RFC 6761)")
    return _original_getaddrinfo(host, *args, **kwargs)


def _install() -> None:
    socket.socket.connect = _connect  # type: ignore[method-assign, assignment]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign, assignment]
    socket.socket.bind = _bind  # type: ignore[method-assign, assignment]
    socket.getaddrinfo = _getaddrinfo


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Django's settings are read before conftest modules load, so they are changed in place too.
    from django.conf import settings

    os.environ.update(UNREACHABLE_URLS)
    for name, url in UNREACHABLE_URLS.items():
        setattr(settings, name, url)
    database = settings.DATABASES["default"]
    if database.get("HOST"):
        guard.allow_service(f"//{database['HOST']}:{database.get('PORT') or 5432}", 5432)
    if settings.REDIS_URL:
        guard.allow_service(settings.REDIS_URL, 6379)
    _install()


def _refusals_report(report: pytest.TestReport, refused: list[str]) -> None:
    message = (
        "network guard: this test reached for "
        + ", ".join(sorted(set(refused)))
        + ", which it did not open: not a server of its own, not the configured database or Redis"
        " (use `responses`, or start a server on a free port and register it)"
    )
    report.sections.append(("network guard", message))
    if report.outcome != "failed":
        report.outcome = "failed"
        report.longrepr = message


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    refused = guard.refused_take()
    if refused:
        _refusals_report(report, refused)
    if call.when == "teardown":
        with guard._lock:
            guard.started_ports.clear()
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    refused = guard.refused_take()
    if refused:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"network guard: connections outside any test to {', '.join(sorted(set(refused)))}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
