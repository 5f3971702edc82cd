"""The upkeep beat runs at start and every hour: check Graph's subscriptions, then import calendars."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings

from bookings.models import Booking
from bookings.office365 import tasks
from config import celery as celery_config
from config.celery import app as celery_app
from practitioners.graph.client import DeltaPage
from practitioners.graph.subscriptions import UPKEEP_LEASE_NAME, UPKEEP_LEASE_SECONDS
from practitioners.models import GraphSubscription, SubscriptionUpkeepLease
from tests.bookings.conftest import jane_event

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
DELTA_LINK = "https://graph.microsoft.com/v1.0/users/x/calendarView/delta?$deltatoken=round-2"


@pytest.fixture
def graph_configured(settings, fake_graph, monkeypatch):
    settings.AZURE_TENANT_ID = "tenant"
    settings.AZURE_CLIENT_ID = "client"
    settings.AZURE_CLIENT_SECRET = "secret"
    monkeypatch.setattr(tasks, "graph_client", lambda: fake_graph)
    return fake_graph


def test_a_calendar_subscribed_by_the_check_has_its_events_imported_at_once(
    nurse, graph_configured, sync_requests, django_capture_on_commit_callbacks
):
    booked_earlier = jane_event(id="AAMkEARLY=", iCalUId="ical-early")
    graph_configured.events[booked_earlier["id"]] = booked_earlier
    graph_configured.delta_pages = [DeltaPage(events=[booked_earlier], removed_ids=[], delta_link=DELTA_LINK)]

    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        counts = tasks.graph_subscriptions_check_task.delay().get()

    assert counts == {"created": 1, "renewed": 0, "deleted": 0, "failed": 0, "resynced": 1}
    assert Booking.objects.filter(practitioner=nurse, o365_event_id="AAMkEARLY=").count() == 1
    assert GraphSubscription.objects.get(practitioner=nurse).calendar_imported_at == NOW


def test_a_lease_left_by_a_killed_pass_is_waited_out_with_retries_not_an_hour(
    nurse, graph_configured, sync_requests, django_capture_on_commit_callbacks, monkeypatch
):
    # The last run was killed mid-pass: its lease still stands for a few minutes.
    SubscriptionUpkeepLease.objects.create(
        name=UPKEEP_LEASE_NAME, held_until=NOW + timedelta(seconds=UPKEEP_LEASE_SECONDS)
    )
    graph_configured.delta_pages = [DeltaPage(events=[], removed_ids=[], delta_link=DELTA_LINK)]
    countdowns: list[int] = []
    retry = tasks.graph_subscriptions_check_task.retry

    def retry_once_the_countdown_has_passed(*args, **kwargs):
        # Eager mode runs the retry at once: move the clock by its countdown first, as a worker would wait.
        countdowns.append(kwargs["countdown"])
        traveller.shift(timedelta(seconds=kwargs["countdown"]))
        return retry(*args, **kwargs)

    monkeypatch.setattr(tasks.graph_subscriptions_check_task, "retry", retry_once_the_countdown_has_passed)
    celery_app.conf.task_eager_propagates = False
    try:
        with time_machine.travel(NOW, tick=False) as traveller, django_capture_on_commit_callbacks(execute=True):
            counts = tasks.graph_subscriptions_check_task.delay().get()
    finally:
        celery_app.conf.task_eager_propagates = True

    # 1, 2 and 4 minutes: the five-minute lease has lapsed by the third retry.
    assert countdowns == [60, 120, 240]
    assert counts["created"] == 1
    assert GraphSubscription.objects.filter(practitioner=nurse).count() == 1


def test_without_graph_configured_it_does_nothing(nurse, settings):
    settings.AZURE_TENANT_ID = ""

    assert tasks.graph_subscriptions_check_task.delay().get() == {}
    assert not GraphSubscription.objects.exists()


def test_beat_runs_the_check_hourly_and_at_start(monkeypatch):
    entry = settings.CELERY_BEAT_SCHEDULE["graph-subscriptions-check"]
    assert entry == {"task": "bookings.tasks.graph_subscriptions_check", "schedule": 3600.0}
    assert entry["task"] in celery_config.app.tasks
    sent = []
    monkeypatch.setattr(celery_config.app, "send_task", lambda name, **options: sent.append((name, options)))

    celery_config._subscription_upkeep_at_start(sender=None)

    assert sent == [
        ("bookings.tasks.graph_subscriptions_check", {"countdown": celery_config.SUBSCRIPTION_UPKEEP_DELAY_SECONDS})
    ]
