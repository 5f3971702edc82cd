import json
import logging
from datetime import UTC, datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from bookings.models import DeliverySource, DeliveryStatus, InboundDelivery
from bookings.office365 import receivers
from tests.bookings.conftest import (
    CONSULTANT_SUBSCRIPTION,
    DR_DIA_SUBSCRIPTION,
    JANE_EVENT_ID,
    fixture_bytes,
    fixture_json,
    notification,
)

pytestmark = pytest.mark.django_db

GRAPH_URLS = ["/booking/consultant", "/booking/practitioner", "/booking/lifecycle"]


def post(client, url, body):
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(url, data=payload, content_type="application/json")


class TestValidationHandshake:
    TOKEN = "Validation: a+b/c=d e <b>&amp;</b> ünï"

    @pytest.mark.parametrize("url", GRAPH_URLS)
    def test_answers_with_the_decoded_token_as_plain_text(self, client, url):
        response = client.post(f"{url}?validationToken={quote(self.TOKEN, safe='')}", data=b"", content_type="")

        assert response.status_code == 200
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response.content == self.TOKEN.encode()

    def test_a_plus_in_the_query_is_a_space_as_graph_encodes_it(self, client):
        response = client.post("/booking/practitioner?validationToken=a+b%2Bc", data=b"", content_type="")
        assert response.content == b"a b+c"

    def test_a_get_with_the_token_is_answered_too(self, client):
        response = client.get("/booking/consultant?validationToken=abc")
        assert (response.status_code, response.content) == (200, b"abc")

    def test_nothing_is_stored(self, client):
        client.post("/booking/practitioner?validationToken=abc", data=b"", content_type="")
        assert not InboundDelivery.objects.exists()


