"""Reads of bookings that several services share."""

from bookings.models import Booking
from practitioners.models import Practitioner


def booking_for_event(*, practitioner: Practitioner, event_id: str) -> Booking | None:
    """The practitioner's booking made from the Office 365 event `event_id`, or None."""
    return Booking.objects.filter(practitioner=practitioner, o365_event_id=event_id).first()
