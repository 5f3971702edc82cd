import json
import logging
from datetime import UTC, date, datetime

import pytest

from bookings.inbox import deliveries
from bookings.models import (
    Booking,
    BookingKind,
    BookingStatus,
    DeliveryStatus,
    InboundDelivery,
    Patient,
    PaymentStatus,
)
from bookings.office365.processing import booking_cancel_for_event, booking_upsert_from_event
from practitioners.graph.client import GraphNotFoundError, GraphServerError
from tests.bookings.conftest import (
    CONSULTANT_MAILBOX,
    CONSULTANT_SUBSCRIPTION,
    JANE_EVENT_ID,
    NURSE_EVENT_ID,
    FakeGraph,
    fixture_bytes,
    jane_event,
    notification,
)
from tests.bookings.factories import BookingFactory, PatientFactory
from tests.concurrency import run_together
from tests.conftest import requires_postgresql

pytestmark = pytest.mark.django_db

CREATED_ETAG = 'W/"DwAAABYAAAB0Kg2lH1ZWRaYmYnx3H6R/AAAUxgmu"'
UPDATED_ETAG = 'W/"DwAAABYAAAB0Kg2lH1ZWRaYmYnx3H6R/AAAUxgmv"'


@pytest.fixture(autouse=True)
def _sync_requests_recorded(sync_requests):
    """Processing is tested here: the MediRecords push it asks for is recorded, not made (the
    test_sync_* modules push to a sandbox of their own)."""


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """POST to a Graph URL and run what the commit enqueues (processing, then the sync requests)."""

    def post(body, url="/booking/practitioner"):
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, data=payload, content_type="application/json")
        assert response.status_code == 202
        return response

    return post


def delivery_statuses():
    return sorted((delivery.status, delivery.last_error) for delivery in InboundDelivery.objects.all())


