"""`GraphClient` against `responses`: each call's request and parsing, retries and error types.

Sleeps are recorded instead of slept, and the token provider is a fake that counts its calls.
"""

import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
import requests
import responses
from responses import matchers

from practitioners.graph.client import (
    DeltaPage,
    GraphAuthError,
    GraphClient,
    GraphDeltaExpiredError,
    GraphError,
    GraphNotFoundError,
    GraphServerError,
    GraphThrottledError,
    GraphTransportError,
    events_resource_parse,
    is_item_gone,
    is_transient,
)
from tests.practitioners.conftest import GRAPH, fixture_json
from tests.retries import assert_a_long_wait_is_left_to_the_caller, assert_one_try_and_three_retries

MAILBOX = "dr.dia@clinic.example.com.au"
EVENT_ID = "AAMkAGI1AAAt9AHjAAA="
EVENT_URL = f"{GRAPH}/users/{MAILBOX}/events/{EVENT_ID}"
SUBSCRIPTION_ID = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"
SUBSCRIPTION_URL = f"{GRAPH}/subscriptions/{SUBSCRIPTION_ID}"
EXPIRES = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)


def graph_error(code, message):
    return {"error": {"code": code, "message": message, "innerError": {"request-id": "3f6e5c1a"}}}


# --- Requests and parsing ---------------------------------------------------------------


@responses.activate
def test_event_get_asks_for_utc_times_with_the_token_and_returns_the_event(graph):
    event = fixture_json("graph-event-calendly-paid.json")
    responses.get(
        EVENT_URL,
        json=event,
        match=[matchers.header_matcher({"Authorization": "Bearer token-1", "Prefer": 'outlook.timezone="UTC"'})],
    )

    assert graph.event_get(mailbox=MAILBOX, event_id=EVENT_ID) == event


@responses.activate
def test_event_get_in_a_named_calendar_and_ids_are_escaped(graph):
    responses.get(f"{GRAPH}/users/{MAILBOX}/calendars/AQMkADAw%2FAAA%2B=/events/AAMk%2Fx%2By=", json={"id": "x"})

    assert graph.event_get(mailbox=MAILBOX, event_id="AAMk/x+y=", calendar_id="AQMkADAw/AAA+=") == {"id": "x"}


@responses.activate
def test_subscription_create_posts_the_subscription_with_a_utc_expiry(graph):
    created = fixture_json("graph-subscription-created.json")
    sydney = timezone(timedelta(hours=11))
    responses.post(
        f"{GRAPH}/subscriptions",
        status=201,
        json=created,
        match=[
            matchers.json_params_matcher(
                {
                    "changeType": "created,updated,deleted",
                    "notificationUrl": "https://ops.clinic.example.com.au/booking/practitioner",
                    "lifecycleNotificationUrl": "https://ops.clinic.example.com.au/booking/lifecycle",
                    "resource": f"users/{MAILBOX}/events",
                    "expirationDateTime": "2026-12-01T23:00:00Z",
                    "clientState": "secretClientValue-dr-dia",
                }
            )
        ],
    )

    answer = graph.subscription_create(
        resource=f"users/{MAILBOX}/events",
        notification_url="https://ops.clinic.example.com.au/booking/practitioner",
        lifecycle_notification_url="https://ops.clinic.example.com.au/booking/lifecycle",
        client_state="secretClientValue-dr-dia",
        expires_at=datetime(2026, 12, 2, 10, 0, tzinfo=sydney),
    )
    assert answer["id"] == SUBSCRIPTION_ID


def test_naive_datetimes_are_refused_before_anything_is_sent(graph):
    with pytest.raises(ValueError, match="aware"):
        graph.subscription_renew(subscription_id=SUBSCRIPTION_ID, expires_at=datetime(2026, 12, 1))  # noqa: DTZ001


@responses.activate
def test_subscription_renew_patches_the_expiry(graph):
    renewed = {**fixture_json("graph-subscription-created.json"), "expirationDateTime": "2026-12-08T22:00:00.0000000Z"}
    responses.patch(
        SUBSCRIPTION_URL,
        json=renewed,
        match=[matchers.json_params_matcher({"expirationDateTime": "2026-12-08T22:00:00Z"})],
    )

    answer = graph.subscription_renew(subscription_id=SUBSCRIPTION_ID, expires_at=datetime(2026, 12, 8, 22, tzinfo=UTC))
    assert answer["expirationDateTime"] == "2026-12-08T22:00:00.0000000Z"


