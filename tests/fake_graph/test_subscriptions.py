"""Subscriptions: the checks and the validation handshake Graph performs, renewal, reauthorization, deletion."""

from datetime import UTC, datetime, timedelta
from urllib.parse import unquote_plus

import pytest
import time_machine

from tests.fake_graph.conftest import DIA, NURSE, fixture, in_minutes


def request_body(receiver, **changes):
    return {
        "changeType": "created,updated,deleted",
        "notificationUrl": receiver.url("/notify"),
        "lifecycleNotificationUrl": receiver.url("/lifecycle"),
        "resource": f"users/{DIA['id']}/events",
        "expirationDateTime": in_minutes(24 * 60),
        "clientState": "secretClientValue-dr-dia",
    } | changes


def expiry(subscription) -> datetime:
    return datetime.fromisoformat(subscription["expirationDateTime"])


def test_creating_validates_both_endpoints_then_answers_201_shaped_like_graph(graph, receiver, fake):
    response = graph.post("/subscriptions", json=request_body(receiver))

    assert response.status_code == 201, response.text
    created = response.json()
    assert list(created) == list(fixture("graph-subscription-created.json"))
    assert created["@odata.context"] == f"{fake.graph_url}/$metadata#subscriptions/$entity"
    assert created["resource"] == f"users/{DIA['id']}/events"
    assert created["changeType"] == "created,updated,deleted"
    assert created["clientState"] == "secretClientValue-dr-dia"
    assert created["applicationId"] == fake.client_id
    assert created["latestSupportedTlsVersion"] == "v1_2"
    assert created["expirationDateTime"].endswith("Z")
    assert len(created["id"]) == 36
    assert len(receiver.validations) == 2
    assert fake.subscriptions() == [{key: value for key, value in created.items() if key != "@odata.context"}]


def test_the_validation_token_is_encoded_as_graph_encodes_it(graph, receiver):
    graph.post("/subscriptions", json=request_body(receiver))

    raw = receiver.validations[0]
    expected = "Validation%3a+Testing+client+application+reachability+for+subscription+Request-Id%3a+"
    assert raw.lower().startswith(expected.lower())
    decoded = unquote_plus(raw)
    assert {"+", "/", "=", " "} <= set(decoded)


@pytest.mark.parametrize("echo", ["undecoded-plus", "decoded-twice", "json", "refuse"])
def test_a_wrong_answer_to_the_handshake_creates_nothing(graph, receiver, fake, echo):
    receiver.echo = echo

    response = graph.post("/subscriptions", json=request_body(receiver))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ValidationError"
    assert fake.subscriptions() == []


def test_an_unreachable_endpoint_fails_the_handshake(graph, receiver, fake, closed_port):
    unreachable = f"http://127.0.0.1:{closed_port}/notify"
    response = graph.post("/subscriptions", json=request_body(receiver, notificationUrl=unreachable))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "ValidationError"
    assert fake.subscriptions() == []


def test_a_subscription_may_name_the_mailbox_by_principal_name_or_calendar(graph, receiver, fake):
    calendar_id = fake.mailboxes()[1]["calendar_id"]
    by_name = graph.post(
        "/subscriptions", json=request_body(receiver, resource=f"users/{DIA['principal_name']}/events")
    )
    by_calendar = graph.post(
        "/subscriptions", json=request_body(receiver, resource=f"/users/{DIA['id']}/calendars/{calendar_id}/events")
    )

    assert (by_name.status_code, by_calendar.status_code) == (201, 201)


@pytest.mark.parametrize(
    "changes",
    [
        {"resource": "me/events"},
        {"resource": "users/nobody@clinic.example.com.au/events"},
        {"resource": f"users/{DIA['id']}/messages"},
        {"resource": f"users/{DIA['id']}/calendars/unknown/events"},
        {"changeType": "created,moved"},
        {"changeType": ""},
        {"clientState": "x" * 129},
        {"notificationUrl": "not a url"},
        {"expirationDateTime": "tomorrow"},
        {"expirationDateTime": "2026-12-01T23:00:00"},
    ],
)
def test_requests_graph_refuses_are_400_invalid_request(graph, receiver, fake, changes):
    response = graph.post("/subscriptions", json=request_body(receiver, **changes))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "InvalidRequest"
    assert set(error) == {"code", "message", "innerError"}
    assert receiver.validations == []
    assert fake.subscriptions() == []