class TestNewBooking:
    def test_the_created_notification_becomes_janes_paid_booking(
        self, post, dr_dia_subscription, dr_dia, fake_graph, sync_requests
    ):
        fake_graph.events[JANE_EVENT_ID] = jane_event()

        post(fixture_bytes("graph-notification-created.json"))

        delivery = InboundDelivery.objects.get()
        assert delivery.status == DeliveryStatus.PROCESSED
        booking = Booking.objects.get()
        assert booking.practitioner == dr_dia
        assert (booking.kind, booking.payment_status, booking.status) == (
            BookingKind.PAID,
            PaymentStatus.PENDING,
            BookingStatus.BOOKED,
        )
        assert booking.starts_at == datetime(2026, 12, 3, 23, 30, tzinfo=UTC)
        assert booking.ends_at == datetime(2026, 12, 4, 0, 15, tzinfo=UTC)
        assert booking.reason == "Review of blood results"
        assert booking.calendly_cancel_url == "https://calendly.com/cancellations/0f3c2a1e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
        assert booking.calendly_reschedule_url == (
            "https://calendly.com/reschedulings/0f3c2a1e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
        )
        assert booking.o365_event_id == JANE_EVENT_ID
        assert booking.o365_ical_uid == jane_event()["iCalUId"]
        assert booking.o365_etag == CREATED_ETAG
        assert booking.intake_warnings == []
        patient = booking.patient
        assert (patient.first_name, patient.last_name, patient.email) == (
            "Jane",
            "Citizen",
            "jane.citizen@example.com.au",
        )
        assert patient.mobile == "+61412345678"
        assert patient.date_of_birth == date(1980, 2, 29)
        assert patient.medirecords_patient_id == ""
        assert fake_graph.event_gets == [JANE_EVENT_ID]
        assert sync_requests == [booking.pk]

    def test_a_long_last_name_is_stored_whole(self, post, dr_dia_subscription, fake_graph, sync_requests):
        # Longer than MediRecords is taken to hold: the sync flags it; here nothing is cut.
        long_last_name = "Citizen" + "x" * 193
        attendee = {"type": "required", "emailAddress": {"name": f"Jane {long_last_name}", "address": "jane@x.com"}}
        fake_graph.events[JANE_EVENT_ID] = jane_event(attendees=[attendee])

        post(fixture_bytes("graph-notification-created.json"))

        patient = Booking.objects.get().patient
        assert (patient.first_name, patient.last_name) == ("Jane", long_last_name)

    def test_a_free_initial_consultation_needs_no_payment(self, process, consultant_subscription, fake_graph):
        organizer = {"emailAddress": {"name": "Consultant", "address": CONSULTANT_MAILBOX}}
        fake_graph.events[JANE_EVENT_ID] = jane_event(organizer=organizer)

        process(notification("created", subscriptionId=CONSULTANT_SUBSCRIPTION))

        booking = Booking.objects.get()
        assert (booking.kind, booking.payment_status) == (BookingKind.FREE_INITIAL, PaymentStatus.NOT_REQUIRED)

    def test_logs_carry_no_patient_data(self, post, dr_dia_subscription, fake_graph, caplog):
        fake_graph.events[JANE_EVENT_ID] = jane_event()
        caplog.set_level(logging.DEBUG)

        post(fixture_bytes("graph-notification-created.json"))

        standard = set(vars(logging.makeLogRecord({})))
        logged = " ".join(
            f"{record.getMessage()} {[value for key, value in vars(record).items() if key not in standard]}"
            for record in caplog.records
        )
        # The date of birth as it could be written; not a bare "1980", which task ids and
        # durations may contain by chance.
        for secret in ("Jane", "Citizen", "jane.citizen", "412 345", "412345", "29/02/1980", "1980-02-29", "blood"):
            assert secret not in logged

    def test_an_existing_patient_is_found_and_only_gains_what_it_lacked(self, process, dr_dia_subscription, fake_graph):
        known = PatientFactory(
            first_name="JANE", last_name="CITIZEN", email="Jane.Citizen@Example.com.au", mobile="", date_of_birth=None
        )
        fake_graph.events[JANE_EVENT_ID] = jane_event()

        process(notification("created"))

        assert Patient.objects.get() == known
        known.refresh_from_db()
        assert known.first_name == "JANE", "a name we hold is never overwritten"
        assert (known.mobile, known.date_of_birth) == ("+61412345678", date(1980, 2, 29))
        assert Booking.objects.get().patient == known

    def test_unreadable_answers_are_left_empty_and_noted(self, process, dr_dia_subscription, fake_graph):
        body = (
            "<p>Mobile number: 12345</p><p>Date of birth: 31/02/1980</p><p>Cancel: javascript:alert(1)</p>"
            "<p>Powered by Calendly.com</p>"
        )
        fake_graph.events[JANE_EVENT_ID] = jane_event(body={"contentType": "html", "content": body})

        process(notification("created"))

        booking = Booking.objects.get()
        assert booking.intake_warnings == ["mobile_invalid", "date_of_birth_invalid", "calendly_url_invalid"]
        assert (booking.patient.mobile, booking.patient.date_of_birth) == ("", None)
        assert booking.calendly_cancel_url == ""
        assert booking.reason == ""


