"""`manage.py graph_subscriptions sync|list|delete`."""

from datetime import UTC, datetime
from io import StringIO

import pytest
import responses
from django.core.management import CommandError, call_command

from practitioners.graph.subscriptions import SyncReport, subscription_upkeep_lease
from practitioners.models import GraphSubscription
from tests.practitioners.conftest import GRAPH
from tests.practitioners.factories import GraphSubscriptionFactory, PractitionerFactory

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("graph_subscriptions", *args, stdout=out, stderr=err)
    return out.getvalue()


def test_list_shows_each_subscription_in_practice_time(settings):
    settings.PRACTICE_TIME_ZONE = "Australia/Sydney"
    GraphSubscriptionFactory(
        practitioner=PractitionerFactory(slug="dr-dia"),
        graph_id="7f105c7d-2dc5-4530-97cd-4e7ae6534c07",
        expires_at=datetime(2026, 12, 1, 23, 0, tzinfo=UTC),
    )
    GraphSubscriptionFactory(
        practitioner=PractitionerFactory(slug="nurse"),
        is_healthy=False,
        renewal_failures=3,
        last_error="GraphServerError: PATCH /subscriptions/{id}: 500",
    )

    output = run("list")

    lines = output.splitlines()
    assert lines[0] == (
        "dr-dia  practitioner  7f105c7d-2dc5-4530-97cd-4e7ae6534c07  expires 2026-12-02 10:00 AEDT  healthy"
    )
    assert lines[1].startswith("nurse  practitioner  ")
    assert lines[1].endswith("UNHEALTHY (3 failures)  last error: GraphServerError: PATCH /subscriptions/{id}: 500")
    for subscription in GraphSubscription.objects.all():
        assert subscription.client_state not in output


def test_list_for_one_practitioner_and_when_there_are_none():
    GraphSubscriptionFactory(practitioner=PractitionerFactory(slug="dr-dia"))
    PractitionerFactory(slug="nurse")

    assert run("list", "--practitioner", "dr-dia").startswith("dr-dia  ")
    assert run("list", "--practitioner", "nurse") == "No Graph subscriptions.\n"


@responses.activate
def test_sync_reports_what_it_did(configured):
    stray = "0c6d2b8e-1111-4a8e-8c1d-5e0f9a3b7d21"
    PractitionerFactory(slug="nurse")
    responses.get(
        f"{GRAPH}/subscriptions",
        json={"value": [{"id": stray, "notificationUrl": "https://ops.clinic.example.com.au/booking/practitioner"}]},
    )
    responses.post(
        f"{GRAPH}/subscriptions", status=201, json={"id": "new-1", "expirationDateTime": "2030-01-01T00:00:00Z"}
    )
    responses.delete(f"{GRAPH}/subscriptions/{stray}", status=204)

    assert run("sync") == (
        f"created: nurse\nrenewed: -\ndeleted: {stray}\n"
        "calendars newly subscribed have their events imported by the next resync round\n"
    )


@responses.activate
def test_sync_fails_loudly_when_something_failed(configured):
    PractitionerFactory(slug="nurse")
    responses.get(f"{GRAPH}/subscriptions", json={"value": []})
    responses.post(f"{GRAPH}/subscriptions", status=400, json={"error": {"code": "ValidationError", "message": "no"}})

    err = StringIO()
    with pytest.raises(CommandError, match="1 failed"):
        call_command("graph_subscriptions", "sync", stdout=StringIO(), stderr=err)
    assert "failed: nurse: GraphError: POST /subscriptions: 400 ValidationError: no" in err.getvalue()


@responses.activate
def test_delete_removes_one_practitioners_subscriptions(configured):
    theirs = GraphSubscriptionFactory(practitioner=PractitionerFactory(slug="dr-dia"))
    GraphSubscriptionFactory(practitioner=PractitionerFactory(slug="nurse"))
    responses.delete(f"{GRAPH}/subscriptions/{theirs.graph_id}", status=204)

    assert "deleted: dr-dia" in run("delete", "--practitioner", "dr-dia")
    assert list(GraphSubscription.objects.values_list("practitioner__slug", flat=True)) == ["nurse"]


@responses.activate
def test_delete_without_a_practitioner_removes_all_of_ours(configured):
    for subscription in (GraphSubscriptionFactory(), GraphSubscriptionFactory()):
        responses.delete(f"{GRAPH}/subscriptions/{subscription.graph_id}", status=204)

    run("delete")

    assert not GraphSubscription.objects.exists()


@pytest.mark.parametrize("action", ["sync", "delete"])
def test_graph_not_configured_is_a_clear_error(settings, action):
    settings.AZURE_TENANT_ID = ""
    settings.AZURE_CLIENT_ID = ""

    with pytest.raises(CommandError, match="Microsoft Graph is not configured: set AZURE_TENANT_ID, AZURE_CLIENT_ID"):
        run(action)


def test_an_unknown_practitioner_is_a_clear_error():
    with pytest.raises(CommandError, match="no practitioner with slug 'nobody'"):
        run("list", "--practitioner", "nobody")


def test_sync_covers_the_whole_practice(configured):
    PractitionerFactory(slug="nurse")
    with pytest.raises(CommandError, match="whole practice"):
        run("sync", "--practitioner", "nurse")


def test_sync_while_beat_holds_the_upkeep_says_so_and_does_nothing(configured, monkeypatch):
    from practitioners.management.commands import graph_subscriptions as command

    monkeypatch.setattr(command, "SYNC_WAIT_SECONDS", 0)
    PractitionerFactory(slug="nurse")

    with subscription_upkeep_lease(report=SyncReport()), pytest.raises(CommandError, match="still running"):
        run("sync")
    assert not GraphSubscription.objects.exists()