class TestNotifications:
    def test_a_notification_is_stored_and_acknowledged_without_calling_graph(
        self, client, dr_dia_subscription, fake_graph, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = post(client, "/booking/practitioner", fixture_bytes("graph-notification-created.json"))

        assert response.status_code == 202
        assert len(callbacks) == 1, "processing is enqueued after commit"
        assert fake_graph.event_gets == []
        delivery = InboundDelivery.objects.get()
        assert delivery.source == DeliverySource.GRAPH
        assert delivery.status == DeliveryStatus.RECEIVED
        assert delivery.delivery_key == (
            f'{DR_DIA_SUBSCRIPTION}:{JANE_EVENT_ID}:created:W/"DwAAABYAAAB0Kg2lH1ZWRaYmYnx3H6R/AAAUxgmu"'
        )
        assert delivery.headers == {"Content-Type": "application/json"}
        stored = json.loads(bytes(delivery.body))
        assert stored["resourceData"]["id"] == JANE_EVENT_ID
        assert "clientState" not in stored, "the secret is not kept once it has been checked"

    def test_duplicates_in_a_batch_are_stored_once(self, client, dr_dia_subscription, nurse_subscription):
        response = post(client, "/booking/practitioner", fixture_bytes("graph-notification-batch-duplicates.json"))

        assert response.status_code == 202
        keys = sorted(InboundDelivery.objects.values_list("delivery_key", flat=True))
        assert len(keys) == 2
        assert [key.split(":")[2] for key in keys] == ["deleted", "updated"]

    def test_posting_again_stores_nothing_new(self, client, dr_dia_subscription, nurse_subscription):
        body = fixture_bytes("graph-notification-batch-duplicates.json")
        post(client, "/booking/practitioner", body)
        response = post(client, "/booking/practitioner", body)

        assert response.status_code == 202
        assert InboundDelivery.objects.count() == 2

    def test_each_subscription_is_read_once_per_batch(self, client, dr_dia_subscription, nurse_subscription):
        body = fixture_bytes("graph-notification-batch-duplicates.json")
        with CaptureQueriesContext(connection) as queries:
            post(client, "/booking/practitioner", body)

        subscription_reads = [query for query in queries if 'FROM "practitioners_graphsubscription"' in query["sql"]]
        assert len(subscription_reads) == 2

    def test_a_consultant_notification_is_stored_from_the_consultant_url(self, client, consultant_subscription):
        item = notification(
            "created", subscriptionId=CONSULTANT_SUBSCRIPTION, clientState="secretClientValue-consultant"
        )
        assert post(client, "/booking/consultant", {"value": [item]}).status_code == 202
        assert InboundDelivery.objects.count() == 1

    def test_the_database_failing_asks_graph_to_retry(self, client, dr_dia_subscription, monkeypatch):
        def database_down(**kwargs):
            raise DatabaseError("connection lost")

        monkeypatch.setattr(receivers, "delivery_store", database_down)
        response = post(client, "/booking/practitioner", fixture_bytes("graph-notification-created.json"))
        assert response.status_code == 503


class TestRejected:
    @pytest.mark.parametrize(
        ("url", "changes", "reason"),
        [
            ("/booking/practitioner", {"clientState": "secretClientValue-nurse"}, "wrong_client_state"),
            ("/booking/practitioner", {"clientState": ""}, "missing_client_state"),
            ("/booking/practitioner", {"clientState": None}, "missing_client_state"),
            ("/booking/practitioner", {"clientState": ...}, "missing_client_state"),
            (
                "/booking/practitioner",
                {"subscriptionId": "00000000-dead-beef-0000-000000000000"},
                "unknown_subscription",
            ),
            ("/booking/consultant", {}, "wrong_url"),
            ("/booking/lifecycle", {}, "wrong_url"),
            ("/booking/practitioner", {"changeType": "moved"}, "malformed"),
            ("/booking/practitioner", {"resourceData": {"id": ""}}, "malformed"),
        ],
    )
    def test_is_discarded_counted_and_still_acknowledged(
        self, client, dr_dia_subscription, fake_graph, caplog, url, changes, reason
    ):
        item = notification("created", **changes)
        item = {key: value for key, value in item.items() if value is not ...}
        caplog.set_level(logging.WARNING, logger="clinic.graph")

        response = post(client, url, {"value": [item]})

        assert response.status_code == 202
        assert not InboundDelivery.objects.exists()
        assert fake_graph.event_gets == []
        [record] = [record for record in caplog.records if record.getMessage() == "graph notifications rejected"]
        assert record.reasons == {reason: 1}
        assert record.rejected == 1

    def test_a_consultant_subscription_posted_to_the_practitioner_url(self, client, consultant_subscription):
        item = notification(
            "created", subscriptionId=CONSULTANT_SUBSCRIPTION, clientState="secretClientValue-consultant"
        )
        assert post(client, "/booking/practitioner", {"value": [item]}).status_code == 202
        assert not InboundDelivery.objects.exists()

    def test_genuine_notifications_beside_rejected_ones_are_stored(self, client, dr_dia_subscription):
        genuine = notification("created")
        forged = notification("updated", clientState="guessed")
        assert post(client, "/booking/practitioner", {"value": [forged, genuine]}).status_code == 202
        assert InboundDelivery.objects.get().delivery_key.split(":")[2] == "created"


class TestMalformed:
    @pytest.mark.parametrize(
        "body",
        [b"", b"not json", b"\xff\xfe", b"[]", b'{"value": {}}', b'{"other": []}', b'{"value": [1, {}]}'],
    )
    def test_is_refused(self, client, body):
        response = post(client, "/booking/practitioner", body)
        assert response.status_code == 400
        assert "error" in response.json()
        assert not InboundDelivery.objects.exists()

    @pytest.mark.parametrize("method", ["get", "put", "delete"])
    def test_other_methods_are_not_allowed(self, client, method):
        assert getattr(client, method)("/booking/practitioner").status_code == 405


class TestLifecycle:
    @time_machine.travel(datetime(2026, 12, 1, 21, 47, 13, tzinfo=UTC), tick=False)
    def test_lifecycle_notifications_are_stored_as_such(self, client, dr_dia_subscription, nurse_subscription):
        response = post(client, "/booking/lifecycle", fixture_bytes("graph-lifecycle-reauthorization.json"))

        assert response.status_code == 202
        deliveries = InboundDelivery.objects.order_by("delivery_key")
        assert [delivery.source for delivery in deliveries] == [DeliverySource.GRAPH_LIFECYCLE] * 2
        assert [delivery.delivery_key for delivery in deliveries] == [
            "0c6d2b8e-1111-4a8e-8c1d-5e0f9a3b7d21:missed:2026-12-01T23:00:00.0000000Z:2026-12-01T21:40Z",
            "7f105c7d-2dc5-4530-97cd-4e7ae6534c07:reauthorizationRequired:2026-12-01T23:00:00.0000000Z:2026-12-01T21:40Z",
        ]

    def test_a_retry_within_ten_minutes_is_a_duplicate_and_a_later_event_is_new(self, client, nurse_subscription):
        body = json.dumps({"value": [fixture_json("graph-lifecycle-reauthorization.json")["value"][1]]}).encode()
        arrivals = [
            datetime(2026, 12, 1, 21, 40, 0, tzinfo=UTC),
            datetime(2026, 12, 1, 21, 49, 59, tzinfo=UTC),
            datetime(2026, 12, 1, 22, 30, 0, tzinfo=UTC),
        ]

        results = []
        for arrival in arrivals:
            with time_machine.travel(arrival, tick=False):
                results.append(receivers.notifications_accept(body=body, url=receivers.NotificationUrl.LIFECYCLE))

        assert [(result.stored, result.duplicates) for result in results] == [(1, 0), (0, 1), (1, 0)]
        assert InboundDelivery.objects.count() == 2

    def test_the_window_is_read_in_utc(self, client, nurse_subscription):
        body = json.dumps({"value": [fixture_json("graph-lifecycle-reauthorization.json")["value"][1]]}).encode()
        sydney = datetime(2026, 12, 2, 8, 47, tzinfo=ZoneInfo("Australia/Sydney"))

        receivers.notifications_accept(body=body, url=receivers.NotificationUrl.LIFECYCLE, now=sydney)

        assert InboundDelivery.objects.get().delivery_key.endswith(":2026-12-01T21:40Z")

    def test_a_lifecycle_notification_at_its_subscriptions_notification_url_is_accepted(
        self, client, dr_dia_subscription
    ):
        item = fixture_json("graph-lifecycle-reauthorization.json")["value"][0]
        assert post(client, "/booking/practitioner", {"value": [item]}).status_code == 202
        assert InboundDelivery.objects.get().source == DeliverySource.GRAPH_LIFECYCLE

    def test_a_lifecycle_notification_with_the_wrong_secret_is_discarded(self, client, dr_dia_subscription):
        item = fixture_json("graph-lifecycle-reauthorization.json")["value"][0]
        item["clientState"] = "secretClientValue-nurse"
        assert post(client, "/booking/lifecycle", {"value": [item]}).status_code == 202
        assert not InboundDelivery.objects.exists()


class TestHostileInput:
    """Bodies anyone can send; each must be a 4xx or a counted rejection, never a 500."""

    @pytest.mark.parametrize(
        "body",
        [
            b"[" * 100_000,
            b'{"value": [{"subscriptionId": ' + b"1" * 5000 + b"}]}",
            b'{"value": ' + b"[" * 100_000 + b"]}",
        ],
        ids=["deep-nesting", "huge-integer", "deep-value"],
    )
    def test_unparseable_json_is_malformed(self, client, body):
        response = post(client, "/booking/practitioner", body)
        assert response.status_code == 400
        assert not InboundDelivery.objects.exists()

    @pytest.mark.parametrize(
        "subscription_id",
        [
            "\ud800",
            f"{DR_DIA_SUBSCRIPTION}\u0000",
            "a" * 65,
            "7f105c7d 2dc5",
            "7f105c7d-2dc5-4530-97cd-4e7ae6534c07\n",
            "é",
            12345,
        ],
        ids=["lone-surrogate", "nul", "too-long", "space", "newline", "non-ascii", "number"],
    )
    def test_an_odd_subscription_id_is_malformed_and_never_looked_up(
        self, client, dr_dia_subscription, caplog, subscription_id
    ):
        # json.dumps writes a lone surrogate or a NUL as an escape, as any sender may.
        body = {"value": [notification("created", subscriptionId=subscription_id)]}
        caplog.set_level(logging.WARNING, logger="clinic.graph")

        with CaptureQueriesContext(connection) as queries:
            response = post(client, "/booking/practitioner", body)

        assert response.status_code == 202
        assert not InboundDelivery.objects.exists()
        assert not [query for query in queries if "graphsubscription" in query["sql"]]
        [record] = [record for record in caplog.records if record.getMessage() == "graph notifications rejected"]
        assert record.reasons == {"malformed": 1}

    @pytest.mark.parametrize(
        "client_state",
        [
            "\ud800",
            "secretClientValue-dr-di\udc00",
            "sécret",
            # Near misses of the secret, "secretClientValue-dr-dia": only the whole of it, as it is, will do.
            "secretClientValue-dr-di",
            "s",
            "secretClientValue-dr-diaa",
            "secretclientvalue-dr-dia",
            "SECRETCLIENTVALUE-DR-DIA",
            " secretClientValue-dr-dia",
        ],
    )
    def test_an_odd_client_state_is_wrong(self, client, dr_dia_subscription, caplog, client_state):
        caplog.set_level(logging.WARNING, logger="clinic.graph")

        response = post(client, "/booking/practitioner", {"value": [notification("created", clientState=client_state)]})

        assert response.status_code == 202
        assert not InboundDelivery.objects.exists()
        [record] = [record for record in caplog.records if record.getMessage() == "graph notifications rejected"]
        assert record.reasons == {"wrong_client_state": 1}

    def test_a_lone_surrogate_in_a_genuine_notification_is_malformed(self, client, dr_dia_subscription):
        item = notification("created", tenantId="\ud800")

        response = post(client, "/booking/practitioner", {"value": [item]})

        assert response.status_code == 202
        assert not InboundDelivery.objects.exists()

    def test_a_nul_in_the_event_id_is_malformed(self, client, dr_dia_subscription):
        item = notification("created", event_id=f"{JANE_EVENT_ID}\x00")

        response = post(client, "/booking/practitioner", {"value": [item]})

        assert response.status_code == 202
        assert not InboundDelivery.objects.exists()


class TestWorkPerPost:
    def test_more_notifications_than_the_cap_are_refused_whole(self, client, dr_dia_subscription):
        items = [notification("updated", etag=f'W/"v{n}"') for n in range(receivers.NOTIFICATIONS_PER_POST_MAX + 1)]

        with CaptureQueriesContext(connection) as queries:
            response = post(client, "/booking/practitioner", {"value": items})

        assert response.status_code == 400
        assert not InboundDelivery.objects.exists()
        assert not [query for query in queries if "graphsubscription" in query["sql"]]

    def test_the_cap_itself_is_accepted(self, client, dr_dia_subscription):
        items = [notification("updated", etag=f'W/"v{n}"') for n in range(receivers.NOTIFICATIONS_PER_POST_MAX)]
        assert post(client, "/booking/practitioner", {"value": items}).status_code == 202
        assert InboundDelivery.objects.count() == receivers.NOTIFICATIONS_PER_POST_MAX

    def test_unknown_subscriptions_stop_being_looked_up(self, client, dr_dia_subscription, caplog):
        unknown = [notification("created", subscriptionId=f"00000000-0000-0000-0000-{n:012d}") for n in range(50)]
        caplog.set_level(logging.WARNING, logger="clinic.graph")

        with CaptureQueriesContext(connection) as queries:
            response = post(client, "/booking/practitioner", {"value": [*unknown, *unknown]})

        assert response.status_code == 202
        subscription_reads = [query for query in queries if "graphsubscription" in query["sql"]]
        assert len(subscription_reads) == receivers.UNKNOWN_SUBSCRIPTIONS_PER_POST_MAX
        [record] = [record for record in caplog.records if record.getMessage() == "graph notifications rejected"]
        assert record.reasons == {"unknown_subscription": 100}

    def test_a_known_subscription_read_before_the_limit_still_counts(self, client, dr_dia_subscription):
        unknown = [notification("created", subscriptionId=f"00000000-0000-0000-0000-{n:012d}") for n in range(20)]
        genuine = [notification("updated", etag=f'W/"v{n}"') for n in range(2)]

        response = post(client, "/booking/practitioner", {"value": [genuine[0], *unknown, genuine[1]]})

        assert response.status_code == 202
        assert InboundDelivery.objects.count() == 2


class TestHostileBodies:
    def test_nesting_parseable_but_deeper_than_graph_sends_is_malformed(self, client, dr_dia_subscription):
        # Parsed by json.loads, but too deep to store again as JSON without exhausting the stack.
        item = notification("created", deep=json.loads("[" * 900 + "]" * 900))

        response = post(client, "/booking/practitioner", {"value": [item]})

        assert response.status_code == 400
        assert not InboundDelivery.objects.exists()

    @pytest.mark.parametrize("url", GRAPH_URLS)
    def test_a_body_over_the_limit_is_413_with_the_limit_named(self, client, dr_dia_subscription, settings, url):
        body = fixture_bytes("graph-notification-created.json")
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body) - 1

        response = post(client, url, body)

        assert response.status_code == 413
        assert response.json() == {
            "error": f"the body is larger than {len(body) - 1} bytes, the most this service accepts"
        }
        assert not InboundDelivery.objects.exists()

    def test_a_body_at_the_limit_is_accepted(self, client, dr_dia_subscription, settings):
        body = fixture_bytes("graph-notification-created.json")
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body)

        assert post(client, "/booking/practitioner", body).status_code == 202