class TestBatch:
    def test_duplicates_fetch_once_and_the_deletion_cancels_the_nurses_booking(
        self, post, dr_dia, nurse, dr_dia_subscription, nurse_subscription, fake_graph, sync_requests
    ):
        nurse_booking = BookingFactory(practitioner=nurse, o365_event_id=NURSE_EVENT_ID)
        fake_graph.events[JANE_EVENT_ID] = jane_event(**{"@odata.etag": UPDATED_ETAG})

        post(fixture_bytes("graph-notification-batch-duplicates.json"))

        assert InboundDelivery.objects.count() == 2
        assert {delivery.status for delivery in InboundDelivery.objects.all()} == {DeliveryStatus.PROCESSED}
        assert fake_graph.event_gets == [JANE_EVENT_ID]
        jane_booking = Booking.objects.get(practitioner=dr_dia)
        nurse_booking.refresh_from_db()
        assert nurse_booking.status == BookingStatus.CANCELLED
        assert nurse_booking.cancelled_at is not None
        assert sorted(sync_requests) == sorted([jane_booking.pk, nurse_booking.pk])

    @pytest.mark.usefixtures("dr_dia_subscription", "nurse_subscription")
    def test_repeating_any_delivery_changes_nothing(
        self, post, nurse, fake_graph, sync_requests, django_capture_on_commit_callbacks
    ):
        BookingFactory(practitioner=nurse, o365_event_id=NURSE_EVENT_ID)
        fake_graph.events[JANE_EVENT_ID] = jane_event(**{"@odata.etag": UPDATED_ETAG})
        body = fixture_bytes("graph-notification-batch-duplicates.json")
        post(body)
        seen = (Booking.objects.count(), Patient.objects.count(), InboundDelivery.objects.count())
        bookings_before = list(Booking.objects.order_by("pk").values())
        syncs, fetches = len(sync_requests), len(fake_graph.event_gets)

        post(body)
        with django_capture_on_commit_callbacks(execute=True):
            deliveries.delivery_replay(delivery_ids=InboundDelivery.objects.values_list("pk", flat=True))

        assert (Booking.objects.count(), Patient.objects.count(), InboundDelivery.objects.count()) == seen
        assert list(Booking.objects.order_by("pk").values()) == bookings_before
        assert len(sync_requests) == syncs
        assert len(fake_graph.event_gets) == fetches
        assert delivery_statuses() == [
            (DeliveryStatus.IGNORED, "the booking is cancelled, and cancellation is final"),
            (DeliveryStatus.IGNORED, "this version of the event is already applied"),
        ]


