"""The practice as the recorded Graph payloads see it, and a stand-in for the Graph client."""

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bookings.push import tasks
from practitioners import clients
from practitioners.graph.client import DeltaPage, GraphNotFoundError
from practitioners.models import BookingType, GraphSubscription, PractitionerKind, SubscriptionReceiver
from tests.practitioners.factories import PractitionerFactory

JSON = dict[str, Any]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

DR_DIA_MAILBOX = "5f1c2e4b-7a0d-4c55-9d3e-2b8a1f6c9e10"
NURSE_MAILBOX = "9a8b7c6d-0000-4e1f-a2b3-c4d5e6f7a8b9"
CONSULTANT_MAILBOX = "consultant@clinic.example.com.au"
DR_DIA_SUBSCRIPTION = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"
NURSE_SUBSCRIPTION = "0c6d2b8e-1111-4a8e-8c1d-5e0f9a3b7d21"
CONSULTANT_SUBSCRIPTION = "3b0e7a52-9c41-4f6e-b8d2-61a5c7e90f13"
JANE_EVENT_ID = "AAMkAGI1AAAt9AHjAAA="
NURSE_EVENT_ID = "AAMkAGI2BBBu0BIkBBB="


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> JSON:
    document: JSON = json.loads(fixture_bytes(name))
    return document


def jane_event(**changes) -> JSON:
    """The event Calendly made for Jane Citizen's follow-up with Dr Dia, with `changes` applied."""
    event = fixture_json("graph-event-calendly-paid.json")
    event.update(changes)
    return event


def notification(change_type: str, *, event_id: str = JANE_EVENT_ID, etag: str = 'W/"v1"', **changes) -> JSON:
    """A change notification through Dr Dia's subscription."""
    item: JSON = fixture_json("graph-notification-created.json")["value"][0]
    item["changeType"] = change_type
    item["resourceData"]["id"] = event_id
    item["resourceData"]["@odata.etag"] = etag
    item.update(changes)
    return item


class FakeGraph:
    """Answers like GraphClient from `events` and `delta_pages`, and records every call."""

    def __init__(self) -> None:
        self.events: dict[str, JSON] = {}
        self.event_gets: list[str] = []
        self.delta_pages: list[DeltaPage | Exception] = []
        self.delta_calls: list[JSON] = []
        self.errors: dict[str, Exception] = {}
        self.reauthorized: list[str] = []
        self.created: list[JSON] = []
        self.deleted: list[str] = []
        self.upkeep_error: Exception | None = None
        # What `GET /subscriptions` answers: the ids Graph holds, or an error to raise.
        self.held: list[str] | Exception = []

    def event_get(self, *, mailbox: str, event_id: str, calendar_id: str = "") -> JSON:
        self.event_gets.append(event_id)
        if event_id in self.errors:
            raise self.errors[event_id]
        if event_id not in self.events:
            raise GraphNotFoundError(
                "GET /users/{mailbox}/events/{id}: 404 ErrorItemNotFound", status=404, code="ErrorItemNotFound"
            )
        return copy.deepcopy(self.events[event_id])

    def calendar_delta(
        self, *, mailbox: str, start: datetime, end: datetime, delta_link: str = "", calendar_id: str = ""
    ) -> DeltaPage:
        self.delta_calls.append({"mailbox": mailbox, "start": start, "end": end, "delta_link": delta_link})
        answer = self.delta_pages.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def subscription_reauthorize(self, *, subscription_id: str) -> None:
        if self.upkeep_error is not None:
            raise self.upkeep_error
        self.reauthorized.append(subscription_id)

    def subscription_renew(self, *, subscription_id: str, expires_at: datetime) -> JSON:
        if self.upkeep_error is not None:
            raise self.upkeep_error
        return {"id": subscription_id, "expirationDateTime": expires_at.isoformat()}

    def subscription_create(self, **request) -> JSON:
        self.created.append(request)
        return {"id": f"new-subscription-{len(self.created)}", "expirationDateTime": "2026-12-08T23:00:00Z"}

    def subscription_delete(self, *, subscription_id: str) -> None:
        self.deleted.append(subscription_id)

    def subscriptions_list(self) -> list[JSON]:
        if isinstance(self.held, Exception):
            raise self.held
        return [{"id": graph_id} for graph_id in self.held]


@pytest.fixture
def fake_graph(monkeypatch):
    """The Graph client every handler gets."""
    graph = FakeGraph()
    monkeypatch.setattr(clients, "graph_client", lambda: graph)
    return graph


@pytest.fixture
def sync_requests(monkeypatch):
    """The booking ids handed to the MediRecords sync, in order."""
    booking_ids: list[int] = []
    monkeypatch.setattr(tasks.booking_sync_task, "delay", booking_ids.append)
    return booking_ids