@pytest.mark.usefixtures("one_rate_limit_window")
class TestRateLimit:
    def test_over_the_limit_is_429_with_retry_after_and_stores_nothing(self, client, dr_dia_subscription, settings):
        settings.RATELIMIT_GRAPH = "3/m"
        for _ in range(3):
            assert post(client, "/booking/practitioner", {"value": []}).status_code == 202

        response = post(client, "/booking/practitioner", fixture_bytes("graph-notification-created.json"))

        assert response.status_code == 429
        assert 1 <= int(response["Retry-After"]) <= 60
        assert not InboundDelivery.objects.exists()

    def test_the_three_urls_share_one_count_per_address(self, client, dr_dia_subscription, settings):
        settings.RATELIMIT_GRAPH = "2/m"
        assert post(client, "/booking/consultant", {"value": []}).status_code == 202
        assert post(client, "/booking/lifecycle", {"value": []}).status_code == 202
        assert post(client, "/booking/practitioner", {"value": []}).status_code == 429
        other = client.post(
            "/booking/practitioner", data=b'{"value": []}', content_type="application/json", REMOTE_ADDR="192.0.2.7"
        )
        assert other.status_code == 202

    def test_the_default_leaves_room_for_a_burst_from_graph(self, client, dr_dia_subscription):
        for _ in range(200):
            assert post(client, "/booking/practitioner", {"value": []}).status_code == 202

    def test_a_cache_that_does_not_answer_lets_notifications_in(self, client, dr_dia_subscription, monkeypatch):
        from django.core.cache import caches

        def broken(*args, **kwargs):
            raise ConnectionError("cache down")

        monkeypatch.setattr(caches["default"], "add", broken)

        response = post(client, "/booking/practitioner", fixture_bytes("graph-notification-created.json"))

        assert response.status_code == 202
        assert InboundDelivery.objects.count() == 1

    def test_a_count_that_expires_between_add_and_incr_lets_the_notification_in(
        self, client, dr_dia_subscription, monkeypatch
    ):
        # Django's cache raises ValueError on incr of a key that has just expired; the limiter
        # must not read that as "over the limit" and refuse a genuine notification.
        from django.core.cache import caches

        def expired(*args, **kwargs):
            raise ValueError("key expired")

        monkeypatch.setattr(caches["default"], "add", lambda *args, **kwargs: False)
        monkeypatch.setattr(caches["default"], "incr", expired)

        response = post(client, "/booking/practitioner", fixture_bytes("graph-notification-created.json"))

        assert response.status_code == 202
        assert InboundDelivery.objects.count() == 1
