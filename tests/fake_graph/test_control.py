"""Throttling on request, and the control routes another process drives the fake with."""

import pytest
import requests

from practitioners.fake_graph import (
    FAKE_MAILBOXES,
    FakeGraphServer,
    FakeGraphUnreachableError,
    UnknownMailboxError,
    control_url_for,
    event_create,
)
from tests.fake_graph.conftest import DIA, paid_booking


def control(fake, method, path, **kwargs):
    return requests.request(method, f"{fake.control_url}/_fake{path}", timeout=5, **kwargs)


def test_throttled_requests_are_429_with_retry_after_then_served_again(fake, graph):
    fake.throttle_next(status=429, count=2, retry_after=7)

    answers = [graph.get("/subscriptions") for _ in range(3)]

    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].headers["Retry-After"] == "7"
    assert answers[0].json()["error"]["code"] == "ApplicationThrottled"


def test_throttling_can_target_a_path_and_answer_503(fake, graph):
    event = fake.create_event(DIA["id"], paid_booking())
    fake.throttle_next(status=503, path_prefix="/users/", retry_after=2)

    listing = graph.get("/subscriptions")
    reading = graph.get(f"/users/{DIA['id']}/events/{event['id']}")
    again = graph.get(f"/users/{DIA['id']}/events/{event['id']}")

    assert (listing.status_code, reading.status_code, again.status_code) == (200, 503, 200)
    assert reading.headers["Retry-After"] == "2"


def test_throttling_through_the_control_api_queues_rules_in_order(fake, graph):
    first = control(fake, "POST", "/throttle", json={"status": 503, "count": 1, "retry_after": 1})
    control(fake, "POST", "/throttle", json={"status": 429, "count": 1, "retry_after": 3})

    statuses = [graph.get("/subscriptions").status_code for _ in range(3)]

    assert first.json()["value"] == [{"status": 503, "count": 1, "path_prefix": None, "retry_after": 1}]
    assert statuses == [503, 429, 200]
    assert control(fake, "GET", "/throttle").json() == {"value": []}


def test_a_throttle_rule_must_make_sense(fake):
    response = control(fake, "POST", "/throttle", json={"status": 500})

    assert response.status_code == 400


def test_events_are_created_changed_and_deleted_through_the_control_api(fake, graph):
    created = control(fake, "POST", f"/mailboxes/{DIA['principal_name']}/events", json=paid_booking())
    event_id = created.json()["id"]
    changed = control(fake, "PATCH", f"/mailboxes/{DIA['id']}/events/{event_id}", json={"subject": "Moved"})
    listed = control(fake, "GET", f"/mailboxes/{DIA['id']}/events")
    deleted = control(fake, "DELETE", f"/mailboxes/{DIA['id']}/events/{event_id}")

    assert (created.status_code, changed.status_code, deleted.status_code) == (201, 200, 204)
    assert changed.json()["subject"] == "Moved"
    assert [e["id"] for e in listed.json()["value"]] == [event_id]
    assert graph.get(f"/users/{DIA['id']}/events/{event_id}").status_code == 404


def test_control_errors_have_graph_error_shape(fake):
    unknown_user = control(fake, "POST", "/mailboxes/nobody@example.com/events", json=paid_booking())
    bad_event = control(fake, "POST", f"/mailboxes/{DIA['id']}/events", json={"subject": "no times"})
    not_json = control(fake, "POST", f"/mailboxes/{DIA['id']}/events", data=b"[")
    nowhere = control(fake, "GET", "/nowhere")

    assert unknown_user.status_code == 404
    assert unknown_user.json()["error"]["code"] == "ErrorInvalidUser"
    assert (bad_event.status_code, not_json.status_code, nowhere.status_code) == (400, 400, 404)


def test_mailboxes_are_added_and_listed(fake):
    added = control(
        fake, "POST", "/mailboxes", json={"principal_name": "locum@clinic.example.com.au", "display_name": "Locum"}
    )
    duplicate = control(fake, "POST", "/mailboxes", json={"principal_name": DIA["principal_name"], "display_name": "x"})
    listed = control(fake, "GET", "/mailboxes").json()["value"]

    assert added.status_code == 201
    assert duplicate.status_code == 409
    assert [m["principal_name"] for m in listed] == [
        *(m["principal_name"] for m in FAKE_MAILBOXES.values()),
        "locum@clinic.example.com.au",
    ]


def test_options_tokens_requests_and_reset(fake, graph, subscribe):
    subscribe()
    fake.create_event(DIA["id"], paid_booking())
    fake.add_mailbox(principal_name="locum@clinic.example.com.au", display_name="Locum")
    fake.throttle_next(count=5)

    options = control(fake, "POST", "/options", json={"duplicate_updates": True, "delta_page_size": 3})
    tokens = control(fake, "GET", "/tokens").json()
    requests_seen = control(fake, "GET", "/requests").json()["value"]
    reset = control(fake, "POST", "/reset")

    assert options.json() == {"duplicate_updates": True, "delta_page_size": 3}
    assert tokens == {"issued": 1}
    assert requests_seen[0] == {"method": "POST", "path": "/v1.0/subscriptions", "status": 201}
    assert reset.status_code == 204
    assert fake.subscriptions() == []
    assert fake.events(DIA["id"]) == []
    assert len(fake.mailboxes()) == len(FAKE_MAILBOXES)
    assert fake.throttles() == []
    assert fake.notifications() == []
    assert fake.tokens_issued() == 0
    assert fake.options.as_json() == {"duplicate_updates": False, "delta_page_size": 10}
    assert graph.get("/subscriptions").status_code == 200  # tokens issued before stay valid


def test_the_fake_may_start_with_other_mailboxes():
    with FakeGraphServer(mailboxes=[{"id": "", "principal_name": "a@b.example", "display_name": "A"}]) as fake:
        assert [m["principal_name"] for m in fake.mailboxes()] == ["a@b.example"]


def test_the_control_client_creates_events(fake):
    created = event_create(
        control_url=control_url_for(fake.graph_url), mailbox=DIA["principal_name"], event=paid_booking()
    )

    assert created["subject"] == "Follow-up Consultation (45 min) between Dr Dia and Jane Citizen"
    assert [e["id"] for e in fake.events(DIA["id"])] == [created["id"]]


def test_the_control_client_names_what_went_wrong(fake, closed_port):
    with pytest.raises(UnknownMailboxError):
        event_create(control_url=fake.control_url, mailbox="nobody@example.com", event=paid_booking())
    with pytest.raises(FakeGraphUnreachableError):
        event_create(control_url=f"http://127.0.0.1:{closed_port}", mailbox=DIA["id"], event=paid_booking(), timeout=1)


def test_the_control_url_is_the_root_of_the_graph_url():
    assert control_url_for("http://127.0.0.1:8200/v1.0") == "http://127.0.0.1:8200"
    with pytest.raises(ValueError, match="absolute"):
        control_url_for("/v1.0")


def test_subscriptions_may_be_forgotten_without_a_word(fake, graph, subscribe, receiver):
    subscribe()
    subscribe(mailbox=FAKE_MAILBOXES["nurse"])
    delivered_before = len(fake.notifications())

    answer = control(fake, "POST", "/subscriptions/forget")

    assert answer.json() == {"forgotten": 2}
    assert graph.get("/subscriptions").json()["value"] == []
    assert len(fake.notifications()) == delivered_before  # no lifecycle notification: Graph said nothing