@responses.activate
def test_subscription_reauthorize_posts_to_the_action(graph):
    responses.post(f"{SUBSCRIPTION_URL}/reauthorize", status=200)

    assert graph.subscription_reauthorize(subscription_id=SUBSCRIPTION_ID) is None
    assert responses.calls[0].request.body is None


@responses.activate
@pytest.mark.parametrize("status", [204, 404])
def test_subscription_delete_is_done_when_deleted_or_already_gone(graph, status):
    responses.delete(SUBSCRIPTION_URL, status=status, json=None if status == 204 else graph_error("NotFound", "gone"))

    assert graph.subscription_delete(subscription_id=SUBSCRIPTION_ID) is None


@responses.activate
def test_subscriptions_list_follows_next_links(graph):
    first = fixture_json("graph-subscriptions-list.json")
    next_link = f"{GRAPH}/subscriptions?$skiptoken=page-2"
    responses.get(f"{GRAPH}/subscriptions", json={**first, "@odata.nextLink": next_link})
    responses.get(next_link, json={"value": [{"id": "last-one"}]})

    listed = graph.subscriptions_list()
    assert [item["id"] for item in listed] == [*(item["id"] for item in first["value"]), "last-one"]


@responses.activate
def test_calendar_delta_follows_next_links_to_the_delta_link(graph):
    page_1 = fixture_json("graph-calendar-delta-page-1.json")
    page_2 = fixture_json("graph-calendar-delta-page-2.json")
    responses.get(
        f"{GRAPH}/users/{MAILBOX}/calendarView/delta",
        json=page_1,
        match=[
            matchers.query_param_matcher(
                {"startDateTime": "2026-11-30T13:00:00Z", "endDateTime": "2027-02-28T13:00:00Z"}
            ),
            matchers.header_matcher({"Prefer": 'outlook.timezone="UTC"'}),
        ],
    )
    responses.get(page_1["@odata.nextLink"], json=page_2)

    page = graph.calendar_delta(
        mailbox=MAILBOX,
        start=datetime(2026, 11, 30, 13, tzinfo=UTC),
        end=datetime(2027, 2, 28, 13, tzinfo=UTC),
    )

    assert isinstance(page, DeltaPage)
    assert page.delta_link == page_2["@odata.deltaLink"]
    # The event moved on page 2 appears once, as it is now; the one deleted on page 2 only as removed.
    assert [event["id"] for event in page.events] == [EVENT_ID]
    assert page.events[0]["start"]["dateTime"] == "2026-12-04T00:30:00.0000000"
    assert page.removed_ids == ["AAMkAGI2BBBu0BIkBBB=", "AAMkAGI3CCCv1CJlCCC="]


@responses.activate
def test_calendar_delta_starts_from_a_kept_delta_link(graph):
    delta_link = f"{GRAPH}/users/{MAILBOX}/calendarView/delta?$deltatoken=R0usmcMDNGg0J1E"
    following = f"{GRAPH}/users/{MAILBOX}/calendarView/delta?$deltatoken=next-round"
    responses.get(delta_link, json={"value": [], "@odata.deltaLink": following})

    page = graph.calendar_delta(mailbox=MAILBOX, start=EXPIRES, end=EXPIRES + timedelta(days=90), delta_link=delta_link)

    assert page == DeltaPage(events=[], removed_ids=[], delta_link=following)
    assert len(responses.calls) == 1


@responses.activate
def test_calendar_delta_of_a_named_calendar(graph):
    responses.get(
        f"{GRAPH}/users/{MAILBOX}/calendars/cal-1/calendarView/delta",
        json={"value": [], "@odata.deltaLink": f"{GRAPH}/d"},
        match=[
            matchers.query_param_matcher(
                {"startDateTime": "2026-12-01T23:00:00Z", "endDateTime": "2026-12-02T23:00:00Z"}
            )
        ],
    )

    page = graph.calendar_delta(mailbox=MAILBOX, calendar_id="cal-1", start=EXPIRES, end=EXPIRES + timedelta(days=1))

    assert page == DeltaPage(events=[], removed_ids=[], delta_link=f"{GRAPH}/d")
    assert len(responses.calls) == 1, "the named calendar's view was read, and nothing else"


