"""The calendar invite sent with a patient's booking email (RFC 5545, iTIP RFC 5546).

What Outlook, Google Calendar and Apple Calendar need to treat the attachment as an invite
and update the same event when the booking moves or is cancelled: METHOD in the calendar and
in the attachment's MIME type (`text/calendar; method=REQUEST`), an ORGANIZER and an
ATTENDEE, a DTSTAMP, a UID that never changes for the booking, and a SEQUENCE that grows with
every new version. Times are in the practice zone with a VTIMEZONE, so calendars that do not
know the zone's rules still show the right time either side of a daylight-saving change.
"""

from datetime import UTC, timedelta

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event, vCalAddress

from bookings.descriptions import booking_local_times
from bookings.models import Booking

METHOD_REQUEST = "REQUEST"
METHOD_CANCEL = "CANCEL"
PRODID = "-//Clinic practice operations//Booking invites//EN"


def calendar_invite(*, booking: Booking, method: str, sequence: int) -> bytes:
    """The booking as an iCalendar invite (REQUEST) or its withdrawal (CANCEL).

    `sequence` is 0 for the first invite and must grow with each update or cancellation.
    Raises ValueError for any other method, or for a booking without a patient email.
    """
    if method not in (METHOD_REQUEST, METHOD_CANCEL):
        raise ValueError(f"Unknown invite method {method!r}.")
    patient = booking.patient
    if patient is None or not patient.email:
        raise ValueError(f"Booking #{booking.pk} has no patient email to invite.")
    starts_at, ends_at = booking_local_times(booking)

    event = Event()
    event.add("UID", invite_uid(booking))
    event.add("DTSTAMP", timezone.now().astimezone(UTC))
    event.add("DTSTART", starts_at)
    event.add("DTEND", ends_at)
    event.add("SEQUENCE", sequence)
    event.add("SUMMARY", invite_summary(booking))
    event.add("LOCATION", settings.PRACTICE_ADDRESS)
    event.add("DESCRIPTION", _description(booking))
    event.add("STATUS", "CANCELLED" if method == METHOD_CANCEL else "CONFIRMED")
    event.add("TRANSP", "TRANSPARENT" if method == METHOD_CANCEL else "OPAQUE")
    event.add("ORGANIZER", vCalAddress.new(settings.PRACTICE_EMAIL, cn=settings.PRACTICE_NAME))
    event.add(
        "ATTENDEE",
        vCalAddress.new(
            patient.email,
            cn=patient.full_name or patient.email,
            role="REQ-PARTICIPANT",
            partstat="NEEDS-ACTION",
            rsvp=False,
        ),
    )

    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", method)
    calendar.add_component(event)
    # A year either side keeps the VTIMEZONE to the rules that matter for this booking.
    calendar.add_missing_timezones(
        first_date=(starts_at - timedelta(days=366)).date(), last_date=(ends_at + timedelta(days=366)).date()
    )
    return bytes(calendar.to_ical())


def invite_uid(booking: Booking) -> str:
    """The event's UID: the same for every version of the booking's invite, wherever it moves."""
    domain = settings.PRACTICE_EMAIL.rpartition("@")[2] or "localhost"
    return f"booking-{booking.intake_reference}@{domain}"


def invite_summary(booking: Booking) -> str:
    return f"Appointment with {booking.practitioner.display_name} — {settings.PRACTICE_NAME}"


def _description(booking: Booking) -> str:
    # Calendars sync to many devices and services: nothing about the patient's health here.
    return (
        f"Your appointment with {booking.practitioner.display_name} at {settings.PRACTICE_NAME}, "
        f"{settings.PRACTICE_ADDRESS}. To change or cancel it, call {settings.PRACTICE_PHONE}."
    )