class TestOutOfOrder:
    def test_created_after_the_event_was_deleted_makes_no_booking(self, post, dr_dia_subscription, fake_graph):
        post(fixture_bytes("graph-notification-created.json"))

        assert not Booking.objects.exists()
        assert delivery_statuses() == [(DeliveryStatus.IGNORED, "no booking for this event")]

    def test_created_after_updated_converges_on_the_current_event(self, process, dr_dia_subscription, fake_graph):
        fake_graph.events[JANE_EVENT_ID] = jane_event()
        process(notification("updated", etag=CREATED_ETAG))

        with pytest.raises(deliveries.DeliveryIgnoredError, match="already applied"):
            process(notification("created", etag=CREATED_ETAG))
        assert Booking.objects.count() == 1
        assert fake_graph.event_gets == [JANE_EVENT_ID]

    def test_a_new_time_is_a_reschedule(self, process, dr_dia_subscription, fake_graph, sync_requests):
        fake_graph.events[JANE_EVENT_ID] = jane_event()
        process(notification("created", etag=CREATED_ETAG))
        fake_graph.events[JANE_EVENT_ID] = jane_event(
            **{"@odata.etag": 'W/"v2"', "lastModifiedDateTime": "2026-11-25T01:00:00.0000000Z"},
            start={"dateTime": "2026-12-04T23:30:00.0000000", "timeZone": "UTC"},
            end={"dateTime": "2026-12-05T00:15:00.0000000", "timeZone": "UTC"},
        )

        result = process(notification("updated", etag='W/"v2"'))

        booking = Booking.objects.get()
        assert result.change == "rescheduled"
        assert booking.starts_at == datetime(2026, 12, 4, 23, 30, tzinfo=UTC)
        assert booking.ends_at == datetime(2026, 12, 5, 0, 15, tzinfo=UTC)
        assert (booking.reschedule_count, booking.status) == (1, BookingStatus.BOOKED)
        assert booking.rescheduled_at is not None
        assert sync_requests == [booking.pk, booking.pk]

    def test_an_update_that_changes_nothing_requests_no_sync(
        self, process, dr_dia_subscription, fake_graph, sync_requests
    ):
        fake_graph.events[JANE_EVENT_ID] = jane_event()
        process(notification("created", etag=CREATED_ETAG))
        fake_graph.events[JANE_EVENT_ID] = jane_event(subject="Renamed by the practitioner", **{"@odata.etag": "v2"})

        result = process(notification("updated", etag="v2"))

        assert result.change == "unchanged"
        assert len(sync_requests) == 1
        assert Booking.objects.get().o365_etag == "v2"

    def test_an_older_version_fetched_late_changes_nothing(self, process, dr_dia_subscription, fake_graph):
        newer = {"@odata.etag": "v3", "lastModifiedDateTime": "2026-11-26T00:00:00Z"}
        fake_graph.events[JANE_EVENT_ID] = jane_event(**newer)
        process(notification("updated", etag="v3"))
        fake_graph.events[JANE_EVENT_ID] = jane_event(
            start={"dateTime": "2026-12-10T23:30:00.0000000", "timeZone": "UTC"},
            end={"dateTime": "2026-12-11T00:15:00.0000000", "timeZone": "UTC"},
            **{"@odata.etag": "v2", "lastModifiedDateTime": "2026-11-25T00:00:00Z"},
        )

        with pytest.raises(deliveries.DeliveryIgnoredError, match="newer version"):
            process(notification("updated", etag="v2"))
        assert Booking.objects.get().starts_at == datetime(2026, 12, 3, 23, 30, tzinfo=UTC)

    def test_is_cancelled_cancels_and_a_later_update_leaves_it_cancelled(
        self, process, dr_dia_subscription, fake_graph, sync_requests
    ):
        fake_graph.events[JANE_EVENT_ID] = jane_event()
        process(notification("created", etag=CREATED_ETAG))
        fake_graph.events[JANE_EVENT_ID] = jane_event(isCancelled=True, **{"@odata.etag": "v2"})
        process(notification("updated", etag="v2"))
        assert Booking.objects.get().status == BookingStatus.CANCELLED

        fake_graph.events[JANE_EVENT_ID] = jane_event(isCancelled=False, **{"@odata.etag": "v3"})
        with pytest.raises(deliveries.DeliveryIgnoredError, match="cancellation is final"):
            process(notification("updated", etag="v3"))

        assert Booking.objects.get().status == BookingStatus.CANCELLED
        assert len(sync_requests) == 2
        assert fake_graph.event_gets == [JANE_EVENT_ID, JANE_EVENT_ID], "a cancelled booking needs no fetch"

    def test_a_late_update_after_a_resync_cancelled_it_does_not_resurrect(
        self, dr_dia, process, dr_dia_subscription, fake_graph
    ):
        BookingFactory(
            practitioner=dr_dia, o365_event_id=JANE_EVENT_ID, status=BookingStatus.CANCELLED, o365_etag="old"
        )
        fake_graph.events[JANE_EVENT_ID] = jane_event()

        with pytest.raises(deliveries.DeliveryIgnoredError, match="cancellation is final"):
            process(notification("created", etag=CREATED_ETAG))
        assert Booking.objects.get().status == BookingStatus.CANCELLED

    def test_a_deleted_event_cancels_its_booking_once(self, process, dr_dia, dr_dia_subscription, sync_requests):
        booking = BookingFactory(practitioner=dr_dia, o365_event_id=JANE_EVENT_ID)
        process(notification("deleted"))
        with pytest.raises(deliveries.DeliveryIgnoredError, match="cancellation is final"):
            process(notification("deleted", etag='W/"other"'))

        booking.refresh_from_db()
        assert booking.status == BookingStatus.CANCELLED
        assert sync_requests == [booking.pk]

    def test_a_deletion_never_cancels_another_practitioners_booking(self, process, nurse, dr_dia_subscription):
        booking = BookingFactory(practitioner=nurse, o365_event_id=JANE_EVENT_ID)
        with pytest.raises(deliveries.DeliveryIgnoredError, match="no booking for this event"):
            process(notification("deleted"))
        booking.refresh_from_db()
        assert booking.status == BookingStatus.BOOKED

    def test_the_same_icaluid_under_a_new_event_id_is_the_same_booking(
        self, process, dr_dia, dr_dia_subscription, fake_graph
    ):
        booking = BookingFactory(
            practitioner=dr_dia,
            o365_event_id="AAMkOLDID=",
            o365_ical_uid=jane_event()["iCalUId"],
            starts_at=datetime(2026, 12, 3, 23, 30, tzinfo=UTC),
            ends_at=datetime(2026, 12, 4, 0, 15, tzinfo=UTC),
        )
        fake_graph.events[JANE_EVENT_ID] = jane_event()

        process(notification("created"))

        booking.refresh_from_db()
        assert Booking.objects.count() == 1
        assert booking.o365_event_id == JANE_EVENT_ID
        assert booking.reschedule_count == 0
        assert booking.payment_status == PaymentStatus.PAID, "a payment already known is kept"