@responses.activate
def test_calendar_delta_skips_items_without_an_id(graph):
    responses.get(
        f"{GRAPH}/users/{MAILBOX}/calendarView/delta",
        json={
            "value": [
                {"subject": "no id"},
                {"id": "", "@removed": {"reason": "deleted"}},
                {"id": None},
                {"id": EVENT_ID, "subject": "kept"},
            ],
            "@odata.deltaLink": f"{GRAPH}/d",
        },
    )

    page = graph.calendar_delta(mailbox=MAILBOX, start=EXPIRES, end=EXPIRES + timedelta(days=1))

    assert [event["id"] for event in page.events] == [EVENT_ID]
    assert page.removed_ids == []


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("users/dr.dia@clinic.example.com.au/events", ("dr.dia@clinic.example.com.au", "")),
        ("/Users/5f1c2e4b-7a0d-4c55-9d3e-2b8a1f6c9e10/Events", ("5f1c2e4b-7a0d-4c55-9d3e-2b8a1f6c9e10", "")),
        ("users/dr.dia@clinic.example.com.au/calendars/AAMkCal=/events", ("dr.dia@clinic.example.com.au", "AAMkCal=")),
        ("me/events", None),
        ("users/dr.dia@clinic.example.com.au/messages", None),
        ("users//events", None),
        ("", None),
    ],
)
def test_events_resource_parse(resource, expected):
    assert events_resource_parse(resource) == expected


@pytest.mark.parametrize(
    ("error", "gone"),
    [
        (GraphNotFoundError("404", status=404, code="ErrorItemNotFound"), True),
        (GraphNotFoundError("404", status=404, code="ErrorInvalidUser"), False),
        (GraphNotFoundError("404", status=404), False),
        (GraphServerError("500", status=500, code="ErrorItemNotFound"), False),
    ],
)
def test_only_graphs_item_not_found_says_the_item_is_gone(error, gone):
    assert is_item_gone(error) is gone


@responses.activate
def test_a_missing_event_carries_graphs_code(graph_without_retries):
    responses.get(EVENT_URL, status=404, json=graph_error("ErrorItemNotFound", "The specified object was not found."))

    with pytest.raises(GraphNotFoundError) as raised:
        graph_without_retries.event_get(mailbox=MAILBOX, event_id=EVENT_ID)
    assert is_item_gone(raised.value)


@responses.activate
def test_a_link_to_another_host_is_not_followed_with_our_token(graph):
    with pytest.raises(GraphError, match="outside"):
        graph.calendar_delta(
            mailbox=MAILBOX, start=EXPIRES, end=EXPIRES, delta_link="https://attacker.example/delta?$deltatoken=x"
        )
    assert len(responses.calls) == 0


@responses.activate
def test_an_expired_delta_link_is_its_own_error(graph):
    delta_link = f"{GRAPH}/users/{MAILBOX}/calendarView/delta?$deltatoken=old"
    responses.get(delta_link, status=410, json=graph_error("SyncStateNotFound", "The sync state was not found."))

    with pytest.raises(GraphDeltaExpiredError) as raised:
        graph.calendar_delta(mailbox=MAILBOX, start=EXPIRES, end=EXPIRES, delta_link=delta_link)
    assert raised.value.code == "SyncStateNotFound"


# --- Retries --------------------------------------------------------------------------


@responses.activate
def test_a_get_is_retried_after_a_503_with_back_off(graph, sleeps):
    responses.get(EVENT_URL, status=503)
    responses.get(EVENT_URL, json={"id": EVENT_ID})

    assert graph.event_get(mailbox=MAILBOX, event_id=EVENT_ID) == {"id": EVENT_ID}
    assert len(sleeps) == 1
    assert 0 <= sleeps[0] <= graph.backoff_seconds


@responses.activate
def test_a_429_waits_as_long_as_retry_after_says(graph, sleeps):
    responses.get(EVENT_URL, status=429, headers={"Retry-After": "2"}, json=graph_error("TooManyRequests", "slow"))
    responses.get(EVENT_URL, status=504, headers={"Retry-After": "5"})
    responses.get(EVENT_URL, json={"id": EVENT_ID})

    graph.event_get(mailbox=MAILBOX, event_id=EVENT_ID)
    assert sleeps == [2.0, 5.0]


