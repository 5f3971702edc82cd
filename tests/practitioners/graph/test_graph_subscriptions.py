"""Subscription upkeep against Graph answered by `responses`, with the clock frozen where it matters."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import responses
import time_machine
from django.db import IntegrityError, transaction
from responses import matchers

from practitioners.graph.client import GraphNotFoundError, GraphServerError
from practitioners.graph.subscriptions import (
    RenewOutcome,
    graph_subscription_create,
    graph_subscription_delete,
    graph_subscription_reauthorize,
    graph_subscription_renew,
    graph_subscription_replace,
    graph_subscription_target,
    graph_subscriptions_delete,
    graph_subscriptions_renew_due,
    graph_subscriptions_sync,
)
from practitioners.models import BookingType, GraphSubscription, SubscriptionReceiver
from tests.practitioners.conftest import GRAPH, PUBLIC_BASE_URL, fixture_json
from tests.practitioners.factories import GraphSubscriptionFactory, PractitionerFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
LIFETIME = timedelta(minutes=10_000)
SUBSCRIPTIONS = f"{GRAPH}/subscriptions"


@pytest.fixture(autouse=True)
def _graph_settings(graph_settings):
    graph_settings.GRAPH_SUBSCRIPTION_LIFETIME_MINUTES = 10_000
    graph_settings.GRAPH_SUBSCRIPTION_RENEWAL_MARGIN_MINUTES = 24 * 60
    graph_settings.GRAPH_SUBSCRIPTION_UNHEALTHY_AFTER_FAILURES = 3


@pytest.fixture
def graph_http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


class GraphSide:
    """What `POST /subscriptions` was sent; each creation answers with a new id."""

    def __init__(self, mock):
        self.created: list[dict[str, object]] = []
        # Set to answer with another expiry than the one asked for, as Graph may.
        self.expires = ""
        mock.add_callback(responses.POST, SUBSCRIPTIONS, callback=self._create)

    def _create(self, request):
        body = json.loads(request.body)
        self.created.append(body)
        answer = {
            **fixture_json("graph-subscription-created.json"),
            **body,
            "id": f"new-subscription-{len(self.created)}",
            "clientState": None,
        }
        if self.expires:
            answer["expirationDateTime"] = self.expires
        return 201, {}, json.dumps(answer)


def renew_answer(expires_at):
    return {**fixture_json("graph-subscription-created.json"), "expirationDateTime": expires_at}


def graph_error(code):
    return {"error": {"code": code, "message": f"{code} happened."}}


def requests_to(mock, method, url_part=""):
    return [call for call in mock.calls if call.request.method == method and url_part in call.request.url]


# --- Where a subscription points ------------------------------------------------------


def test_the_consultant_is_watched_for_free_initial_consultations():
    consultant = PractitionerFactory.build(booking_type=BookingType.FREE_INITIAL, o365_mailbox="consultant@c.au")

    target = graph_subscription_target(practitioner=consultant)

    assert target.receiver == SubscriptionReceiver.CONSULTANT
    assert target.notification_url == f"{PUBLIC_BASE_URL}/booking/consultant"
    assert target.lifecycle_notification_url == f"{PUBLIC_BASE_URL}/booking/lifecycle"
    assert target.resource == "users/consultant@c.au/events"


def test_paid_practitioners_are_watched_in_their_own_calendar_when_one_is_named():
    doctor = PractitionerFactory.build(booking_type=BookingType.PAID, o365_mailbox="dia@c.au", o365_calendar_id="cal-9")

    target = graph_subscription_target(practitioner=doctor)

    assert target.receiver == SubscriptionReceiver.PRACTITIONER
    assert target.notification_url == f"{PUBLIC_BASE_URL}/booking/practitioner"
    assert target.resource == "users/dia@c.au/calendars/cal-9/events"


def test_without_a_mailbox_there_is_nothing_to_watch():
    assert graph_subscription_target(practitioner=PractitionerFactory.build(o365_mailbox="")) is None


# --- Create ---------------------------------------------------------------------------


def test_create_keeps_graphs_id_and_expiry_and_a_fresh_secret(graph, graph_http):
    graph_side = GraphSide(graph_http)
    graph_side.expires = "2026-12-01T23:00:00.0000000Z"
    consultant = PractitionerFactory(booking_type=BookingType.FREE_INITIAL, o365_mailbox="consultant@c.au")

    first = graph_subscription_create(practitioner=consultant, client=graph, now=NOW)
    # One calendar has one subscription: the second secret is another practitioner's.
    second = graph_subscription_create(
        practitioner=PractitionerFactory(o365_mailbox="nurse@c.au"), client=graph, now=NOW
    )

    sent = graph_side.created[0]
    assert sent == {
        "changeType": "created,updated,deleted",
        "notificationUrl": f"{PUBLIC_BASE_URL}/booking/consultant",
        "lifecycleNotificationUrl": f"{PUBLIC_BASE_URL}/booking/lifecycle",
        "resource": "users/consultant@c.au/events",
        "expirationDateTime": "2026-12-02T20:40:00Z",
        "clientState": first.client_state,
    }
    first.refresh_from_db()
    assert first.graph_id == "new-subscription-1"
    assert first.receiver == SubscriptionReceiver.CONSULTANT
    # Graph's answer is what counts: 23:00 on the 1st, not the 20:40 on the 2nd asked for.
    assert first.expires_at == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    assert 64 <= len(first.client_state) <= 128
    assert re.fullmatch(r"[A-Za-z0-9_-]+", first.client_state)
    assert first.client_state != second.client_state
    assert first.is_healthy
    assert first.renewal_failures == 0


def test_create_refuses_a_practitioner_without_a_mailbox(graph):
    with pytest.raises(ValueError, match="no Office 365 mailbox"):
        graph_subscription_create(practitioner=PractitionerFactory(o365_mailbox=""), client=graph, now=NOW)
    assert not GraphSubscription.objects.exists()


# --- Renew ----------------------------------------------------------------------------


def test_renew_moves_the_expiry_and_clears_earlier_failures(graph, graph_http):
    subscription = GraphSubscriptionFactory(
        expires_at=NOW + timedelta(hours=3), renewal_failures=2, last_error="GraphServerError: x", is_healthy=False
    )
    graph_http.patch(
        f"{SUBSCRIPTIONS}/{subscription.graph_id}",
        json=renew_answer("2026-12-02T20:40:00.0000000Z"),
        match=[matchers.json_params_matcher({"expirationDateTime": "2026-12-02T20:40:00Z"})],
    )

    assert graph_subscription_renew(subscription=subscription, client=graph, now=NOW) is RenewOutcome.RENEWED

    subscription.refresh_from_db()
    assert subscription.expires_at == NOW + LIFETIME
    assert subscription.last_renewed_at == NOW
    assert (subscription.renewal_failures, subscription.last_error, subscription.is_healthy) == (0, "", True)


def test_failed_renewals_are_counted_and_turn_unhealthy_at_the_threshold(graph, graph_http):
    subscription = GraphSubscriptionFactory(expires_at=NOW + timedelta(hours=12))
    graph_http.patch(f"{SUBSCRIPTIONS}/{subscription.graph_id}", status=500, json=graph_error("InternalServerError"))

    outcomes = []
    for _ in range(3):
        outcomes.append(graph_subscription_renew(subscription=subscription, client=graph, now=NOW))
        subscription.refresh_from_db()
        if subscription.renewal_failures < 3:
            assert subscription.is_healthy

    assert outcomes == [RenewOutcome.FAILED_TRANSIENT] * 3
    assert subscription.renewal_failures == 3
    assert not subscription.is_healthy
    assert subscription.last_error.startswith("GraphServerError: PATCH /subscriptions/{id}: 500 InternalServerError")
    assert subscription.client_state not in subscription.last_error


def test_a_failure_after_expiry_is_unhealthy_at_once(graph, graph_http):
    subscription = GraphSubscriptionFactory(expires_at=NOW - timedelta(minutes=5))
    graph_http.patch(f"{SUBSCRIPTIONS}/{subscription.graph_id}", status=403, json=graph_error("Forbidden"))

    assert graph_subscription_renew(subscription=subscription, client=graph, now=NOW) is RenewOutcome.FAILED

    subscription.refresh_from_db()
    assert subscription.renewal_failures == 1
    assert not subscription.is_healthy
    assert "Forbidden" in subscription.last_error


def test_a_subscription_graph_deleted_is_created_again(graph, graph_http):
    graph_side = GraphSide(graph_http)
    subscription = GraphSubscriptionFactory(delta_link=f"{GRAPH}/users/x/calendarView/delta?$deltatoken=kept")
    old_url = f"{SUBSCRIPTIONS}/{subscription.graph_id}"
    graph_http.patch(old_url, status=404, json=graph_error("ResourceNotFound"))
    graph_http.delete(old_url, status=404, json=graph_error("ResourceNotFound"))

    assert graph_subscription_renew(subscription=subscription, client=graph, now=NOW) is RenewOutcome.RECREATED

    replacement = GraphSubscription.objects.get()
    assert replacement.graph_id == "new-subscription-1"
    assert replacement.practitioner == subscription.practitioner
    assert replacement.delta_link == subscription.delta_link
    assert replacement.client_state == graph_side.created[0]["clientState"] != subscription.client_state
    # Changes made while nothing watched the calendar were never notified: it must be read again.
    assert replacement.resync_requested_at == NOW


def test_a_subscription_graph_deleted_stays_failed_when_the_mailbox_was_cleared(graph, graph_http):
    subscription = GraphSubscriptionFactory()
    subscription.practitioner.o365_mailbox = ""
    subscription.practitioner.save()
    graph_http.patch(f"{SUBSCRIPTIONS}/{subscription.graph_id}", status=404, json=graph_error("ResourceNotFound"))

    assert graph_subscription_renew(subscription=subscription, client=graph, now=NOW) is RenewOutcome.FAILED

    subscription.refresh_from_db()
    assert not subscription.is_healthy
    assert "no Office 365 mailbox" in subscription.last_error


# --- Renew what is due, with the clock frozen -------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_only_subscriptions_inside_the_margin_are_renewed(graph, graph_http):
    inside = GraphSubscriptionFactory(expires_at=NOW + timedelta(hours=23, minutes=59))
    at_the_edge = GraphSubscriptionFactory(expires_at=NOW + timedelta(hours=24))
    outside = GraphSubscriptionFactory(expires_at=NOW + timedelta(hours=24, minutes=1))
    for subscription in (inside, at_the_edge, outside):
        graph_http.patch(f"{SUBSCRIPTIONS}/{subscription.graph_id}", json=renew_answer("2026-12-02T20:40:00Z"))

    report = graph_subscriptions_renew_due(client=graph)

    patched = {call.request.url.rsplit("/", 1)[1] for call in requests_to(graph_http, "PATCH")}
    assert patched == {inside.graph_id, at_the_edge.graph_id}
    assert sorted(report.renewed) == sorted([inside.practitioner.slug, at_the_edge.practitioner.slug])
    outside.refresh_from_db()
    assert outside.expires_at == NOW + timedelta(hours=24, minutes=1)
    assert outside.last_renewed_at is None
    inside.refresh_from_db()
    assert inside.expires_at == NOW + LIFETIME
    assert inside.last_renewed_at == NOW


@time_machine.travel(NOW, tick=False)
def test_renew_due_retries_a_failed_one_and_subscribes_practitioners_who_have_none(graph, graph_http):
    GraphSide(graph_http)
    failed_before = GraphSubscriptionFactory(expires_at=NOW + timedelta(days=5), renewal_failures=1)
    graph_http.patch(f"{SUBSCRIPTIONS}/{failed_before.graph_id}", json=renew_answer("2026-12-02T20:40:00Z"))
    newcomer = PractitionerFactory()
    PractitionerFactory(o365_mailbox="")
    PractitionerFactory(is_active=False)

    report = graph_subscriptions_renew_due(client=graph)

    assert report.renewed == [failed_before.practitioner.slug]
    assert report.created == [newcomer.slug]
    assert not report.failed
    assert len(requests_to(graph_http, "GET")) == 0  # Graph is not listed on the regular run


@time_machine.travel(NOW, tick=False)
def test_renew_due_reports_transient_failures_for_a_retry(graph, graph_http):
    due = GraphSubscriptionFactory(expires_at=NOW + timedelta(hours=2))
    graph_http.patch(f"{SUBSCRIPTIONS}/{due.graph_id}", status=500)

    report = graph_subscriptions_renew_due(client=graph)

    assert report.retry_later
    assert report.failed == [(due.practitioner.slug, GraphSubscription.objects.get().last_error)]


# --- Sync -----------------------------------------------------------------------------


def test_sync_creates_missing_renews_kept_and_deletes_orphans_on_both_sides(graph, graph_http):
    graph_side = GraphSide(graph_http)
    listed = fixture_json("graph-subscriptions-list.json")
    kept = GraphSubscriptionFactory(
        graph_id=listed["value"][0]["id"],
        practitioner=PractitionerFactory(slug="dr-dia", o365_mailbox="dr.dia@clinic.example.com.au"),
    )
    inactive = GraphSubscriptionFactory(practitioner=PractitionerFactory(slug="retired", is_active=False))
    stray_id = listed["value"][1]["id"]  # ours (our URL) but no row: left behind by a crash
    foreign_id = listed["value"][2]["id"]  # another application's: not ours to touch
    missing = PractitionerFactory(slug="nurse")
    graph_http.get(SUBSCRIPTIONS, json=listed)
    graph_http.patch(f"{SUBSCRIPTIONS}/{kept.graph_id}", json=renew_answer("2026-12-02T20:40:00Z"))
    graph_http.delete(f"{SUBSCRIPTIONS}/{inactive.graph_id}", status=204)
    graph_http.delete(f"{SUBSCRIPTIONS}/{stray_id}", status=204)

    report = graph_subscriptions_sync(client=graph, now=NOW)

    assert report.created == ["nurse"]
    assert report.renewed == ["dr-dia"]
    assert sorted(report.deleted) == sorted(["retired", stray_id])
    assert report.failed == []
    deleted = {call.request.url.rsplit("/", 1)[1] for call in requests_to(graph_http, "DELETE")}
    assert deleted == {inactive.graph_id, stray_id}
    assert foreign_id not in deleted
    assert set(GraphSubscription.objects.values_list("practitioner__slug", flat=True)) == {"dr-dia", "nurse"}
    assert graph_side.created[0]["resource"] == f"users/{missing.o365_mailbox}/events"


def test_sync_replaces_a_subscription_whose_mailbox_changed(graph, graph_http):
    GraphSide(graph_http)
    old = GraphSubscriptionFactory(practitioner=PractitionerFactory(o365_mailbox="old@c.au"))
    old.practitioner.o365_mailbox = "new@c.au"
    old.practitioner.save()
    graph_http.get(SUBSCRIPTIONS, json={"value": []})
    graph_http.delete(f"{SUBSCRIPTIONS}/{old.graph_id}", status=204)

    report = graph_subscriptions_sync(client=graph, now=NOW)

    assert report.deleted == report.created == [old.practitioner.slug]
    assert GraphSubscription.objects.get().resource == "users/new@c.au/events"


def test_sync_replaces_a_subscription_pointing_at_an_old_public_url(graph, graph_http):
    GraphSide(graph_http)
    subscription = GraphSubscriptionFactory()
    graph_http.get(
        SUBSCRIPTIONS,
        json={
            "value": [{"id": subscription.graph_id, "notificationUrl": "https://old-host.example/booking/practitioner"}]
        },
    )
    graph_http.delete(f"{SUBSCRIPTIONS}/{subscription.graph_id}", status=204)

    report = graph_subscriptions_sync(client=graph, now=NOW)

    assert report.deleted == report.created == [subscription.practitioner.slug]
    assert GraphSubscription.objects.get().graph_id == "new-subscription-1"


def test_the_database_refuses_a_second_subscription_for_one_calendar():
    practitioner = PractitionerFactory()
    GraphSubscriptionFactory(practitioner=practitioner)

    with pytest.raises(IntegrityError), transaction.atomic():
        GraphSubscriptionFactory(practitioner=practitioner)
    assert GraphSubscription.objects.filter(practitioner=practitioner).count() == 1


def test_a_failure_for_one_practitioner_does_not_stop_the_others(graph, graph_http):
    failing = PractitionerFactory(slug="failing", o365_mailbox="failing@c.au")
    fine = PractitionerFactory(slug="fine", o365_mailbox="fine@c.au")
    graph_http.get(SUBSCRIPTIONS, json={"value": []})

    def create(request):
        body = json.loads(request.body)
        if body["resource"].startswith(f"users/{failing.o365_mailbox}"):
            return 400, {}, json.dumps(graph_error("ValidationError"))
        return 201, {}, json.dumps({**body, "id": "created-for-fine"})

    graph_http.add_callback(responses.POST, SUBSCRIPTIONS, callback=create)

    report = graph_subscriptions_sync(client=graph, now=NOW)

    assert report.created == ["fine"]
    assert [slug for slug, _message in report.failed] == ["failing"]
    assert "ValidationError" in report.failed[0][1]
    assert not report.retry_later
    assert GraphSubscription.objects.get().practitioner == fine


def test_sync_carries_on_when_graph_cannot_list_subscriptions(graph, graph_http):
    GraphSide(graph_http)
    practitioner = PractitionerFactory()
    graph_http.get(SUBSCRIPTIONS, status=500)

    report = graph_subscriptions_sync(client=graph, now=NOW)

    assert report.created == [practitioner.slug]
    assert [label for label, _message in report.failed] == ["subscriptions list"]
    assert report.retry_later


# --- Reauthorize, replace, delete -------------------------------------------------------


def test_reauthorize_posts_the_action_and_restores_health(graph, graph_http):
    subscription = GraphSubscriptionFactory(renewal_failures=1, last_error="x")
    graph_http.post(f"{SUBSCRIPTIONS}/{subscription.graph_id}/reauthorize", status=204)

    assert graph_subscription_reauthorize(subscription=subscription, client=graph, now=NOW) is RenewOutcome.REAUTHORIZED

    subscription.refresh_from_db()
    assert (subscription.renewal_failures, subscription.last_error, subscription.last_renewed_at) == (0, "", NOW)


def test_reauthorize_falls_back_to_renewing(graph, graph_http):
    subscription = GraphSubscriptionFactory()
    graph_http.post(f"{SUBSCRIPTIONS}/{subscription.graph_id}/reauthorize", status=400, json=graph_error("BadRequest"))
    graph_http.patch(f"{SUBSCRIPTIONS}/{subscription.graph_id}", json=renew_answer("2026-12-02T20:40:00Z"))

    assert graph_subscription_reauthorize(subscription=subscription, client=graph, now=NOW) is RenewOutcome.RENEWED
    subscription.refresh_from_db()
    assert subscription.expires_at == NOW + LIFETIME


def test_reauthorizing_a_subscription_graph_no_longer_has_creates_a_new_one(graph, graph_http):
    GraphSide(graph_http)
    subscription = GraphSubscriptionFactory()
    graph_http.post(f"{SUBSCRIPTIONS}/{subscription.graph_id}/reauthorize", status=404, json=graph_error("NotFound"))
    graph_http.delete(f"{SUBSCRIPTIONS}/{subscription.graph_id}", status=404)

    assert graph_subscription_reauthorize(subscription=subscription, client=graph, now=NOW) is RenewOutcome.RECREATED
    assert GraphSubscription.objects.get().graph_id == "new-subscription-1"


def test_replace_creates_first_then_deletes_the_old_one_keeping_the_delta_link(graph, graph_http):
    GraphSide(graph_http)
    old = GraphSubscriptionFactory(delta_link=f"{GRAPH}/users/x/calendarView/delta?$deltatoken=resume-here")
    graph_http.delete(f"{SUBSCRIPTIONS}/{old.graph_id}", status=204)

    new = graph_subscription_replace(subscription=old, client=graph, now=NOW)

    assert [call.request.method for call in graph_http.calls] == ["POST", "DELETE"]
    assert list(GraphSubscription.objects.all()) == [new]
    assert new.delta_link.endswith("resume-here")
    assert new.practitioner == old.practitioner


def test_a_failed_replace_keeps_the_old_row_marked_unhealthy_and_raises(graph, graph_http):
    old = GraphSubscriptionFactory()
    graph_http.post(SUBSCRIPTIONS, status=500, json=graph_error("InternalServerError"))

    with pytest.raises(GraphServerError):
        graph_subscription_replace(subscription=old, client=graph, now=NOW)

    old.refresh_from_db()
    assert not old.is_healthy
    assert old.renewal_failures == 1
    assert "InternalServerError" in old.last_error


def test_delete_removes_the_subscription_in_graph_and_the_row(graph, graph_http):
    subscription = GraphSubscriptionFactory()
    graph_http.delete(f"{SUBSCRIPTIONS}/{subscription.graph_id}", status=204)

    graph_subscription_delete(subscription=subscription, client=graph)

    assert not GraphSubscription.objects.exists()


def test_a_delete_graph_refuses_keeps_the_row(graph, graph_http):
    subscription = GraphSubscriptionFactory()
    graph_http.delete(f"{SUBSCRIPTIONS}/{subscription.graph_id}", status=403, json=graph_error("Forbidden"))

    report = graph_subscriptions_delete(client=graph)

    assert report.failed[0][0] == subscription.practitioner.slug
    assert GraphSubscription.objects.exists()


def test_delete_for_one_practitioner_leaves_the_others(graph, graph_http):
    theirs = GraphSubscriptionFactory()
    others = GraphSubscriptionFactory()
    graph_http.delete(f"{SUBSCRIPTIONS}/{theirs.graph_id}", status=204)

    report = graph_subscriptions_delete(client=graph, practitioner=theirs.practitioner)

    assert report.deleted == [theirs.practitioner.slug]
    assert list(GraphSubscription.objects.all()) == [others]


def test_renewal_errors_are_typed_for_callers(graph, graph_http):
    subscription = GraphSubscriptionFactory()
    graph_http.patch(f"{SUBSCRIPTIONS}/{subscription.graph_id}", status=404)

    with pytest.raises(GraphNotFoundError):
        graph.subscription_renew(subscription_id=subscription.graph_id, expires_at=NOW)
