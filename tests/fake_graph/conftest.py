"""A running fake Graph, a client holding a token from it, and a subscriber's endpoint to notify."""

import json
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, unquote_plus

import pytest
import requests

from practitioners.fake_graph import FAKE_MAILBOXES, FakeGraphServer, calendly_event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DIA = FAKE_MAILBOXES["dr-dia"]
NURSE = FAKE_MAILBOXES["nurse"]


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def in_minutes(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


class Receiver:
    """A subscriber's endpoint, on the standard library: answers the validation handshake as `echo`
    says, and records every notification POSTed to it.

    echo: "correct" (parse_qs, as Django does), "undecoded-plus" (leaves `+` for spaces),
    "decoded-twice", "json" (right body, wrong content type), "refuse" (500).
    """

    def __init__(self) -> None:
        self.echo = "correct"
        self.status = 202
        self.received: list[dict[str, object]] = []
        self.validations: list[str] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                path, _, query = self.path.partition("?")
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if "validationToken=" in query:
                    receiver._validate(self, query)
                    return
                with receiver._changed:
                    receiver.received.append(
                        {"path": path, "content_type": self.headers.get("Content-Type"), "body": json.loads(body)}
                    )
                    receiver._changed.notify_all()
                self._answer(receiver.status, b"", "text/plain")

            def _answer(self, status, body, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})

    def _validate(self, handler, query: str) -> None:
        raw = query.split("validationToken=", 1)[1].split("&", 1)[0]
        self.validations.append(raw)
        token = {
            "correct": lambda: parse_qs(query)["validationToken"][0],
            "undecoded-plus": lambda: unquote(raw),
            "decoded-twice": lambda: unquote_plus(unquote_plus(raw)),
            "json": lambda: parse_qs(query)["validationToken"][0],
            "refuse": lambda: "",
        }[self.echo]()
        status = 500 if self.echo == "refuse" else 200
        content_type = "application/json" if self.echo == "json" else "text/plain; charset=utf-8"
        handler._answer(status, token.encode("utf-8"), content_type)

    def url(self, path: str = "/notify") -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, object]]:
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, timeout=timeout):
                raise AssertionError(f"{len(self.received)} notifications received, not {count}")
            return list(self.received)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def fake():
    with FakeGraphServer() as server:
        yield server


@pytest.fixture
def receiver():
    with Receiver() as endpoint:
        yield endpoint


@pytest.fixture
def token(fake):
    """An access token from the fake identity provider, obtained over TLS as any client would."""
    with requests.Session() as session:
        session.verify = fake.ca_cert_path
        session.trust_env = False  # else REQUESTS_CA_BUNDLE would replace `verify`
        response = session.post(
            f"{fake.authority}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": fake.client_id,
                "client_secret": fake.client_secret,
                "scope": "https://graph.microsoft.com/.default",
            },
            timeout=5,
        )
    response.raise_for_status()
    return response.json()["access_token"]


@pytest.fixture
def graph(fake, token):
    """`requests` against the fake Graph with the bearer token; paths start after `/v1.0`."""

    class Graph:
        def __init__(self) -> None:
            self.session = requests.Session()
            self.session.headers["Authorization"] = f"Bearer {token}"

        def request(self, method, path, **kwargs):
            kwargs.setdefault("timeout", 15)
            url = path if path.startswith("http") else fake.graph_url + path
            return self.session.request(method, url, **kwargs)

        def get(self, path, **kwargs):
            return self.request("GET", path, **kwargs)

        def post(self, path, **kwargs):
            return self.request("POST", path, **kwargs)

        def patch(self, path, **kwargs):
            return self.request("PATCH", path, **kwargs)

        def delete(self, path, **kwargs):
            return self.request("DELETE", path, **kwargs)

    client = Graph()
    yield client
    client.session.close()


@pytest.fixture
def subscribe(graph, receiver):
    """Creates a subscription on a mailbox's events that notifies `receiver`; returns Graph's answer."""

    def create(mailbox=DIA, **changes):
        body = {
            "changeType": "created,updated,deleted",
            "notificationUrl": receiver.url("/notify"),
            "lifecycleNotificationUrl": receiver.url("/lifecycle"),
            "resource": f"users/{mailbox['id']}/events",
            "expirationDateTime": in_minutes(3 * 24 * 60),
            "clientState": "secretClientValue-dr-dia",
        } | changes
        response = graph.post("/subscriptions", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    return create


def paid_booking(**changes):
    """The event body Calendly writes for Jane Citizen's paid follow-up with Dr Dia (the shared fixture)."""
    arguments = {
        "practitioner_name": "Dr Dia",
        "first_name": "Jane",
        "last_name": "Citizen",
        "email": "jane.citizen@example.com.au",
        "mobile": "+61 412 345 678",
        "date_of_birth": date(1980, 2, 29),
        "reason": "Review of blood results",
        "start": datetime(2026, 12, 3, 23, 30, tzinfo=UTC),
        "minutes": 45,
        "invitee_uuid": "0f3c2a1e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
    }
    return calendly_event(**(arguments | changes))
