import json
from datetime import UTC, datetime, timedelta

import pytest

from bookings.inbox import deliveries
from bookings.models import Booking, BookingStatus, DeliveryStatus, InboundDelivery
from bookings.office365.subscription_lifecycle import (
    SubscriptionUpkeepFailedError,
    calendar_resync,
    due_calendars_resync,
    graph_lifecycle_process,
)
from practitioners.graph import subscriptions
from practitioners.graph.client import (
    DeltaPage,
    GraphDeltaExpiredError,
    GraphNotFoundError,
    GraphServerError,
    GraphThrottledError,
)
from practitioners.models import GraphSubscription, SubscriptionGap
from tests.bookings.conftest import (
    DR_DIA_SUBSCRIPTION,
    NURSE_EVENT_ID,
    NURSE_MAILBOX,
    NURSE_SUBSCRIPTION,
    fixture_bytes,
    fixture_json,
    jane_event,
)
from tests.bookings.factories import BookingFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
DELTA_LINK = "https://graph.microsoft.com/v1.0/users/x/calendarView/delta?$deltatoken=round-2"


def nurse_event(event_id="AAMkNURSE2=", **changes):
    """A Calendly booking in the Nurse's calendar."""
    organizer = {"emailAddress": {"name": "Nurse", "address": "nurse@clinic.example.com.au"}}
    return jane_event(id=event_id, iCalUId=f"ical-{event_id}", organizer=organizer, **changes)


def lifecycle(event, subscription_id=NURSE_SUBSCRIPTION):
    item = fixture_json("graph-lifecycle-reauthorization.json")["value"][1]
    return {**item, "subscriptionId": subscription_id, "lifecycleEvent": event}


class TestReceivedLifecycleNotifications:
    def test_reauthorization_and_missed_notifications_from_the_fixture(
        self,
        client,
        nurse,
        dr_dia_subscription,
        nurse_subscription,
        fake_graph,
        sync_requests,
        django_capture_on_commit_callbacks,
    ):
        cancelled = BookingFactory(practitioner=nurse, o365_event_id=NURSE_EVENT_ID)
        fake_graph.events["AAMkNURSE2="] = nurse_event()
        fake_graph.delta_pages = [
            DeltaPage(events=[nurse_event()], removed_ids=[NURSE_EVENT_ID], delta_link=DELTA_LINK)
        ]

        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/booking/lifecycle",
                data=fixture_bytes("graph-lifecycle-reauthorization.json"),
                content_type="application/json",
            )

        assert response.status_code == 202
        assert {delivery.status for delivery in InboundDelivery.objects.all()} == {DeliveryStatus.PROCESSED}
        assert fake_graph.reauthorized == [DR_DIA_SUBSCRIPTION]
        assert [call["mailbox"] for call in fake_graph.delta_calls] == [NURSE_MAILBOX]
        created = Booking.objects.get(o365_event_id="AAMkNURSE2=")
        assert created.practitioner == nurse
        cancelled.refresh_from_db()
        assert cancelled.status == BookingStatus.CANCELLED
        nurse_subscription.refresh_from_db()
        assert nurse_subscription.delta_link == DELTA_LINK
        assert sorted(sync_requests) == sorted([created.pk, cancelled.pk])
        # Delta items carry only what changed: each is fetched whole, and the removal is
        # confirmed by Graph before the booking is cancelled.
        assert fake_graph.event_gets == ["AAMkNURSE2=", NURSE_EVENT_ID]


