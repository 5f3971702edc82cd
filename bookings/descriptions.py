"""Facts about patients and bookings that several flows state, each worked out in one place."""

import unicodedata
from datetime import datetime
from enum import StrEnum

from bookings.models import Booking, BookingKind
from practitioners.practice_time import practice_local


class BookingOrigin(StrEnum):
    """Where a booking came from; each reader puts it in its own words."""

    PHONE = "phone"
    CALENDLY = "calendly"
    OFFICE_365 = "office_365"
    UNKNOWN = "unknown"


def booking_origin(booking: Booking) -> BookingOrigin:
    """Staff booked it by phone; or Calendly wrote it into the calendar (it leaves its links on
    the event); or it was made in the Office 365 calendar itself; or nothing tells."""
    if booking.kind == BookingKind.PHONE:
        return BookingOrigin.PHONE
    if booking.calendly_invitee_uri or booking.calendly_cancel_url or booking.calendly_reschedule_url:
        return BookingOrigin.CALENDLY
    if booking.o365_event_id:
        return BookingOrigin.OFFICE_365
    return BookingOrigin.UNKNOWN


def booking_local_times(booking: Booking) -> tuple[datetime, datetime]:
    """When the booking starts and ends, on the practice's wall clock."""
    return practice_local(booking.starts_at), practice_local(booking.ends_at)


def normalised_name(name: str | None) -> str:
    """A name as compared: accents removed (NFKD), case folded, spaces trimmed and collapsed."""
    decomposed = unicodedata.normalize("NFKD", name or "")
    without_accents = "".join(character for character in decomposed if not unicodedata.combining(character))
    return " ".join(without_accents.casefold().split())
