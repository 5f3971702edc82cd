"""Notifications: each booking state is told once per channel, whatever repeats; failures retry, then wait for staff."""

import logging
import re
import smtplib
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends import locmem
from django.db import connection
from django.urls import reverse
from icalendar import Calendar

from bookings.audit import AuditActor
from bookings.changes import booking_changed
from bookings.console.phone_bookings import phone_booking_cancel, phone_booking_create, phone_booking_move
from bookings.inbox import deliveries
from bookings.models import (
    AuditAction,
    AuditEntry,
    Booking,
    BookingStatus,
    InboundDelivery,
    Notification,
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
    PaymentStatus,
)
from bookings.notifications import due
from bookings.notifications.due import due_notifications_record
from bookings.notifications.sending import booking_notify, notification_resend, notification_sweep
from bookings.office365.processing import booking_cancel_for_event
from config import backoff
from practitioners.staff_roles import FRONT_DESK, PRACTITIONER
from tests.bookings.conftest import JANE_EVENT_ID, fixture_bytes, jane_event, notification
from tests.bookings.factories import BookingFactory, PatientFactory
from tests.concurrency import run_together
from tests.conftest import requires_postgresql
from tests.staff import staff_login

pytestmark = pytest.mark.django_db

ENQUIRIES = "enquiries@clinic.example.com.au"
JANE = "jane.citizen@example.com.au"
NOW = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
CREATED_ETAG = 'W/"DwAAABYAAAB0Kg2lH1ZWRaYmYnx3H6R/AAAUxgmu"'