class TestLifecycleEvents:
    def test_reauthorization_required_reauthorizes(self, nurse_subscription, fake_graph):
        graph_lifecycle_process(notification=lifecycle("reauthorizationRequired"), client=fake_graph, now=NOW)

        assert fake_graph.reauthorized == [NURSE_SUBSCRIPTION]
        nurse_subscription.refresh_from_db()
        assert nurse_subscription.last_renewed_at == NOW

    def test_subscription_removed_replaces_it_then_resyncs(self, nurse_subscription, fake_graph, settings):
        settings.PUBLIC_BASE_URL = "https://ops.clinic.example.com.au"
        nurse_subscription.delta_link = DELTA_LINK
        nurse_subscription.save()
        next_link = DELTA_LINK.replace("round-2", "round-3")
        fake_graph.events["AAMkNURSE2="] = nurse_event()
        fake_graph.delta_pages = [DeltaPage(events=[nurse_event()], removed_ids=[], delta_link=next_link)]

        graph_lifecycle_process(notification=lifecycle("subscriptionRemoved"), client=fake_graph, now=NOW)

        replacement = GraphSubscription.objects.get()
        assert replacement.graph_id == "new-subscription-1"
        assert fake_graph.created[0]["notification_url"] == "https://ops.clinic.example.com.au/booking/practitioner"
        assert fake_graph.deleted == [NURSE_SUBSCRIPTION]
        assert fake_graph.delta_calls[0]["delta_link"] == DELTA_LINK, "the resync continues where it was"
        assert replacement.delta_link == next_link
        assert Booking.objects.get().o365_event_id == "AAMkNURSE2="

    def test_a_failed_reauthorization_fails_the_delivery_for_a_retry(self, nurse_subscription, fake_graph):
        fake_graph.upkeep_error = GraphThrottledError("POST /subscriptions/{id}/reauthorize: 429", status=429)

        with pytest.raises(SubscriptionUpkeepFailedError, match="GraphThrottled"):
            graph_lifecycle_process(notification=lifecycle("reauthorizationRequired"), client=fake_graph, now=NOW)
        nurse_subscription.refresh_from_db()
        assert nurse_subscription.renewal_failures == 1

    def test_a_resync_failing_after_the_replacement_is_stored_to_be_retried(
        self, nurse_subscription, fake_graph, django_capture_on_commit_callbacks
    ):
        fake_graph.events["AAMkNURSE2="] = nurse_event()
        fake_graph.delta_pages = [
            GraphThrottledError("GET /users/{mailbox}/calendarView/delta: 429", status=429),
            DeltaPage(events=[nurse_event()], removed_ids=[], delta_link=DELTA_LINK),
        ]

        with django_capture_on_commit_callbacks(execute=False):
            graph_lifecycle_process(notification=lifecycle("subscriptionRemoved"), client=fake_graph, now=NOW)

        follow_up = InboundDelivery.objects.get()
        assert follow_up.delivery_key == f"new-subscription-1:missed:replacing:{NURSE_SUBSCRIPTION}"
        assert not Booking.objects.exists()

        deliveries.delivery_process(delivery_id=follow_up.pk)

        follow_up.refresh_from_db()
        assert follow_up.status == DeliveryStatus.PROCESSED
        assert Booking.objects.get().o365_event_id == "AAMkNURSE2="
        assert GraphSubscription.objects.get().delta_link == DELTA_LINK

    def test_missed_resyncs(self, nurse_subscription, fake_graph):
        fake_graph.delta_pages = [DeltaPage(events=[], removed_ids=[], delta_link=DELTA_LINK)]
        graph_lifecycle_process(notification=lifecycle("missed"), client=fake_graph, now=NOW)
        assert len(fake_graph.delta_calls) == 1

    def test_an_unknown_subscription_is_ignored(self, fake_graph):
        with pytest.raises(deliveries.DeliveryIgnoredError, match="subscription is no longer known"):
            graph_lifecycle_process(notification=lifecycle("missed"), client=fake_graph, now=NOW)

    def test_an_unknown_lifecycle_event_is_ignored(self, nurse_subscription, fake_graph):
        with pytest.raises(deliveries.DeliveryIgnoredError, match="not a lifecycle event"):
            graph_lifecycle_process(notification=lifecycle("somethingNew"), client=fake_graph, now=NOW)

    def test_a_replayed_removal_of_a_replaced_subscription_is_ignored(
        self, client, nurse_subscription, fake_graph, django_capture_on_commit_callbacks
    ):
        fake_graph.delta_pages = [DeltaPage(events=[], removed_ids=[], delta_link=DELTA_LINK)]
        body = json.dumps({"value": [lifecycle("subscriptionRemoved")]}).encode()
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/booking/lifecycle", data=body, content_type="application/json")
        with django_capture_on_commit_callbacks(execute=True):
            deliveries.delivery_replay(delivery_ids=InboundDelivery.objects.values_list("pk", flat=True))

        delivery = InboundDelivery.objects.get()
        assert (delivery.status, delivery.last_error) == (DeliveryStatus.IGNORED, "the subscription is no longer known")
        assert len(fake_graph.created) == 1


