"""`manage.py simulate_booking` writes a Calendly-style booking into the fake Graph."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from practitioners.fake_graph import FAKE_MAILBOXES
from practitioners.models import Practitioner

pytestmark = pytest.mark.django_db

DIA = FAKE_MAILBOXES["dr-dia"]


@pytest.fixture
def dr_dia():
    return Practitioner.objects.create(
        slug="dr-dia",
        display_name="Dr Dia",
        kind="doctor",
        booking_type="paid",
        default_duration_minutes=45,
        o365_mailbox=DIA["id"],
    )


@pytest.fixture
def pointed_at(fake, settings):
    settings.GRAPH_API_URL = fake.graph_url
    settings.PRACTICE_TIME_ZONE = "Australia/Sydney"
    return fake


def simulate(*args):
    out = StringIO()
    call_command("simulate_booking", *args, stdout=out)
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
