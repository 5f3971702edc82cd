"""Bookings made while nothing was watching the calendar still arrive, exactly once, end to end.

The fake Graph and its identity provider, the MediRecords sandbox and our server (live_server)
run over real HTTP; a real worker process on PostgreSQL and Redis runs the same upkeep task beat
runs at start and every hour. An event written before its calendar was subscribed, and one
written after the fake Graph came back empty (as when `make run` is restarted), each become one
booking and one MediRecords appointment.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from bookings.models import Booking, SyncState
from config.celery import app as celery_app
from medirecords.sandbox import SANDBOX_PRACTITIONERS, SandboxServer
from practitioners.fake_graph import FAKE_MAILBOXES, calendly_event
from practitioners.models import GraphSubscription, SubscriptionGap
from practitioners.services import external_id_variable, practice_load
from tests.e2e.conftest import requires_distributed_setup, wait_for

pytestmark = [requires_distributed_setup, pytest.mark.django_db(transaction=True)]

TOKEN = "e2e-sandbox-token"
CHECK_TASK = "bookings.tasks.graph_subscriptions_check"
# Subscribing five calendars is five handshakes with our server, then five calendar reads.
UPKEEP_SECONDS = 60.0


@pytest.fixture
def sandbox():
    with SandboxServer(token=TOKEN) as server:
        yield server


@pytest.fixture
def worker(graph_settings, sandbox, settings, start_worker):
    """A worker talking to the fake Graph and the sandbox, with the practice loaded for both."""
    medirecords = {
        "MEDIRECORDS_API_URL": sandbox.api_url,
        "MEDIRECORDS_FHIR_URL": sandbox.fhir_url,
        "MEDIRECORDS_API_TOKEN": TOKEN,
    }
    for name, value in medirecords.items():
        setattr(settings, name, value)
    environ = {
        external_id_variable(slug=slug, field_name="o365_mailbox"): mailbox["id"]
        for slug, mailbox in FAKE_MAILBOXES.items()
    }
    for slug, ids in SANDBOX_PRACTITIONERS.items():
        environ[external_id_variable(slug=slug, field_name="medirecords_provider_id")] = ids["provider_id"]
        environ[external_id_variable(slug=slug, field_name="medirecords_appointment_type_id")] = ids[
            "appointment_type_id"
        ]
    practice_load(environ=environ)
    start_worker(extra_environment={name: str(value) for name, value in (graph_settings | medirecords).items()})


def nurse_booking(fake_graph, *, first_name: str, start: datetime) -> str:
    """A Calendly booking written into the Nurse's calendar; its Graph event id."""
    event = fake_graph.create_event(
        FAKE_MAILBOXES["nurse"]["id"],
        calendly_event(
            practitioner_name="Nurse",
            first_name=first_name,
            last_name="Citizen",
            email=f"{first_name.lower()}.citizen@example.com.au",
            mobile="+61 412 345 678",
            date_of_birth=date(1980, 2, 29),
            reason="Review of blood results",
            start=start,
            minutes=30,
        ),
    )
    return str(event["id"])


def upcoming(days: int) -> datetime:
    """A slot `days` ahead of the real clock the worker reads, on the hour."""
    return (datetime.now(UTC) + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)


def all_calendars_imported() -> bool:
    subscriptions = GraphSubscription.objects.all()
    return len(subscriptions) == len(FAKE_MAILBOXES) and all(
        s.calendar_imported_at is not None and s.resync_requested_at is None for s in subscriptions
    )


def synced_booking(event_id: str) -> Booking | None:
    return Booking.objects.filter(o365_event_id=event_id, sync_state=SyncState.SYNCED).first()


def assert_one_booking_and_one_appointment(sandbox, event_id: str, start: datetime) -> None:
    """After one more resync of every calendar, still one booking and one appointment."""
    GraphSubscription.objects.update(resync_requested_at=timezone.now())
    celery_app.send_task("bookings.tasks.calendar_resyncs_due")
    wait_for(lambda: not GraphSubscription.objects.filter(resync_requested_at__isnull=False).exists())

    [booking] = Booking.objects.filter(o365_event_id=event_id)
    assert booking.starts_at == start
    assert booking.practitioner.slug == "nurse"
    mine = [a for a in sandbox.store.appointments() if a["id"] == booking.medirecords_appointment_id]
    assert len(mine) == 1
    assert mine[0]["providerId"] == SANDBOX_PRACTITIONERS["nurse"]["provider_id"]
    assert len(sandbox.store.appointments()) == Booking.objects.count()


def test_an_event_booked_before_the_calendar_was_subscribed_arrives_once(fake_graph, sandbox, worker):
    start = upcoming(days=200)  # far beyond the 90 days the resync used to read
    event_id = nurse_booking(fake_graph, first_name="Early", start=start)
    assert not GraphSubscription.objects.exists()

    # What beat sends when it starts: subscribe the calendars, and import what is in them.
    celery_app.send_task(CHECK_TASK)

    booking = wait_for(lambda: synced_booking(event_id), seconds=UPKEEP_SECONDS)
    assert booking.medirecords_appointment_id
    wait_for(all_calendars_imported, seconds=UPKEEP_SECONDS)
    assert len(fake_graph.subscriptions()) == len(FAKE_MAILBOXES)
    assert_one_booking_and_one_appointment(sandbox, event_id, start)


def test_an_event_booked_after_graph_came_back_empty_arrives_once(fake_graph, sandbox, worker):
    celery_app.send_task(CHECK_TASK)
    wait_for(all_calendars_imported, seconds=UPKEEP_SECONDS)
    held_before = {s.practitioner_id: s.graph_id for s in GraphSubscription.objects.all()}

    # The fake restarts empty: no subscriptions, no delta state, while our rows look healthy.
    fake_graph.reset()
    start = upcoming(days=3)
    event_id = nurse_booking(fake_graph, first_name="Late", start=start)
    assert not Booking.objects.filter(o365_event_id=event_id).exists()

    # The hourly (and start-up) check finds every subscription gone and recovers the calendars.
    celery_app.send_task(CHECK_TASK)

    wait_for(lambda: synced_booking(event_id), seconds=UPKEEP_SECONDS)
    wait_for(
        lambda: SubscriptionGap.objects.filter(recovered_at__isnull=False).count() == len(FAKE_MAILBOXES),
        seconds=UPKEEP_SECONDS,
    )
    held_after = {s.practitioner_id: s.graph_id for s in GraphSubscription.objects.all()}
    assert held_after.keys() == held_before.keys()
    assert not set(held_after.values()) & set(held_before.values())
    assert {s["id"] for s in fake_graph.subscriptions()} == set(held_after.values())
    gaps = SubscriptionGap.objects.all()
    assert {gap.lost_graph_id for gap in gaps} == set(held_before.values())
    assert all(gap.deaf_since <= gap.detected_at <= gap.recovered_at for gap in gaps)
    assert_one_booking_and_one_appointment(sandbox, event_id, start)