class TestCalendarResync:
    def test_reads_from_yesterday_to_the_configured_days_ahead(self, nurse_subscription, fake_graph, settings):
        settings.GRAPH_RESYNC_DAYS_AHEAD = 30
        fake_graph.delta_pages = [DeltaPage(events=[], removed_ids=[], delta_link=DELTA_LINK)]

        calendar_resync(subscription=nurse_subscription, client=fake_graph, now=NOW)

        assert fake_graph.delta_calls == [
            {
                "mailbox": NURSE_MAILBOX,
                "start": NOW - timedelta(days=1),
                "end": NOW + timedelta(days=30),
                "delta_link": "",
            }
        ]

    def test_counts_outcomes_and_skips_what_is_not_a_booking(self, nurse, nurse_subscription, fake_graph):
        BookingFactory(practitioner=nurse, o365_event_id="AAMkGONE=", status=BookingStatus.CANCELLED)
        events = [nurse_event(), nurse_event("AAMkPRIVATE=", sensitivity="private")]
        fake_graph.events.update({event["id"]: event for event in events})
        fake_graph.delta_pages = [
            DeltaPage(events=events, removed_ids=["AAMkGONE=", "AAMkNEVER="], delta_link=DELTA_LINK)
        ]

        outcomes = calendar_resync(subscription=nurse_subscription, client=fake_graph, now=NOW)

        assert outcomes == {"created": 1, "not_a_booking": 1, "already_cancelled": 1, "no_booking": 1}

    def test_the_same_changes_twice_change_nothing(
        self, nurse_subscription, fake_graph, sync_requests, django_capture_on_commit_callbacks
    ):
        page = DeltaPage(events=[nurse_event()], removed_ids=[], delta_link=DELTA_LINK)
        fake_graph.events["AAMkNURSE2="] = nurse_event()
        fake_graph.delta_pages = [page, page]
        with django_capture_on_commit_callbacks(execute=True):
            calendar_resync(subscription=nurse_subscription, client=fake_graph, now=NOW)
            outcomes = calendar_resync(subscription=nurse_subscription, client=fake_graph, now=NOW)

        assert outcomes == {"unchanged": 1}
        assert len(sync_requests) == 1
        assert fake_graph.delta_calls[1]["delta_link"] == DELTA_LINK

    def test_an_expired_delta_link_starts_over(self, nurse_subscription, fake_graph):
        nurse_subscription.delta_link = DELTA_LINK
        nurse_subscription.save()
        fresh_link = DELTA_LINK.replace("round-2", "fresh")
        fake_graph.delta_pages = [
            GraphDeltaExpiredError("GET /users/{mailbox}/calendarView/delta: 410", status=410),
            DeltaPage(events=[], removed_ids=[], delta_link=fresh_link),
        ]

        calendar_resync(subscription=nurse_subscription, client=fake_graph, now=NOW)

        assert [call["delta_link"] for call in fake_graph.delta_calls] == [DELTA_LINK, ""]
        nurse_subscription.refresh_from_db()
        assert nurse_subscription.delta_link == fresh_link

    def test_a_failure_half_way_keeps_the_old_delta_link(self, nurse_subscription, fake_graph, monkeypatch):
        from bookings.office365 import processing

        def broken(**kwargs):
            raise RuntimeError("database gone")

        monkeypatch.setattr(processing, "booking_upsert_from_event", broken)
        fake_graph.events["AAMkNURSE2="] = nurse_event()
        fake_graph.delta_pages = [DeltaPage(events=[nurse_event()], removed_ids=[], delta_link=DELTA_LINK)]

        with pytest.raises(RuntimeError):
            calendar_resync(subscription=nurse_subscription, client=fake_graph, now=NOW)
        nurse_subscription.refresh_from_db()
        assert nurse_subscription.delta_link == ""