class TestNotAPatientsBooking:
    @pytest.mark.parametrize(
        ("changes", "reason"),
        [
            ({"attendees": []}, "the event has no attendee other than the practitioner"),
            (
                {"attendees": [{"type": "required", "emailAddress": {"address": "DR.DIA@clinic.example.com.au"}}]},
                "the event has no attendee other than the practitioner",
            ),
            (
                {"attendees": [{"type": "resource", "emailAddress": {"address": "room-1@clinic.example.com.au"}}]},
                "the event has no attendee other than the practitioner",
            ),
            ({"sensitivity": "private"}, "a private event"),
            ({"showAs": "free"}, "an event shown as free"),
            ({"showAs": "oof"}, "an event shown as oof"),
            ({"isAllDay": True}, "an all-day event"),
            ({"type": "seriesMaster"}, "a recurring series"),
            ({"type": "occurrence", "attendees": []}, "the event has no attendee other than the practitioner"),
        ],
    )
    def test_is_ignored_with_its_reason(self, post, dr_dia_subscription, fake_graph, sync_requests, changes, reason):
        fake_graph.events[JANE_EVENT_ID] = jane_event(**changes)

        post(fixture_bytes("graph-notification-created.json"))

        assert delivery_statuses() == [(DeliveryStatus.IGNORED, f"not a patient's booking: {reason}")]
        assert not Booking.objects.exists()
        assert not Patient.objects.exists()
        assert sync_requests == []

    def test_a_cancelled_event_without_a_booking_is_ignored(self, process, dr_dia_subscription, fake_graph):
        fake_graph.events[JANE_EVENT_ID] = jane_event(isCancelled=True)
        with pytest.raises(deliveries.DeliveryIgnoredError, match="cancelled event with no booking"):
            process(notification("updated"))


class TestFailures:
    def test_a_transient_graph_error_fails_the_delivery_for_a_later_retry(self, post, dr_dia_subscription, fake_graph):
        fake_graph.errors[JANE_EVENT_ID] = GraphServerError("GET /users/{mailbox}/events/{id}: 502", status=502)
        post(fixture_bytes("graph-notification-created.json"))

        delivery = InboundDelivery.objects.get()
        assert delivery.status == DeliveryStatus.FAILED
        assert delivery.last_error.startswith("GraphServerError")
        assert not Booking.objects.exists()

        del fake_graph.errors[JANE_EVENT_ID]
        fake_graph.events[JANE_EVENT_ID] = jane_event()
        deliveries.delivery_process(delivery_id=delivery.pk)
        assert Booking.objects.count() == 1

    def test_a_subscription_gone_since_is_ignored(
        self, post, dr_dia_subscription, fake_graph, django_capture_on_commit_callbacks, client
    ):
        with django_capture_on_commit_callbacks(execute=False):
            client.post(
                "/booking/practitioner",
                data=fixture_bytes("graph-notification-created.json"),
                content_type="application/json",
            )
        dr_dia_subscription.delete()

        deliveries.delivery_process(delivery_id=InboundDelivery.objects.get().pk)

        assert delivery_statuses() == [(DeliveryStatus.IGNORED, "the subscription is no longer known")]
        assert fake_graph.event_gets == []


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_workers_applying_one_event_at_once_make_one_booking(dr_dia, sync_requests):
    workers = 4
    changes, errors = run_together(
        lambda: booking_upsert_from_event(practitioner=dr_dia, event=jane_event()).change, threads=workers
    )

    assert errors == []
    assert sorted(changes) == ["created"] + ["unchanged"] * (workers - 1)
    assert Booking.objects.count() == 1
    assert Patient.objects.count() == 1
    assert len(sync_requests) == 1