def test_client_state_may_be_128_characters(subscribe):
    assert subscribe(clientState="x" * 128)["clientState"] == "x" * 128


def test_expiration_must_be_in_the_future_and_at_most_10080_minutes_ahead(graph, receiver):
    past = graph.post("/subscriptions", json=request_body(receiver, expirationDateTime=in_minutes(-1)))
    too_far = graph.post("/subscriptions", json=request_body(receiver, expirationDateTime=in_minutes(10_081)))
    longest = graph.post("/subscriptions", json=request_body(receiver, expirationDateTime=in_minutes(10_079)))

    assert (past.status_code, too_far.status_code, longest.status_code) == (400, 400, 201)
    assert too_far.json()["error"]["message"] == "Subscription expiration can only be 10080 minutes in the future."


def test_an_expiration_under_45_minutes_becomes_45(subscribe):
    before = datetime.now(UTC)

    created = subscribe(expirationDateTime=in_minutes(5))

    assert expiry(created) >= before + timedelta(minutes=45)
    assert expiry(created) <= datetime.now(UTC) + timedelta(minutes=45)


def test_renewing_changes_the_expiration_within_the_same_limits(graph, subscribe):
    subscription = subscribe()
    path = f"/subscriptions/{subscription['id']}"

    renewed = graph.patch(path, json={"expirationDateTime": in_minutes(10_000)})
    too_far = graph.patch(path, json={"expirationDateTime": in_minutes(20_000)})
    other_field = graph.patch(path, json={"clientState": "new"})

    assert renewed.status_code == 200
    assert expiry(renewed.json()) > expiry(subscription)
    assert renewed.json()["id"] == subscription["id"]
    assert (too_far.status_code, other_field.status_code) == (400, 400)
    assert graph.get(path).json()["expirationDateTime"] == renewed.json()["expirationDateTime"]


def test_reauthorizing_answers_204_as_graph_documents(graph, subscribe):
    subscription = subscribe()

    response = graph.post(f"/subscriptions/{subscription['id']}/reauthorize")

    assert response.status_code == 204
    assert response.content == b""


def test_deleting_answers_204_and_then_the_subscription_is_gone(graph, subscribe, fake):
    subscription = subscribe()
    path = f"/subscriptions/{subscription['id']}"

    deleted = graph.delete(path)

    assert deleted.status_code == 204
    assert graph.get(path).status_code == 404
    assert fake.subscriptions() == []


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"expirationDateTime": in_minutes(100)}),
        ("DELETE", "", None),
        ("POST", "/reauthorize", None),
    ],
)
def test_an_unknown_subscription_is_404_resource_not_found(graph, method, suffix, body):
    response = graph.request(method, f"/subscriptions/7f105c7d-2dc5-4530-97cd-4e7ae6534c07{suffix}", json=body)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ResourceNotFound"


def test_listing_returns_every_live_subscription(graph, subscribe):
    first = subscribe()
    second = subscribe(resource=f"users/{NURSE['principal_name']}/events", clientState="secretClientValue-nurse")

    listed = graph.get("/subscriptions").json()

    assert listed["@odata.context"].endswith("/$metadata#subscriptions")
    assert {s["id"] for s in listed["value"]} == {first["id"], second["id"]}


def test_graph_forgets_a_subscription_once_it_expires(graph, subscribe, fake):
    subscription = subscribe(expirationDateTime=in_minutes(60))

    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=61), tick=False):
        assert fake.subscriptions() == []
    assert graph.get(f"/subscriptions/{subscription['id']}").status_code == 404


def test_answers_carry_graph_request_ids(graph):
    response = graph.get("/subscriptions", headers={"client-request-id": "abc"})

    assert response.headers["client-request-id"] == "abc"
    assert len(response.headers["request-id"]) == 36
    assert response.headers["Content-Type"].startswith("application/json;odata.metadata=minimal")


def test_a_body_that_is_not_json_is_400(graph):
    response = graph.post("/subscriptions", data=b"{", headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadRequest"