@responses.activate
def test_retry_after_as_an_http_date_is_understood(graph, sleeps):
    when = format_datetime(datetime.now(tz=UTC) + timedelta(seconds=20), usegmt=True)
    responses.get(EVENT_URL, status=429, headers={"Retry-After": when})
    responses.get(EVENT_URL, json={"id": EVENT_ID})

    graph.event_get(mailbox=MAILBOX, event_id=EVENT_ID)
    assert 15 <= sleeps[0] <= 20


@responses.activate
def test_a_retry_after_longer_than_the_client_waits_is_raised_for_the_caller_to_reschedule(graph, sleeps):
    responses.get(EVENT_URL, status=429, headers={"Retry-After": "600"}, json=graph_error("TooManyRequests", "slow"))

    with pytest.raises(GraphThrottledError) as raised:
        graph.event_get(mailbox=MAILBOX, event_id=EVENT_ID)
    assert raised.value.code == "TooManyRequests"
    assert_a_long_wait_is_left_to_the_caller(raised.value, sleeps, is_transient=is_transient)


@responses.activate
def test_retries_stop_after_the_limit(graph, sleeps):
    for _ in range(5):
        responses.patch(SUBSCRIPTION_URL, status=504)

    with pytest.raises(GraphServerError):
        graph.subscription_renew(subscription_id=SUBSCRIPTION_ID, expires_at=EXPIRES)
    assert_one_try_and_three_retries(sleeps)


@responses.activate
def test_throttling_that_outlasts_the_retries_is_graph_throttled(graph, sleeps):
    for _ in range(4):
        responses.delete(SUBSCRIPTION_URL, status=503, headers={"Retry-After": "1"})

    with pytest.raises(GraphThrottledError) as raised:
        graph.subscription_delete(subscription_id=SUBSCRIPTION_ID)
    assert raised.value.retry_after == 1.0
    assert sleeps == [1.0, 1.0, 1.0]


@responses.activate
@pytest.mark.parametrize("failure", [requests.ConnectionError("reset"), requests.ReadTimeout("slow")])
def test_dropped_connections_and_timeouts_are_retried_for_idempotent_calls(graph, sleeps, failure):
    responses.patch(SUBSCRIPTION_URL, body=failure)
    responses.patch(SUBSCRIPTION_URL, json={"id": SUBSCRIPTION_ID})

    assert graph.subscription_renew(subscription_id=SUBSCRIPTION_ID, expires_at=EXPIRES) == {"id": SUBSCRIPTION_ID}
    assert len(sleeps) == 1


@responses.activate
def test_a_post_that_timed_out_is_not_sent_again(graph, sleeps):
    # Graph may have created the subscription; sending again could make a second one.
    responses.post(f"{GRAPH}/subscriptions", body=requests.ReadTimeout("slow"))

    with pytest.raises(GraphTransportError) as raised:
        graph.subscription_create(
            resource="users/x/events",
            notification_url="https://a/booking/practitioner",
            lifecycle_notification_url="https://a/booking/lifecycle",
            client_state="s",
            expires_at=EXPIRES,
        )
    assert is_transient(raised.value)
    assert len(responses.calls) == 1
    assert sleeps == []


@responses.activate
def test_a_post_refused_with_retry_after_is_sent_again(graph, sleeps):
    responses.post(f"{SUBSCRIPTION_URL}/reauthorize", status=429, headers={"Retry-After": "3"})
    responses.post(f"{SUBSCRIPTION_URL}/reauthorize", status=503, headers={"Retry-After": "1"})
    responses.post(f"{SUBSCRIPTION_URL}/reauthorize", status=204)

    graph.subscription_reauthorize(subscription_id=SUBSCRIPTION_ID)
    assert sleeps == [3.0, 1.0]


@responses.activate
@pytest.mark.parametrize(
    ("status", "error_type"), [(503, GraphThrottledError), (504, GraphServerError), (500, GraphServerError)]
)
def test_a_post_refused_without_retry_after_is_not_sent_again(graph, sleeps, status, error_type):
    responses.post(f"{SUBSCRIPTION_URL}/reauthorize", status=status)

    with pytest.raises(error_type):
        graph.subscription_reauthorize(subscription_id=SUBSCRIPTION_ID)
    assert len(responses.calls) == 1
    assert sleeps == []