class TestEventFetch:
    def test_a_404_about_the_mailbox_fails_the_delivery_and_cancels_nothing(
        self, post, dr_dia, dr_dia_subscription, fake_graph, sync_requests
    ):
        booking = BookingFactory(practitioner=dr_dia, o365_event_id=JANE_EVENT_ID)
        fake_graph.errors[JANE_EVENT_ID] = GraphNotFoundError(
            "GET /users/{mailbox}/events/{id}: 404 ErrorInvalidUser", status=404, code="ErrorInvalidUser"
        )

        post(fixture_bytes("graph-notification-created.json"))

        delivery = InboundDelivery.objects.get()
        assert delivery.status == DeliveryStatus.FAILED
        assert delivery.last_error.startswith("GraphNotFound")
        booking.refresh_from_db()
        assert booking.status == BookingStatus.BOOKED
        assert sync_requests == []

    def test_a_404_without_a_code_cancels_nothing(self, process, dr_dia, dr_dia_subscription, fake_graph):
        booking = BookingFactory(practitioner=dr_dia, o365_event_id=JANE_EVENT_ID)
        fake_graph.errors[JANE_EVENT_ID] = GraphNotFoundError("GET /users/{mailbox}/events/{id}: 404", status=404)

        with pytest.raises(GraphNotFoundError):
            process(notification("updated"))
        booking.refresh_from_db()
        assert booking.status == BookingStatus.BOOKED

    def test_the_event_is_read_from_the_calendar_the_subscription_watches(
        self, process, dr_dia, dr_dia_subscription, fake_graph, monkeypatch
    ):
        fetched_from = record_fetches(monkeypatch)
        dr_dia_subscription.resource = "users/dr.dia.old@clinic.example.com.au/calendars/CAL-1/events"
        dr_dia_subscription.save()
        dr_dia.o365_mailbox, dr_dia.o365_calendar_id = "dr.dia.new@clinic.example.com.au", "CAL-2"
        dr_dia.save()
        fake_graph.events[JANE_EVENT_ID] = jane_event()

        process(notification("created"))

        assert fetched_from == [("dr.dia.old@clinic.example.com.au", "CAL-1")]

    def test_the_default_calendar_of_the_subscriptions_mailbox(
        self, process, dr_dia, dr_dia_subscription, fake_graph, monkeypatch
    ):
        fetched_from = record_fetches(monkeypatch)
        dr_dia_subscription.resource = "Users/dr.dia.old@clinic.example.com.au/Events"
        dr_dia_subscription.save()
        dr_dia.o365_calendar_id = "CAL-2"
        dr_dia.save()
        fake_graph.events[JANE_EVENT_ID] = jane_event()

        process(notification("created"))

        assert fetched_from == [("dr.dia.old@clinic.example.com.au", "")]

    def test_the_practitioners_calendar_when_the_resource_is_not_ours(
        self, process, dr_dia, dr_dia_subscription, fake_graph, monkeypatch
    ):
        fetched_from = record_fetches(monkeypatch)
        dr_dia_subscription.resource = "me/events"
        dr_dia_subscription.save()
        fake_graph.events[JANE_EVENT_ID] = jane_event()

        process(notification("created"))

        assert fetched_from == [(dr_dia.o365_mailbox, "")]


