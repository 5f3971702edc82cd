"""`manage.py simulate_booking` writes a Calendly-style booking into the fake Graph and says which
booking it became."""

import re
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from bookings.models import Booking
from practitioners.fake_graph import FAKE_MAILBOXES
from practitioners.models import Practitioner
from tests.bookings.factories import BookingFactory
from tests.fake_graph.conftest import in_minutes
from tests.practitioners.factories import GraphSubscriptionFactory

pytestmark = pytest.mark.django_db

DIA = FAKE_MAILBOXES["dr-dia"]


@pytest.fixture
def dr_dia(fake, receiver):
    """Dr Dia, whose calendar is subscribed on the fake (its handshake answered by `receiver`) and here."""
    practitioner = Practitioner.objects.create(
        slug="dr-dia",
        display_name="Dr Dia",
        kind="doctor",
        booking_type="paid",
        default_duration_minutes=45,
        o365_mailbox=DIA["id"],
    )
    held = fake.subscription_create(
        {
            "changeType": "created,updated,deleted",
            "notificationUrl": receiver.url("/notify"),
            "resource": f"users/{DIA['id']}/events",
            "expirationDateTime": in_minutes(3 * 24 * 60),
        }
    )
    GraphSubscriptionFactory(practitioner=practitioner, graph_id=held["id"])
    return practitioner


@pytest.fixture
def pointed_at(fake, settings):
    settings.GRAPH_API_URL = fake.graph_url
    settings.PRACTICE_TIME_ZONE = "Australia/Sydney"
    return fake


def simulate(*args, booking_wait=False):
    """The command's output; without `booking_wait`, the event's id (no worker runs here)."""
    out = StringIO()
    options = ["--wait=0"] if booking_wait else ["--wait=0", "--no-wait-for-booking"]
    call_command("simulate_booking", *options, *args, stdout=out)
    return out.getvalue().strip()


def test_the_booking_lands_in_the_practitioners_calendar(pointed_at, dr_dia):
    event_id = simulate(
        "--practitioner=dr-dia", "--start=2026-12-04 10:30", "--first-name=Sam", "--email=sam@example.com"
    )

    [event] = pointed_at.events(DIA["id"])
    assert event["id"] == event_id
    assert event["subject"] == "Follow-up Consultation (45 min) between Dr Dia and Sam Citizen"
    assert event["attendees"][0]["emailAddress"] == {"name": "Sam Citizen", "address": "sam@example.com"}
    # 10:30 in Sydney during daylight saving is 23:30 UTC the day before.
    assert event["start"] == {"dateTime": "2026-12-03T23:30:00.0000000", "timeZone": "UTC"}
    assert event["end"] == {"dateTime": "2026-12-04T00:15:00.0000000", "timeZone": "UTC"}
    assert event["organizer"]["emailAddress"]["address"] == DIA["principal_name"]
    assert "Date of birth: 29/02/1980" in event["bodyPreview"]


def test_minutes_and_answers_may_be_given(pointed_at, dr_dia):
    simulate(
        "--practitioner=dr-dia",
        "--start=2026-07-01 09:00",
        "--minutes=30",
        "--dob=01/02/1990",
        "--reason=Sleep",
        "--mobile=0400 111 222",
    )

    [event] = pointed_at.events(DIA["id"])
    assert event["start"]["dateTime"] == "2026-06-30T23:00:00.0000000"  # standard time, UTC+10
    assert event["end"]["dateTime"] == "2026-06-30T23:30:00.0000000"
    assert "Follow-up Consultation (30 min)" in event["subject"]
    for answer in (
        "Mobile number: 0400 111 222",
        "Date of birth: 01/02/1990",
        "What would you like to discuss?: Sleep",
    ):
        assert answer in event["bodyPreview"]


def test_an_unknown_practitioner_is_a_command_error(pointed_at):
    with pytest.raises(CommandError, match="No practitioner with slug 'nobody'"):
        simulate("--practitioner=nobody")