@pytest.fixture(autouse=True)
def _emails(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ENQUIRIES_EMAIL = ENQUIRIES
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    settings.NOTIFICATION_RETRY_BASE_SECONDS = 60
    mail.outbox = []


@pytest.fixture(autouse=True)
def _before_the_appointments():
    """The factories' appointments are in December 2026: these tests happen before them (a
    booking that has started is told nothing)."""
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def longest_waits(monkeypatch):
    """Full jitter without the chance: every retry waits as long as its ceiling allows."""
    monkeypatch.setattr(backoff.random, "uniform", lambda low, high: high)


@pytest.fixture
def mail_server_down():
    """Every send fails as a mail server that drops the connection does (quoting the recipient).

    Gives the call that brings the server back.
    """

    def refuse(backend, messages):
        raise smtplib.SMTPServerDisconnected(f"Connection closed while mailing {messages[0].to[0]}")

    patch = pytest.MonkeyPatch()
    patch.setattr(locmem.EmailBackend, "send_messages", refuse)
    yield patch.undo
    patch.undo()


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a call and what its commit enqueues (tasks run eagerly), as a worker would."""

    def run(function, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(**kwargs)

    return run


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """POST Graph's change notification and run what the commit enqueues: processing, sync, notify."""

    def post(body):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/booking/practitioner", data=body, content_type="application/json")
        assert response.status_code == 202

    return post


def patient_mails():
    return [message for message in mail.outbox if message.to != [ENQUIRIES]]


def enquiries_mails():
    return [message for message in mail.outbox if message.to == [ENQUIRIES]]


def invite(message):
    """The calendar invite a patient's email carries, as its one VEVENT and the METHOD."""
    [part] = [part for part in message.attachments if part.get_content_type() == "text/calendar"]
    calendar = Calendar.from_ical(part.get_payload(decode=True))
    [event] = calendar.walk("VEVENT")
    return str(calendar["METHOD"]), int(event["SEQUENCE"]), str(event["UID"])


def logged():
    """Every notification as (kind, channel, sequence, status), oldest first."""
    return list(Notification.objects.order_by("pk").values_list("kind", "channel", "sequence", "status"))


def both(kind, sequence, status=NotificationStatus.SENT):
    return [
        (kind, NotificationChannel.PATIENT_EMAIL, sequence, status),
        (kind, NotificationChannel.ENQUIRIES_EMAIL, sequence, status),
    ]


def count_link(page, element_id):
    match = re.search(rf'<a id="{element_id}" href="([^"]*)">(.*?)</a>', page, re.DOTALL)
    assert match is not None, f"no count {element_id}"
    return int(re.sub(r"<[^>]+>", "", match.group(2))), unescape(match.group(1))


# --- Bookings from Office 365 -------------------------------------------------------------


class TestOffice365Bookings:
    def test_a_confirmed_booking_sends_the_patient_an_invite_and_tells_enquiries(
        self, post, dr_dia_subscription, fake_graph, sync_requests
    ):
        fake_graph.events[JANE_EVENT_ID] = jane_event()

        post(fixture_bytes("graph-notification-created.json"))

        booking = Booking.objects.get()
        [to_patient] = patient_mails()
        assert to_patient.to == [JANE]
        method, sequence, _ = invite(to_patient)
        assert (method, sequence) == ("REQUEST", 0)
        [to_enquiries] = enquiries_mails()
        assert f"#{booking.pk}" in to_enquiries.subject
        assert logged() == both(NotificationKind.CONFIRMATION, 0)
        assert {(row.attempts, row.sent_at is not None) for row in Notification.objects.all()} == {(1, True)}

    def test_duplicates_replays_and_resyncs_send_nothing_more(
        self, post, committed, dr_dia_subscription, fake_graph, sync_requests
    ):
        fake_graph.events[JANE_EVENT_ID] = jane_event()
        body = fixture_bytes("graph-notification-created.json")
        post(body)

        post(body)
        committed(deliveries.delivery_replay, delivery_ids=InboundDelivery.objects.values_list("pk", flat=True))
        committed(booking_changed, booking_id=Booking.objects.get().pk)
        committed(booking_notify, booking_id=Booking.objects.get().pk)

        assert len(mail.outbox) == 2
        assert logged() == both(NotificationKind.CONFIRMATION, 0)

    def test_a_move_sends_a_reschedule_and_a_cancellation_cancels_the_same_invite(
        self, process, committed, dr_dia, dr_dia_subscription, fake_graph, sync_requests
    ):
        fake_graph.events[JANE_EVENT_ID] = jane_event()
        process(notification("created", etag=CREATED_ETAG))
        fake_graph.events[JANE_EVENT_ID] = jane_event(
            **{"@odata.etag": 'W/"v2"', "lastModifiedDateTime": "2026-11-25T01:00:00.0000000Z"},
            start={"dateTime": "2026-12-04T23:30:00.0000000", "timeZone": "UTC"},
            end={"dateTime": "2026-12-05T00:15:00.0000000", "timeZone": "UTC"},
        )

        process(notification("updated", etag='W/"v2"'))
        process(notification("deleted"))
        booking = Booking.objects.get()
        committed(booking_changed, booking_id=booking.pk)

        assert booking.status == BookingStatus.CANCELLED
        invites = [invite(message) for message in patient_mails()]
        assert [(method, sequence) for method, sequence, _ in invites] == [
            ("REQUEST", 0),
            ("REQUEST", 1),
            ("CANCEL", 2),
        ]
        assert len({uid for _, _, uid in invites}) == 1
        assert len(enquiries_mails()) == 3
        assert logged() == [
            *both(NotificationKind.CONFIRMATION, 0),
            *both(NotificationKind.RESCHEDULE, 1),
            *both(NotificationKind.CANCELLATION, 2),
        ]

    def test_an_event_that_is_not_a_patient_booking_sends_nothing(
        self, post, dr_dia_subscription, fake_graph, sync_requests
    ):
        fake_graph.events[JANE_EVENT_ID] = jane_event(attendees=[])

        post(fixture_bytes("graph-notification-created.json"))

        assert not Booking.objects.exists()
        assert mail.outbox == []
        assert not Notification.objects.exists()

    def test_a_booking_cancelled_before_anything_was_sent_gets_nothing(self, committed, dr_dia, sync_requests):
        booking = BookingFactory(practitioner=dr_dia, o365_event_id=JANE_EVENT_ID)

        committed(booking_cancel_for_event, practitioner=dr_dia, event_id=JANE_EVENT_ID)

        assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CANCELLED
        assert mail.outbox == []
        assert not Notification.objects.exists()

    def test_logs_name_no_patient(self, post, dr_dia_subscription, fake_graph, sync_requests, caplog):
        fake_graph.events[JANE_EVENT_ID] = jane_event()
        caplog.set_level(logging.INFO, logger="clinic.notifications")

        post(fixture_bytes("graph-notification-created.json"))

        lines = [record for record in caplog.records if record.name == "clinic.notifications"]
        assert [(record.getMessage(), record.kind, record.outcome) for record in lines] == [
            ("notification sent", NotificationKind.CONFIRMATION, NotificationStatus.SENT)
        ] * 2
        text = " ".join(str(vars(record)) for record in lines)
        for secret in ("Jane", "Citizen", "jane.citizen", "example.com.au"):
            assert secret not in text


# --- Phone bookings -----------------------------------------------------------------------


@pytest.fixture
def desk_actor(django_user_model):
    user = django_user_model.objects.create_user(username="reception", is_staff=True)
    return AuditActor(user=user, ip_address="192.0.2.10")


def phone_booking(practitioner, desk_actor, *, patient=None, starts_at=datetime(2026, 12, 1, 3, 0, tzinfo=UTC)):
    return phone_booking_create(
        practitioner=practitioner,
        patient=patient or PatientFactory(email=JANE),
        starts_at=starts_at,
        duration_minutes=30,
        reason="Follow-up on bloods",
        payment_status=PaymentStatus.PAY_AT_CLINIC,
        follows=None,
        actor=desk_actor,
    )


class TestPhoneBookings:
    def test_a_phone_booking_is_confirmed_moved_and_cancelled_once_each(
        self, committed, dr_dia, desk_actor, sync_requests
    ):
        booking = committed(phone_booking, practitioner=dr_dia, desk_actor=desk_actor)
        assert (len(patient_mails()), len(enquiries_mails())) == (1, 1)

        moved = committed(
            phone_booking_move,
            booking=booking,
            practitioner=dr_dia,
            starts_at=booking.starts_at + timedelta(days=1),
            duration_minutes=None,
            reason="The patient asked",
            actor=desk_actor,
        )
        committed(phone_booking_cancel, booking=moved, reason="The patient is unwell", actor=desk_actor)

        assert [invite(message)[:2] for message in patient_mails()] == [("REQUEST", 0), ("REQUEST", 1), ("CANCEL", 2)]
        assert len(enquiries_mails()) == 3

    def test_a_patient_without_an_email_is_skipped_and_enquiries_still_told(
        self, committed, dr_dia, desk_actor, sync_requests
    ):
        committed(phone_booking, practitioner=dr_dia, desk_actor=desk_actor, patient=PatientFactory(email=""))

        assert [message.to for message in mail.outbox] == [[ENQUIRIES]]
        skipped = Notification.objects.get(channel=NotificationChannel.PATIENT_EMAIL)
        assert (skipped.status, skipped.attempts, skipped.last_error) == (
            NotificationStatus.SKIPPED,
            0,
            due.NO_PATIENT_EMAIL,
        )
        assert Notification.objects.get(channel=NotificationChannel.ENQUIRIES_EMAIL).status == NotificationStatus.SENT


# --- Failures, retries, staff -------------------------------------------------------------


@pytest.mark.usefixtures("longest_waits", "sync_requests")
class TestFailedSends:
    def test_a_failed_send_is_retried_by_the_sweep_once_due(self, committed, dr_dia, desk_actor, mail_server_down):
        with time_machine.travel(NOW, tick=False):
            booking = committed(phone_booking, practitioner=dr_dia, desk_actor=desk_actor)

            rows = list(Notification.objects.all())
            assert {(row.status, row.attempts, row.next_attempt_at) for row in rows} == {
                (NotificationStatus.FAILED, 1, NOW + timedelta(seconds=60))
            }
            assert {row.last_error for row in rows} == {
                "SMTPServerDisconnected: Connection closed while mailing [redacted]"
            }
            assert notification_sweep() == 0, "not due yet"

        mail_server_down()  # the server is back
        with time_machine.travel(NOW + timedelta(seconds=59), tick=False):
            assert notification_sweep() == 0
        with time_machine.travel(NOW + timedelta(seconds=60), tick=False):
            assert notification_sweep() == 2

        assert logged() == both(NotificationKind.CONFIRMATION, 0)
        assert {(row.attempts, row.next_attempt_at, row.last_error) for row in Notification.objects.all()} == {
            (2, None, "")
        }
        assert [message.to for message in mail.outbox] == [[JANE], [ENQUIRIES]]
        assert notification_sweep() == 0
        assert booking.notifications.count() == 2

    def test_after_the_last_attempt_it_waits_for_staff_who_can_resend_it(
        self, client, committed, dr_dia, desk_actor, mail_server_down
    ):
        with time_machine.travel(NOW, tick=False):
            booking = committed(phone_booking, practitioner=dr_dia, desk_actor=desk_actor)
        # Waits of 60 s, then 120 s: the third attempt is the last.
        for moment in (NOW + timedelta(seconds=60), NOW + timedelta(seconds=180)):
            with time_machine.travel(moment, tick=False):
                assert notification_sweep() == 2
        with time_machine.travel(NOW + timedelta(days=1), tick=False):
            assert notification_sweep() == 0
        assert {(row.status, row.attempts, row.next_attempt_at) for row in Notification.objects.all()} == {
            (NotificationStatus.FAILED, 3, None)
        }
        assert mail.outbox == []

        mail_server_down()  # the server is back
        desk = staff_login(FRONT_DESK)
        client.force_login(desk)
        index = client.get(reverse("admin:index")).content.decode()
        count, url = count_link(index, "glance-notifications-failed")
        assert (count, url) == (2, "/admin/bookings/notification/?status__exact=failed")
        listed = client.get(url)
        assert listed.status_code == 200
        failed_ids = sorted(row.pk for row in listed.context["cl"].result_list)
        assert failed_ids == sorted(booking.notifications.values_list("pk", flat=True))

        response = resend_from_the_list(client, committed, failed_ids)

        assert response.status_code == 302
        assert [message.to for message in mail.outbox] == [[JANE], [ENQUIRIES]]
        assert logged() == both(NotificationKind.CONFIRMATION, 0)
        entries = AuditEntry.objects.filter(action=AuditAction.NOTIFICATION_RESENT).order_by("pk")
        assert [(entry.actor, entry.booking, entry.before, entry.after) for entry in entries] == [
            (desk, booking, {"status": "failed", "attempts": 3}, {"status": "pending", "attempts": 0})
        ] * 2
        index = client.get(reverse("admin:index")).content.decode()
        assert count_link(index, "glance-notifications-failed")[0] == 0

    def test_a_sent_notification_is_sent_again_when_staff_ask(self, committed, dr_dia, desk_actor):
        booking = committed(phone_booking, practitioner=dr_dia, desk_actor=desk_actor)
        to_patient = booking.notifications.get(channel=NotificationChannel.PATIENT_EMAIL)

        assert committed(notification_resend, notification_ids=[to_patient.pk], actor=desk_actor) == 1

        assert [message.to for message in mail.outbox] == [[JANE], [ENQUIRIES], [JANE]]
        to_patient.refresh_from_db()
        assert (to_patient.status, to_patient.attempts) == (NotificationStatus.SENT, 1)
        assert AuditEntry.objects.get(action=AuditAction.NOTIFICATION_RESENT).before == {
            "status": "sent",
            "attempts": 1,
        }

    def test_an_unsent_confirmation_is_not_sent_once_the_booking_is_cancelled(
        self, committed, dr_dia, desk_actor, mail_server_down
    ):
        with time_machine.travel(NOW, tick=False):
            booking = committed(phone_booking, practitioner=dr_dia, desk_actor=desk_actor)
        mail_server_down()  # the server is back

        with time_machine.travel(NOW + timedelta(seconds=10), tick=False):
            committed(phone_booking_cancel, booking=booking, reason="The patient is unwell", actor=desk_actor)
        with time_machine.travel(NOW + timedelta(days=1), tick=False):
            assert notification_sweep() == 0

        assert [invite(message)[:2] for message in patient_mails()] == [("CANCEL", 1)]
        assert logged() == [
            *both(NotificationKind.CONFIRMATION, 0, NotificationStatus.SKIPPED),
            *both(NotificationKind.CANCELLATION, 1),
        ]
        assert set(
            booking.notifications.filter(status=NotificationStatus.SKIPPED).values_list("last_error", flat=True)
        ) == {due.CANCELLED_SINCE}

    def test_a_reschedule_overtaken_by_another_move_is_not_sent(self, committed, dr_dia, desk_actor, mail_server_down):
        with time_machine.travel(NOW, tick=False):
            booking = committed(phone_booking, practitioner=dr_dia, desk_actor=desk_actor)
            for days in (1, 2):
                booking = committed(
                    phone_booking_move,
                    booking=booking,
                    practitioner=dr_dia,
                    starts_at=booking.starts_at + timedelta(days=days),
                    duration_minutes=None,
                    reason="The patient asked",
                    actor=desk_actor,
                )
        mail_server_down()  # the server is back

        with time_machine.travel(NOW + timedelta(days=1), tick=False):
            assert notification_sweep() == 4

        assert [invite(message)[:2] for message in patient_mails()] == [("REQUEST", 0), ("REQUEST", 2)]
        assert logged() == [
            *both(NotificationKind.CONFIRMATION, 0),
            *both(NotificationKind.RESCHEDULE, 1, NotificationStatus.SKIPPED),
            *both(NotificationKind.RESCHEDULE, 2),
        ]

    def test_failures_are_logged_without_the_address(self, committed, dr_dia, desk_actor, mail_server_down, caplog):
        caplog.set_level(logging.INFO, logger="clinic.notifications")

        committed(phone_booking, practitioner=dr_dia, desk_actor=desk_actor)

        lines = [record for record in caplog.records if record.name == "clinic.notifications"]
        assert [(record.levelno, record.getMessage(), record.error) for record in lines] == [
            (logging.WARNING, "notification failed", "SMTPServerDisconnected")
        ] * 2
        assert "jane.citizen" not in " ".join(str(vars(record)) for record in lines)


def test_a_notification_whose_send_was_lost_is_sent_by_the_sweep(committed, dr_dia, django_capture_on_commit_callbacks):
    booking = BookingFactory(practitioner=dr_dia, patient=PatientFactory(email=JANE))
    with django_capture_on_commit_callbacks(execute=False):
        booking_notify(booking_id=booking.pk)  # the worker dies before it sends
    assert mail.outbox == []

    assert committed(notification_sweep) == 2

    assert [message.to for message in mail.outbox] == [[JANE], [ENQUIRIES]]
    assert notification_sweep() == 0


def test_a_change_made_while_the_broker_is_down_is_still_told_by_the_sweep(
    dr_dia, monkeypatch, django_capture_on_commit_callbacks
):
    from bookings.notifications import tasks as notifications_tasks
    from bookings.push import tasks as push_tasks

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    booking = BookingFactory(practitioner=dr_dia, patient=PatientFactory(email=JANE))
    monkeypatch.setattr(notifications_tasks.booking_notify_task, "delay", broker_down)
    monkeypatch.setattr(push_tasks.booking_sync_task, "delay", lambda booking_id: None)
    with django_capture_on_commit_callbacks(execute=True):
        booking_changed(booking_id=booking.pk)  # the enqueue fails, logged; the change stands
    assert mail.outbox == []
    assert Notification.objects.filter(booking=booking, status=NotificationStatus.PENDING).count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        assert notification_sweep() == 2
    assert [message.to for message in mail.outbox] == [[JANE], [ENQUIRIES]]


def test_an_appointment_that_has_started_is_told_nothing(committed, dr_dia):
    booking = BookingFactory(
        practitioner=dr_dia, patient=PatientFactory(email=JANE), starts_at=NOW - timedelta(hours=1)
    )
    assert committed(booking_notify, booking_id=booking.pk) == 0
    booking.status = BookingStatus.CANCELLED
    booking.save()
    assert committed(booking_notify, booking_id=booking.pk) == 0
    assert mail.outbox == []
    assert not Notification.objects.exists()


def resend_from_the_list(client, committed, notification_ids):
    changelist = reverse("admin:bookings_notification_changelist")
    return committed(
        client.post,
        path=changelist,
        data={"action": "resend", "_selected_action": [str(pk) for pk in notification_ids]},
    )


# --- Who sees what -----------------------------------------------------------------------


def test_a_practitioner_sees_only_their_own_bookings_notifications_and_cannot_resend(
    client, committed, dr_dia, nurse, desk_actor, sync_requests
):
    committed(phone_booking, practitioner=dr_dia, desk_actor=desk_actor)
    committed(
        phone_booking, practitioner=nurse, desk_actor=desk_actor, patient=PatientFactory(email="other@example.com.au")
    )
    theirs = Notification.objects.filter(booking__practitioner=nurse).first()
    client.force_login(staff_login(PRACTITIONER, practitioner=dr_dia))

    listed = client.get(reverse("admin:bookings_notification_changelist"))

    assert listed.status_code == 200
    assert {row.booking.practitioner for row in listed.context["cl"].result_list} == {dr_dia}
    assert listed.context["action_form"] is None, "no action to offer: resending needs the change permission"
    assert client.get(reverse("admin:bookings_notification_change", args=[theirs.pk])).status_code == 404


# --- Two workers at once ------------------------------------------------------------------


def second_worker_just_before(statement, second_worker):
    """A query wrapper that runs `second_worker` whole just before the first `statement` (INSERT,
    UPDATE) on the notifications table: after the first worker has read what it acts on, before it
    writes. That is the worst moment of a race between two workers, made on purpose, so that the
    once-only send is tested on every database, SQLite too (where two threads cannot race)."""
    ran = []

    def wrapper(execute, sql, params, many, context):
        if not ran and sql.lstrip().upper().startswith(statement) and Notification._meta.db_table in sql:
            ran.append(sql)
            second_worker()
        return execute(sql, params, many, context)

    return wrapper, ran


def test_a_second_worker_logging_the_same_booking_meanwhile_sends_nothing_twice(dr_dia, committed):
    booking = BookingFactory(practitioner=dr_dia, patient=PatientFactory(email=JANE))
    wrapper, ran = second_worker_just_before("INSERT", lambda: booking_notify(booking_id=booking.pk))

    with connection.execute_wrapper(wrapper):
        committed(booking_notify, booking_id=booking.pk)

    assert ran, "the second worker ran between the first one's read and its write"
    assert sorted(message.to[0] for message in mail.outbox) == sorted([JANE, ENQUIRIES])
    assert logged() == both(NotificationKind.CONFIRMATION, 0)


def test_a_second_sweep_sending_the_same_rows_meanwhile_sends_nothing_twice(dr_dia):
    booking = BookingFactory(practitioner=dr_dia, patient=PatientFactory(email=JANE))
    due_notifications_record(booking_id=booking.pk)
    wrapper, ran = second_worker_just_before("UPDATE", notification_sweep)

    with connection.execute_wrapper(wrapper):
        notification_sweep()

    assert ran, "the second sweep ran between the first one's read and its claim"
    assert sorted(message.to[0] for message in mail.outbox) == sorted([JANE, ENQUIRIES])
    assert logged() == both(NotificationKind.CONFIRMATION, 0)
    assert sorted(Notification.objects.values_list("attempts", flat=True)) == [1, 1]


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_workers_notifying_one_booking_at_once_send_once(dr_dia):
    booking = BookingFactory(practitioner=dr_dia, patient=PatientFactory(email=JANE))
    _, errors = run_together(lambda: booking_notify(booking_id=booking.pk), threads=4)

    assert errors == []
    assert sorted(message.to[0] for message in mail.outbox) == sorted([JANE, ENQUIRIES])
    assert logged() == both(NotificationKind.CONFIRMATION, 0)
