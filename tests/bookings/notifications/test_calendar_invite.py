"""The invite read back as a calendar program reads it: the right times either side of daylight saving."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from bookings.notifications.invite import calendar_invite, invite_uid
from practitioners.models import BookingType, PractitionerKind
from tests.bookings.factories import BookingFactory, PatientFactory
from tests.practitioners.factories import PractitionerFactory

SYDNEY = ZoneInfo("Australia/Sydney")

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _practice(settings):
    settings.PRACTICE_TIME_ZONE = "Australia/Sydney"
    settings.PRACTICE_NAME = "The Clinic"
    settings.PRACTICE_ADDRESS = "1 Example Street, Sydney NSW 2000"
    settings.PRACTICE_EMAIL = "bookings@clinic.example.com.au"


def nurse_booking(starts_at: datetime, minutes: int = 30):
    nurse = PractitionerFactory(
        slug="nurse", display_name="Nurse", kind=PractitionerKind.NURSE_PRACTITIONER, booking_type=BookingType.PAID
    )
    patient = PatientFactory(first_name="Jane", last_name="Citizen", email="jane.citizen@example.com.au")
    return BookingFactory(
        practitioner=nurse, patient=patient, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes)
    )


def parsed(booking, *, method: str = "REQUEST", sequence: int = 0):
    calendar = Calendar.from_ical(calendar_invite(booking=booking, method=method, sequence=sequence))
    [event] = calendar.events
    return calendar, event


@pytest.mark.parametrize(
    ("sydney_time", "zone_name", "utc_time"),
    [
        # The last Saturday of standard time, and the Sunday that daylight saving begins (2 am).
        (datetime(2026, 10, 3, 10, 0, tzinfo=SYDNEY), "AEST", datetime(2026, 10, 3, 0, 0, tzinfo=UTC)),
        (datetime(2026, 10, 4, 10, 0, tzinfo=SYDNEY), "AEDT", datetime(2026, 10, 3, 23, 0, tzinfo=UTC)),
        # Daylight saving ends on Sunday 4 April 2027 (3 am); the Monday after is standard time.
        (datetime(2027, 4, 3, 10, 0, tzinfo=SYDNEY), "AEDT", datetime(2027, 4, 2, 23, 0, tzinfo=UTC)),
        (datetime(2027, 4, 5, 10, 0, tzinfo=SYDNEY), "AEST", datetime(2027, 4, 5, 0, 0, tzinfo=UTC)),
    ],
)
def test_start_and_end_are_the_bookings_times_in_the_practice_zone(sydney_time, zone_name, utc_time):
    booking = nurse_booking(sydney_time)
    assert booking.starts_at == utc_time

    calendar, event = parsed(booking)

    assert event.start == booking.starts_at
    assert event.end == booking.ends_at
    assert (event.start.hour, event.start.minute, event.start.tzname()) == (10, 0, zone_name)
    assert event["DTSTART"].params["TZID"] == "Australia/Sydney"
    assert event["DTEND"].params["TZID"] == "Australia/Sydney"
    # A calendar that does not know the zone uses the VTIMEZONE sent with it: same instant.
    [vtimezone] = calendar.timezones
    assert vtimezone.tz_name == "Australia/Sydney"
    assert calendar.get_missing_tzids() == set()
    sent_zone = vtimezone.to_tz(lookup_tzid=False)
    assert sydney_time.replace(tzinfo=sent_zone) == utc_time


def test_a_request_has_what_calendars_need_to_treat_it_as_an_invite():
    booking = nurse_booking(datetime(2026, 12, 1, 14, 0, tzinfo=SYDNEY))

    calendar, event = parsed(booking)

    assert calendar["METHOD"] == "REQUEST"
    assert calendar["VERSION"] == "2.0"
    assert calendar["CALSCALE"] == "GREGORIAN"
    assert calendar["PRODID"]
    assert event["UID"] == f"booking-{booking.intake_reference}@clinic.example.com.au"
    assert event["SEQUENCE"] == 0
    assert event["STATUS"] == "CONFIRMED"
    assert event["SUMMARY"] == "Appointment with Nurse — The Clinic"
    assert event["LOCATION"] == "1 Example Street, Sydney NSW 2000"
    assert event.DTSTAMP.tzinfo is not None
    assert event.DTSTAMP.utcoffset() == timedelta(0)
    organizer = event["ORGANIZER"]
    assert organizer == "mailto:bookings@clinic.example.com.au"
    assert organizer.params["CN"] == "The Clinic"
    attendee = event["ATTENDEE"]
    assert attendee == "mailto:jane.citizen@example.com.au"
    assert attendee.params["CN"] == "Jane Citizen"
    assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    assert attendee.params["RSVP"] == "FALSE"


def test_the_description_holds_no_health_data():
    booking = nurse_booking(datetime(2026, 12, 1, 14, 0, tzinfo=SYDNEY))
    booking.reason = "Recurring migraines"
    booking.save()

    ics = calendar_invite(booking=booking, method="REQUEST", sequence=0).decode()

    assert "migraine" not in ics.lower()
    assert booking.patient.date_of_birth.strftime("%Y%m%d") not in ics
    assert booking.patient.mobile not in ics


def test_a_moved_booking_keeps_its_uid_and_carries_the_new_time_with_a_higher_sequence():
    booking = nurse_booking(datetime(2026, 12, 1, 14, 0, tzinfo=SYDNEY))
    _, first = parsed(booking)

    booking.starts_at = datetime(2026, 12, 8, 9, 30, tzinfo=SYDNEY)
    booking.ends_at = booking.starts_at + timedelta(minutes=30)
    booking.reschedule_count = 1
    booking.save()
    calendar, moved = parsed(booking, sequence=1)

    assert calendar["METHOD"] == "REQUEST"
    assert moved["UID"] == first["UID"] == invite_uid(booking)
    assert moved["SEQUENCE"] == 1
    assert moved.start == datetime(2026, 12, 8, 9, 30, tzinfo=SYDNEY)
    assert moved.end == datetime(2026, 12, 8, 10, 0, tzinfo=SYDNEY)


def test_a_cancellation_withdraws_the_same_event():
    booking = nurse_booking(datetime(2026, 12, 1, 14, 0, tzinfo=SYDNEY))
    _, request = parsed(booking)

    calendar, cancel = parsed(booking, method="CANCEL", sequence=1)

    assert calendar["METHOD"] == "CANCEL"
    assert cancel["UID"] == request["UID"]
    assert cancel["STATUS"] == "CANCELLED"
    assert cancel["SEQUENCE"] == 1
    assert cancel.start == booking.starts_at
    assert "ORGANIZER" in cancel
    assert "ATTENDEE" in cancel
    assert "DTSTAMP" in cancel


def test_an_unknown_method_or_a_booking_without_a_patient_email_is_refused():
    booking = nurse_booking(datetime(2026, 12, 1, 14, 0, tzinfo=SYDNEY))
    with pytest.raises(ValueError, match="method"):
        calendar_invite(booking=booking, method="PUBLISH", sequence=0)
    booking.patient.email = ""
    booking.patient.save()
    with pytest.raises(ValueError, match="no patient email"):
        calendar_invite(booking=booking, method="REQUEST", sequence=0)