class TestResyncReadsEachChangedEvent:
    """Delta items are partial ("at least the properties that have been updated")."""

    def test_a_partial_delta_item_is_fetched_and_applied_whole(self, nurse, nurse_subscription, fake_graph):
        partial = fixture_json("graph-calendar-delta-page-1.json")["value"][0]
        assert "attendees" not in partial
        assert "body" not in partial
        fake_graph.events[partial["id"]] = nurse_event(partial["id"])
        fake_graph.delta_pages = [DeltaPage(events=[partial], removed_ids=[], delta_link=DELTA_LINK)]

        outcomes = calendar_resync(subscription=nurse_subscription, client=fake_graph, now=NOW)

        assert outcomes == {"created": 1}
        assert fake_graph.event_gets == [partial["id"]]
        booking = Booking.objects.get()
        assert booking.patient.email == "jane.citizen@example.com.au"
        assert booking.calendly_cancel_url.startswith("https://calendly.com/")

    def test_a_partial_item_of_a_known_booking_does_not_empty_it(self, nurse, nurse_subscription, fake_graph):
        full = nurse_event()
        fake_graph.events[full["id"]] = full
        fake_graph.delta_pages = [
            DeltaPage(events=[full], removed_ids=[], delta_link=DELTA_LINK),
            DeltaPage(events=[{"id": full["id"], "subject": "renamed"}], removed_ids=[], delta_link=DELTA_LINK),
        ]
        calendar_resync(subscription=nurse_subscription, client=fake_graph, now=NOW)

        outcomes = calendar_resync(subscription=nurse_subscription, client=fake_graph, now=NOW)

        assert outcomes == {"unchanged": 1}
        assert Booking.objects.get().status == BookingStatus.BOOKED

    def test_a_removal_cancels_only_once_graph_says_the_event_is_gone(self, nurse, nurse_subscription, fake_graph):
        moved_away = BookingFactory(practitioner=nurse, o365_event_id="AAMkNURSE2=")
        gone = BookingFactory(practitioner=nurse, o365_event_id=NURSE_EVENT_ID)
        fake_graph.events["AAMkNURSE2="] = nurse_event()
        fake_graph.delta_pages = [
            DeltaPage(events=[], removed_ids=["AAMkNURSE2=", NURSE_EVENT_ID], delta_link=DELTA_LINK)
        ]

        calendar_resync(subscription=nurse_subscription, client=fake_graph, now=NOW)

        moved_away.refresh_from_db()
        gone.refresh_from_db()
        assert moved_away.status == BookingStatus.BOOKED, "the event still exists, so it is applied as it is"
        assert gone.status == BookingStatus.CANCELLED

    def test_a_removal_with_any_other_404_cancels_nothing_and_fails_the_resync(
        self, nurse, nurse_subscription, fake_graph
    ):
        booking = BookingFactory(practitioner=nurse, o365_event_id=NURSE_EVENT_ID)
        fake_graph.errors[NURSE_EVENT_ID] = GraphNotFoundError(
            "GET /users/{mailbox}/events/{id}: 404 ErrorInvalidUser", status=404, code="ErrorInvalidUser"
        )
        fake_graph.delta_pages = [DeltaPage(events=[], removed_ids=[NURSE_EVENT_ID], delta_link=DELTA_LINK)]

        with pytest.raises(GraphNotFoundError):
            calendar_resync(subscription=nurse_subscription, client=fake_graph, now=NOW)

        booking.refresh_from_db()
        assert booking.status == BookingStatus.BOOKED
        nurse_subscription.refresh_from_db()
        assert nurse_subscription.delta_link == "", "the resync is repeated whole"

    def test_items_without_an_id_are_skipped(self, nurse, nurse_subscription, fake_graph):
        BookingFactory(practitioner=nurse, o365_event_id="")
        fake_graph.delta_pages = [
            DeltaPage(events=[{"subject": "no id"}, {"id": ""}], removed_ids=[""], delta_link=DELTA_LINK)
        ]

        outcomes = calendar_resync(subscription=nurse_subscription, client=fake_graph, now=NOW)

        assert outcomes == {}
        assert fake_graph.event_gets == []
        assert Booking.objects.get().status == BookingStatus.BOOKED

    def test_reads_the_calendar_the_subscription_watches(self, nurse, nurse_subscription, fake_graph):
        nurse_subscription.resource = "users/nurse.old@clinic.example.com.au/calendars/CAL-1/events"
        nurse_subscription.save()
        nurse.o365_mailbox = "nurse.new@clinic.example.com.au"
        nurse.save()
        fake_graph.delta_pages = [DeltaPage(events=[], removed_ids=[], delta_link=DELTA_LINK)]

        calendar_resync(subscription=nurse_subscription, client=fake_graph, now=NOW)

        assert fake_graph.delta_calls[0]["mailbox"] == "nurse.old@clinic.example.com.au"


