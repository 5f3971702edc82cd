"""The event Calendly writes into Office 365, built as the recording shows it."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from practitioners.fake_graph import calendly_event
from tests.fake_graph.conftest import fixture, paid_booking

RECORDED_EVENT = fixture("graph-event-calendly-paid.json")


def test_the_paid_follow_up_matches_the_recording_property_for_property():
    event = paid_booking()

    for key in (
        "subject",
        "bodyPreview",
        "body",
        "start",
        "end",
        "attendees",
        "location",
        "showAs",
        "originalStartTimeZone",
        "originalEndTimeZone",
    ):
        assert event[key] == RECORDED_EVENT[key], key
    assert "organizer" not in event  # the fake makes the mailbox's owner the organizer


def test_a_local_start_is_written_in_utc_and_the_end_counts_real_minutes():
    sydney = ZoneInfo("Australia/Sydney")

    # Daylight saving ends at 03:00 on 5 April 2026: an hour after 02:30 (daylight time) it is
    # 02:30 again (standard time), where wall-clock arithmetic would say 03:30.
    event = paid_booking(start=datetime(2026, 4, 5, 2, 30, tzinfo=sydney), minutes=60)

    assert event["start"] == {"dateTime": "2026-04-04T15:30:00.0000000", "timeZone": "UTC"}
    assert event["end"] == {"dateTime": "2026-04-04T16:30:00.0000000", "timeZone": "UTC"}


def test_answers_are_escaped_in_the_html_body_only():
    event = paid_booking(reason="Pain <left knee> & hip")

    assert "What would you like to discuss?: Pain &lt;left knee&gt; &amp; hip" in event["body"]["content"]
    assert "What would you like to discuss?: Pain <left knee> & hip" in event["bodyPreview"]


def test_the_organizer_and_event_name_may_be_given():
    event = calendly_event(
        practitioner_name="Consultant",
        first_name="Sam",
        last_name="Lee",
        email="sam@example.com",
        mobile="0400 000 000",
        date_of_birth=date(1990, 1, 2),
        reason="First visit",
        start=datetime(2026, 12, 1, 0, 0, tzinfo=UTC),
        minutes=30,
        event_name="Initial Consultation (30 min)",
        organizer_email="consultant@clinic.example.com.au",
    )

    assert event["subject"] == "Initial Consultation (30 min) between Consultant and Sam Lee"
    assert event["organizer"] == {"emailAddress": {"name": "Consultant", "address": "consultant@clinic.example.com.au"}}
    assert "Date of birth: 02/01/1990" in event["bodyPreview"]


def test_a_naive_start_is_refused():
    with pytest.raises(ValueError, match="aware"):
        paid_booking(start=datetime(2026, 12, 1, 10, 30))  # noqa: DTZ001