@pytest.fixture
def dr_dia(db):
    """A doctor whose bookings are paid: the factory's kind and booking type."""
    return PractitionerFactory(slug="dr-dia", display_name="Dr Dia", o365_mailbox=DR_DIA_MAILBOX)


@pytest.fixture
def nurse(db):
    return PractitionerFactory(
        slug="nurse", display_name="Nurse", kind=PractitionerKind.NURSE_PRACTITIONER, o365_mailbox=NURSE_MAILBOX
    )


@pytest.fixture
def consultant(db):
    return PractitionerFactory(
        slug="consultant",
        display_name="Consultant",
        kind=PractitionerKind.CONSULTANT,
        booking_type=BookingType.FREE_INITIAL,
        fee=None,
        o365_mailbox=CONSULTANT_MAILBOX,
    )


def subscription_create(
    practitioner, *, graph_id: str, receiver: str = SubscriptionReceiver.PRACTITIONER
) -> GraphSubscription:
    """The practitioner's subscription, its client state the one the recorded payloads carry."""
    return GraphSubscription.objects.create(
        practitioner=practitioner,
        graph_id=graph_id,
        resource=f"users/{practitioner.o365_mailbox}/events",
        client_state=f"secretClientValue-{practitioner.slug}",
        receiver=receiver,
        expires_at=datetime(2026, 12, 1, 23, 0, tzinfo=UTC),
    )


@pytest.fixture
def dr_dia_subscription(dr_dia):
    return subscription_create(dr_dia, graph_id=DR_DIA_SUBSCRIPTION)


@pytest.fixture
def nurse_subscription(nurse):
    return subscription_create(nurse, graph_id=NURSE_SUBSCRIPTION)


@pytest.fixture
def consultant_subscription(consultant):
    return subscription_create(consultant, graph_id=CONSULTANT_SUBSCRIPTION, receiver=SubscriptionReceiver.CONSULTANT)


# --- The MediRecords sandbox, for the sync to MediRecords ---------------------------------

SANDBOX_TOKEN = "sync-test-token"


@pytest.fixture(scope="session")
def sandbox_server():
    from medirecords.sandbox import SandboxServer

    with SandboxServer(token=SANDBOX_TOKEN) as server:
        yield server


@pytest.fixture
def sandbox(sandbox_server, settings):
    """A fresh sandbox that the configured MediRecords client (and so the task) talks to."""
    from medirecords.sandbox import PRACTICE_ID

    sandbox_server.reset()
    settings.MEDIRECORDS_API_URL = sandbox_server.api_url
    settings.MEDIRECORDS_FHIR_URL = sandbox_server.fhir_url
    settings.MEDIRECORDS_API_TOKEN = SANDBOX_TOKEN
    settings.MEDIRECORDS_PRACTICE_ID = PRACTICE_ID
    clients.medirecords_client.cache_clear()
    yield sandbox_server
    clients.medirecords_client.cache_clear()


@pytest.fixture
def mr_client(sandbox, monkeypatch):
    """A client that backs off without sleeping; the sync task is given it too."""
    from medirecords import MediRecordsClient
    from medirecords.sandbox import PRACTICE_ID

    client = MediRecordsClient(
        sandbox.api_url,
        SANDBOX_TOKEN,
        PRACTICE_ID,
        fhir_url=sandbox.fhir_url,
        time_zone="Australia/Sydney",
        timeout=(2.0, 5.0),
        backoff_seconds=0.01,
        sleep=lambda seconds: None,
    )
    monkeypatch.setattr(tasks, "medirecords_client", lambda: client)
    return client


@pytest.fixture
def sandbox_practitioner(db):
    """Makes practitioners whose MediRecords ids are the sandbox's (slug: dr-dia, nurse, ...)."""
    from medirecords.sandbox import SANDBOX_PRACTITIONERS

    def make(slug: str = "dr-dia", **fields):
        ids = SANDBOX_PRACTITIONERS[slug]
        values = {
            "slug": slug,
            "display_name": slug.replace("-", " ").title(),
            "medirecords_provider_id": ids["provider_id"],
            "medirecords_appointment_type_id": ids["appointment_type_id"],
            **fields,
        }
        return PractitionerFactory(**values)

    return make


@pytest.fixture
def process(fake_graph, django_capture_on_commit_callbacks):
    """Apply one notification through Dr Dia's subscription, as the worker would, and run what
    its commit enqueues."""
    from bookings.office365.processing import graph_notification_process

    def process(item):
        with django_capture_on_commit_callbacks(execute=True):
            return graph_notification_process(notification=item, client=fake_graph)

    return process