class TestRequestedResyncs:
    """A subscription Graph had dropped is recreated with a request to read its calendar again."""

    def test_a_requested_resync_makes_the_missed_bookings_and_clears_the_request(
        self, nurse_subscription, fake_graph, sync_requests, django_capture_on_commit_callbacks
    ):
        nurse_subscription.resync_requested_at = NOW
        nurse_subscription.save()
        fake_graph.events["AAMkNURSE2="] = nurse_event()
        fake_graph.delta_pages = [DeltaPage(events=[nurse_event()], removed_ids=[], delta_link=DELTA_LINK)]

        with django_capture_on_commit_callbacks(execute=True):
            assert due_calendars_resync(client=fake_graph, now=NOW) == 1

        booking = Booking.objects.get(o365_event_id="AAMkNURSE2=")
        assert sync_requests == [booking.pk], "the missed booking is pushed to MediRecords"
        nurse_subscription.refresh_from_db()
        assert nurse_subscription.resync_requested_at is None
        assert nurse_subscription.delta_link == DELTA_LINK
        # Nothing asked for any more: the next round reads nothing.
        assert due_calendars_resync(client=fake_graph, now=NOW) == 0
        assert len(fake_graph.delta_calls) == 1

    def test_a_failing_resync_stays_requested(self, nurse_subscription, fake_graph):
        nurse_subscription.resync_requested_at = NOW
        nurse_subscription.save()
        fake_graph.delta_pages = [GraphServerError("GET /users/{mailbox}/calendarView/delta: 503", status=503)]

        assert due_calendars_resync(client=fake_graph, now=NOW) == 0

        nurse_subscription.refresh_from_db()
        assert nurse_subscription.resync_requested_at == NOW

    def test_subscriptions_not_asking_are_not_read(self, nurse_subscription, fake_graph):
        assert due_calendars_resync(client=fake_graph, now=NOW) == 0
        assert fake_graph.delta_calls == []