@responses.activate
def test_a_401_fetches_a_token_again_and_retries_once(graph, tokens, token_calls):
    tokens[:] = ["expired-token", "fresh-token"]
    responses.get(EVENT_URL, status=401, json=graph_error("InvalidAuthenticationToken", "Access token has expired."))
    responses.get(EVENT_URL, json={"id": EVENT_ID})

    assert graph.event_get(mailbox=MAILBOX, event_id=EVENT_ID) == {"id": EVENT_ID}
    assert len(token_calls) == 2
    assert [call.request.headers["Authorization"] for call in responses.calls] == [
        "Bearer expired-token",
        "Bearer fresh-token",
    ]


@responses.activate
def test_a_second_401_is_an_auth_error(graph, token_calls):
    for _ in range(3):
        responses.get(EVENT_URL, status=401, json=graph_error("InvalidAuthenticationToken", "Access token is empty."))

    with pytest.raises(GraphAuthError) as raised:
        graph.event_get(mailbox=MAILBOX, event_id=EVENT_ID)
    assert raised.value.status == 401
    assert not is_transient(raised.value)
    assert len(responses.calls) == 2


def test_a_token_provider_failure_reaches_the_caller_untouched():
    def no_token():
        raise GraphAuthError("no Graph token: invalid_client")

    with pytest.raises(GraphAuthError, match="invalid_client"):
        GraphClient(base_url=GRAPH, token_provider=no_token).subscriptions_list()


# --- Error types ----------------------------------------------------------------------


@pytest.fixture
def graph_without_retries(sleeps):
    return GraphClient(base_url=GRAPH, token_provider=lambda: "t", max_retries=0, sleep=sleeps.append)


@responses.activate
@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, GraphError),
        (403, GraphAuthError),
        (404, GraphNotFoundError),
        (409, GraphError),
        (429, GraphThrottledError),
        (500, GraphServerError),
        (502, GraphServerError),
        (503, GraphThrottledError),
        (504, GraphServerError),
    ],
)
def test_each_status_has_its_error_type(graph_without_retries, status, error_type):
    responses.get(EVENT_URL, status=status, json=graph_error("SomeCode", "Something happened."))

    with pytest.raises(GraphError) as raised:
        graph_without_retries.event_get(mailbox=MAILBOX, event_id=EVENT_ID)
    assert type(raised.value) is error_type
    assert raised.value.status == status
    assert raised.value.code == "SomeCode"
    assert "GET /users/{mailbox}/events/{id}" in str(raised.value)


@responses.activate
def test_graphs_error_message_is_kept_without_addresses(graph_without_retries):
    responses.get(
        EVENT_URL,
        status=404,
        json=graph_error("ErrorInvalidUser", f"The requested user '{MAILBOX}' is invalid."),
    )

    with pytest.raises(GraphNotFoundError) as raised:
        graph_without_retries.event_get(mailbox=MAILBOX, event_id=EVENT_ID)
    message = str(raised.value)
    assert "ErrorInvalidUser" in message
    assert "is invalid" in message
    assert MAILBOX not in message


@responses.activate
def test_an_html_error_page_still_has_its_type(graph_without_retries):
    responses.get(EVENT_URL, status=502, body="<html>Bad Gateway</html>", content_type="text/html")

    with pytest.raises(GraphServerError):
        graph_without_retries.event_get(mailbox=MAILBOX, event_id=EVENT_ID)


@responses.activate
def test_a_success_that_is_not_json_is_a_transport_error(graph):
    responses.get(EVENT_URL, status=200, body="<html>captive portal</html>", content_type="text/html")

    with pytest.raises(GraphTransportError):
        graph.event_get(mailbox=MAILBOX, event_id=EVENT_ID)


# --- Logging --------------------------------------------------------------------------


@responses.activate
def test_each_call_is_one_log_line_with_the_path_template_only(graph, caplog):
    responses.get(EVENT_URL, status=503)
    responses.get(EVENT_URL, json=fixture_json("graph-event-calendly-paid.json"))

    with caplog.at_level(logging.INFO, logger="clinic.graph"):
        graph.event_get(mailbox=MAILBOX, event_id=EVENT_ID)

    records = [record for record in caplog.records if record.name == "clinic.graph"]
    assert [(record.method, record.path, record.status) for record in records] == [
        ("GET", "/users/{mailbox}/events/{id}", 503),
        ("GET", "/users/{mailbox}/events/{id}", 200),
    ]
    assert all(record.duration_ms >= 0 for record in records)
    logged = json.dumps([vars(record) for record in records], default=str)
    for secret in (MAILBOX, EVENT_ID, "Jane", "token-1"):
        assert secret not in logged
