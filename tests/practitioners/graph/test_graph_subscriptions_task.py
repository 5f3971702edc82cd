"""The beat task: renew what is due, retry with growing pauses while Graph is having trouble."""

from datetime import UTC, datetime, timedelta

import pytest
import responses
import time_machine

from config.celery import app as celery_app
from practitioners import tasks
from practitioners.models import GraphSubscription
from tests.practitioners.conftest import GRAPH
from tests.practitioners.factories import GraphSubscriptionFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _retries_run_in_place():
    """Eager retries run at once, each in turn, instead of surfacing as the `Retry` exception."""
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = True


@pytest.fixture
def countdowns(monkeypatch):
    """The countdown of every retry the task asks for (eager mode runs the retry at once)."""
    asked: list[int] = []
    retry = tasks.graph_subscriptions_renew_task.retry

    def recording_retry(*args, **kwargs):
        asked.append(kwargs["countdown"])
        return retry(*args, **kwargs)

    monkeypatch.setattr(tasks.graph_subscriptions_renew_task, "retry", recording_retry)
    return asked


@time_machine.travel(NOW, tick=False)
@responses.activate
def test_the_task_renews_what_is_due(configured, countdowns):
    due = GraphSubscriptionFactory(expires_at=NOW + timedelta(hours=1))
    responses.patch(f"{GRAPH}/subscriptions/{due.graph_id}", json={"expirationDateTime": "2026-12-02T20:40:00Z"})

    result = tasks.graph_subscriptions_renew_task.apply()

    assert result.get() == {"created": 0, "renewed": 1, "deleted": 0, "failed": 0}
    assert countdowns == []


@time_machine.travel(NOW, tick=False)
@responses.activate
def test_a_transient_failure_is_retried_with_back_off_until_it_succeeds(configured, countdowns):
    due = GraphSubscriptionFactory(expires_at=NOW + timedelta(hours=1))
    url = f"{GRAPH}/subscriptions/{due.graph_id}"
    responses.patch(url, status=500)
    responses.patch(url, status=500)
    responses.patch(url, json={"expirationDateTime": "2026-12-02T20:40:00Z"})

    result = tasks.graph_subscriptions_renew_task.apply()

    assert result.get()["renewed"] == 1
    assert countdowns == [60, 120]
    due.refresh_from_db()
    assert due.is_healthy
    assert due.renewal_failures == 0


@time_machine.travel(NOW, tick=False)
@responses.activate
def test_retries_stop_after_five_and_the_failure_stays_on_the_row(configured, countdowns):
    due = GraphSubscriptionFactory(expires_at=NOW + timedelta(hours=1))
    responses.patch(f"{GRAPH}/subscriptions/{due.graph_id}", status=500)

    result = tasks.graph_subscriptions_renew_task.apply()

    assert result.get()["failed"] == 1
    assert countdowns[:5] == [60, 120, 240, 480, 960]
    due.refresh_from_db()
    assert due.renewal_failures == 6
    assert not due.is_healthy
    assert "GraphServerError" in due.last_error


@time_machine.travel(NOW, tick=False)
@responses.activate
def test_a_failure_that_will_not_pass_by_itself_is_not_retried(configured, countdowns):
    due = GraphSubscriptionFactory(expires_at=NOW + timedelta(hours=1))
    responses.patch(f"{GRAPH}/subscriptions/{due.graph_id}", status=403, json={"error": {"code": "Forbidden"}})

    assert tasks.graph_subscriptions_renew_task.apply().get()["failed"] == 1
    assert countdowns == []
    assert GraphSubscription.objects.get().renewal_failures == 1


@responses.activate
def test_without_graph_settings_the_task_does_nothing(settings, countdowns):
    settings.AZURE_TENANT_ID = ""
    GraphSubscriptionFactory(expires_at=datetime.now(tz=UTC))

    assert tasks.graph_subscriptions_renew_task.apply().get() == {}
    assert len(responses.calls) == 0


def test_beat_schedules_the_task_by_its_name(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE["graph-subscriptions-renew"]
    assert schedule["task"] == tasks.graph_subscriptions_renew_task.name