def test_a_practitioner_without_a_mailbox_is_a_command_error(pointed_at, dr_dia):
    dr_dia.o365_mailbox = ""
    dr_dia.save()

    with pytest.raises(CommandError, match="PRACTITIONER_DR_DIA_O365_MAILBOX"):
        simulate("--practitioner=dr-dia")


def test_a_mailbox_the_fake_does_not_know_is_a_command_error(pointed_at, dr_dia):
    dr_dia.o365_mailbox = "nobody@clinic.example.com.au"
    dr_dia.save()

    with pytest.raises(CommandError, match=r"no mailbox 'nobody@clinic\.example\.com\.au'"):
        simulate("--practitioner=dr-dia")


def test_an_unreachable_fake_is_a_command_error(dr_dia, settings, closed_port):
    settings.GRAPH_API_URL = f"http://127.0.0.1:{closed_port}/v1.0"

    with pytest.raises(CommandError, match=re.escape(f"no fake Graph answered at http://127.0.0.1:{closed_port}")):
        simulate("--practitioner=dr-dia")


def test_the_control_url_may_be_given(fake, dr_dia, settings):
    settings.GRAPH_API_URL = "https://graph.microsoft.com/v1.0"

    simulate("--practitioner=dr-dia", f"--fake-graph-control={fake.control_url}")

    assert len(fake.events(DIA["id"])) == 1


def test_a_date_of_birth_must_be_dd_mm_yyyy(pointed_at, dr_dia):
    with pytest.raises(CommandError, match="dd/mm/yyyy"):
        simulate("--practitioner=dr-dia", "--dob=1980-02-29")


class TestWhatItBecame:
    """Beside `make run` a worker turns the event into a booking; the command says which."""

    @pytest.fixture
    def written_as(self, monkeypatch, pointed_at):
        """The fake answers each event written with this id, so the test can make its booking first."""
        from bookings.management.commands import simulate_booking

        def event_create(*, control_url, mailbox, event):
            return {"id": "AAMkSIMULATED="}

        monkeypatch.setattr(simulate_booking, "event_create", event_create)
        return "AAMkSIMULATED="

    def test_the_booking_number_practitioner_local_time_and_where_to_see_it(self, written_as, dr_dia, settings):
        settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
        settings.MEDIRECORDS_API_URL = "http://127.0.0.1:8100/v1"
        booking = BookingFactory(
            practitioner=dr_dia, o365_event_id=written_as, starts_at=datetime(2026, 12, 3, 23, 30, tzinfo=UTC)
        )

        output = simulate("--practitioner=dr-dia", "--start=2026-12-04 10:30", booking_wait=True)

        assert output.splitlines() == [
            f"Booking #{booking.pk} for Dr Dia, Fri 4 Dec 2026 10:30 AEDT (practice time)",
            f"In the console: http://127.0.0.1:8000/admin/bookings/booking/{booking.pk}/change/",
            "In the MediRecords sandbox, once synced: http://127.0.0.1:8100/",
        ]
        assert written_as not in output

    def test_no_booking_in_time_says_so_and_names_the_event(self, written_as, dr_dia):
        with pytest.raises(CommandError, match=r"no booking came of it within 0 s\. Is the worker running"):
            simulate("--practitioner=dr-dia", booking_wait=True)
        assert not Booking.objects.exists()

    @pytest.mark.parametrize("forgotten_by", ["us", "graph"])
    def test_a_calendar_not_subscribed_yet_is_said_and_nothing_is_written(self, pointed_at, dr_dia, forgotten_by):
        if forgotten_by == "us":
            dr_dia.graph_subscriptions.all().delete()
        else:
            pointed_at.forget_subscriptions()  # a restarted fake: our row is there, Graph holds nothing

        with pytest.raises(CommandError, match=r"Dr Dia's calendar is not subscribed to Graph yet \(waited 0 s\)"):
            simulate("--practitioner=dr-dia", booking_wait=True)
        assert pointed_at.events(DIA["id"]) == []
