"""Reads of bookings that several services share."""

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Exists, OuterRef, QuerySet

from bookings.models import Booking, Patient
from practitioners.models import Practitioner
from practitioners.selectors import staff_practitioner


def booking_for_event(*, practitioner: Practitioner, event_id: str) -> Booking | None:
    """The practitioner's booking made from the Office 365 event `event_id`, or None."""
    return Booking.objects.filter(practitioner=practitioner, o365_event_id=event_id).first()


# Row-level access: which bookings and patients a staff login may see at all. Every admin
# view of them (lists, search, change pages, actions, autocomplete, raw-id lookups) starts
# from these, so a guessed URL of another practitioner's booking is a 404.


def bookings_visible_to(*, user: User | AnonymousUser) -> QuerySet[Booking]:
    """Every booking for a login that may see all; otherwise its own practitioner's; else none."""
    if user.has_perm("bookings.view_all_bookings"):
        return Booking.objects.all()
    practitioner = staff_practitioner(user=user)
    if practitioner is None:
        return Booking.objects.none()
    return Booking.objects.filter(practitioner=practitioner)


def patients_visible_to(*, user: User | AnonymousUser) -> QuerySet[Patient]:
    """Every patient for a login that may see all bookings; otherwise those booked with its practitioner."""
    if user.has_perm("bookings.view_all_bookings"):
        return Patient.objects.all()
    practitioner = staff_practitioner(user=user)
    if practitioner is None:
        return Patient.objects.none()
    booked = Booking.objects.filter(patient=OuterRef("pk"), practitioner=practitioner)
    return Patient.objects.filter(Exists(booked))