def record_fetches(monkeypatch):
    """The (mailbox, calendar id) of every event fetch, in order."""
    fetched_from: list[tuple[str, str]] = []
    fetch = FakeGraph.event_get

    def event_get(self, **request):
        fetched_from.append((request["mailbox"], request.get("calendar_id", "")))
        return fetch(self, **request)

    monkeypatch.setattr(FakeGraph, "event_get", event_get)
    return fetched_from


@pytest.fixture
def jane_books(process, dr_dia_subscription, fake_graph):
    """Jane's booking arriving through Dr Dia's subscription; answers the patient it is made for."""

    def book() -> Patient | None:
        fake_graph.events[JANE_EVENT_ID] = jane_event()
        process(notification("created"))
        return Booking.objects.get().patient

    return book


class TestPatientMatching:
    def test_a_relative_sharing_the_email_is_a_new_patient(self, jane_books):
        mother = PatientFactory(
            first_name="Mary", last_name="Citizen", email="jane.citizen@example.com.au", mobile="", date_of_birth=None
        )
        jane = jane_books()

        assert jane != mother
        assert (jane.first_name, jane.date_of_birth) == ("Jane", date(1980, 2, 29))
        mother.refresh_from_db()
        assert (mother.mobile, mother.date_of_birth) == ("", None), "another person's blanks stay blank"

    def test_another_last_name_is_a_different_patient(self, jane_books):
        """Jane Smith, who shares Jane Citizen's email (a partner's) and gave no date of birth."""
        other = PatientFactory(
            first_name="Jane", last_name="Smith", email="jane.citizen@example.com.au", mobile="", date_of_birth=None
        )
        jane = jane_books()

        assert jane != other
        assert (jane.last_name, jane.date_of_birth) == ("Citizen", date(1980, 2, 29))
        other.refresh_from_db()
        assert (other.mobile, other.date_of_birth) == ("", None), "another person's blanks stay blank"

    def test_a_different_date_of_birth_is_a_different_patient(self, jane_books):
        twin = PatientFactory(
            first_name="Jane", last_name="Citizen", email="jane.citizen@example.com.au", date_of_birth=date(2010, 5, 1)
        )
        jane = jane_books()

        assert jane != twin
        assert Patient.objects.count() == 2

    def test_names_match_ignoring_case_spacing_and_accents(self, jane_books):
        known = PatientFactory(
            first_name=" JÁNE ",
            last_name="Citizén",
            email="jane.citizen@example.com.au",
            date_of_birth=date(1980, 2, 29),
        )
        jane = jane_books()

        assert jane == known
        assert Patient.objects.count() == 1

    def test_a_relative_taking_over_the_booking_does_not_fill_the_patients_blanks(
        self, process, dr_dia, dr_dia_subscription, fake_graph
    ):
        mother = PatientFactory(
            first_name="Mary", last_name="Citizen", email="jane.citizen@example.com.au", mobile="", date_of_birth=None
        )
        BookingFactory(practitioner=dr_dia, patient=mother, o365_event_id=JANE_EVENT_ID)
        fake_graph.events[JANE_EVENT_ID] = jane_event()

        process(notification("updated"))

        mother.refresh_from_db()
        assert (mother.mobile, mother.date_of_birth) == ("", None)


class TestBlankEventIds:
    def test_a_blank_event_id_cancels_no_booking(self, dr_dia):
        booking = BookingFactory(practitioner=dr_dia, o365_event_id="")

        assert booking_cancel_for_event(practitioner=dr_dia, event_id="") is None

        booking.refresh_from_db()
        assert booking.status == BookingStatus.BOOKED