class TestFirstImport:
    """A calendar subscribed for the first time: the events already in it become bookings."""

    def test_the_default_horizon_reaches_a_year_ahead(self, nurse_subscription, fake_graph):
        fake_graph.delta_pages = [DeltaPage(events=[], removed_ids=[], delta_link=DELTA_LINK)]

        calendar_resync(subscription=nurse_subscription, client=fake_graph, now=NOW)

        assert fake_graph.delta_calls[0]["end"] == NOW + timedelta(days=365)

    def test_an_event_booked_before_the_subscription_becomes_a_booking_and_the_import_is_recorded(
        self, nurse, fake_graph, sync_requests, django_capture_on_commit_callbacks
    ):
        far_ahead = (NOW + timedelta(days=200)).replace(microsecond=0)
        event = nurse_event(
            start={"dateTime": far_ahead.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"},
            end={
                "dateTime": (far_ahead + timedelta(minutes=45)).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
                "timeZone": "UTC",
            },
        )
        fake_graph.events[event["id"]] = event
        fake_graph.delta_pages = [DeltaPage(events=[event], removed_ids=[], delta_link=DELTA_LINK)]
        subscription = subscriptions.graph_subscription_create(practitioner=nurse, client=fake_graph, now=NOW)

        with django_capture_on_commit_callbacks(execute=True):
            assert due_calendars_resync(client=fake_graph, now=NOW) == 1

        booking = Booking.objects.get(o365_event_id=event["id"])
        assert booking.starts_at == far_ahead
        assert sync_requests == [booking.pk]
        subscription.refresh_from_db()
        assert (subscription.calendar_imported_at, subscription.resync_requested_at) == (NOW, None)

    def test_a_resync_from_a_delta_link_is_not_an_import(self, nurse_subscription, fake_graph):
        nurse_subscription.delta_link = DELTA_LINK
        nurse_subscription.save()
        fake_graph.delta_pages = [DeltaPage(events=[], removed_ids=[], delta_link=DELTA_LINK)]

        calendar_resync(subscription=nurse_subscription, client=fake_graph, now=NOW)

        nurse_subscription.refresh_from_db()
        assert nurse_subscription.calendar_imported_at is None

    def test_a_resync_that_had_to_start_over_is_an_import(self, nurse_subscription, fake_graph):
        nurse_subscription.delta_link = DELTA_LINK
        nurse_subscription.save()
        fake_graph.delta_pages = [
            GraphDeltaExpiredError("GET /users/{mailbox}/calendarView/delta: 410", status=410),
            DeltaPage(events=[], removed_ids=[], delta_link=DELTA_LINK),
        ]

        calendar_resync(subscription=nurse_subscription, client=fake_graph, now=NOW)

        nurse_subscription.refresh_from_db()
        assert nurse_subscription.calendar_imported_at == NOW


class TestGapRecovery:
    def test_the_resync_of_a_recreated_subscription_closes_the_calendars_gap(
        self, nurse, nurse_subscription, fake_graph
    ):
        fake_graph.held = []  # Graph forgot the subscription
        report = subscriptions.graph_subscriptions_check(client=fake_graph, now=NOW)
        assert report.created == ["nurse"]
        gap = SubscriptionGap.objects.get(practitioner=nurse)
        assert gap.recovered_at is None
        fake_graph.delta_pages = [DeltaPage(events=[], removed_ids=[], delta_link=DELTA_LINK)]

        assert due_calendars_resync(client=fake_graph, now=NOW + timedelta(seconds=30)) == 1

        gap.refresh_from_db()
        assert gap.recovered_at == NOW + timedelta(seconds=30)

    def test_a_failed_resync_leaves_the_gap_open(self, nurse, nurse_subscription, fake_graph):
        subscriptions.graph_subscriptions_check(client=fake_graph, now=NOW)
        fake_graph.delta_pages = [GraphServerError("GET /users/{mailbox}/calendarView/delta: 503", status=503)]

        assert due_calendars_resync(client=fake_graph, now=NOW) == 0

        assert SubscriptionGap.objects.get(practitioner=nurse).recovered_at is None
