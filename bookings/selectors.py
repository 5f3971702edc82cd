"""Reads of bookings that several services share."""

from collections.abc import Callable
from typing import TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Exists, Model, OuterRef, QuerySet

from bookings.models import Booking, Patient
from practitioners.models import Practitioner
from practitioners.selectors import staff_practitioner

ModelT = TypeVar("ModelT", bound=Model)


def booking_for_event(*, practitioner: Practitioner, event_id: str) -> Booking | None:
    """The practitioner's booking made from the Office 365 event `event_id`, or None."""
    return Booking.objects.filter(practitioner=practitioner, o365_event_id=event_id).first()


# Row-level access: which bookings and patients a staff login may see at all. Every admin
# view of them (lists, search, change pages, actions, autocomplete, raw-id lookups) starts
# from these, so a guessed URL of another practitioner's booking is a 404.


def bookings_visible_to(*, user: User | AnonymousUser) -> QuerySet[Booking]:
    """Every booking for a login that may see all; otherwise its own practitioner's; else none."""
    return _visible_to(user=user, every=Booking.objects.all(), of_practitioner=_bookings_with)


def patients_visible_to(*, user: User | AnonymousUser) -> QuerySet[Patient]:
    """Every patient for a login that may see all bookings; otherwise those booked with its practitioner."""
    return _visible_to(user=user, every=Patient.objects.all(), of_practitioner=_patients_booked_with)


def _visible_to(
    *, user: User | AnonymousUser, every: QuerySet[ModelT], of_practitioner: Callable[[Practitioner], QuerySet[ModelT]]
) -> QuerySet[ModelT]:
    """`every` row for a login that may see all bookings; its own practitioner's rows for a
    practitioner's login; none for any other."""
    if user.has_perm("bookings.view_all_bookings"):
        return every
    practitioner = staff_practitioner(user=user)
    if practitioner is None:
        return every.none()
    return of_practitioner(practitioner)


def _bookings_with(practitioner: Practitioner) -> QuerySet[Booking]:
    return Booking.objects.filter(practitioner=practitioner)


def _patients_booked_with(practitioner: Practitioner) -> QuerySet[Patient]:
    booked = Booking.objects.filter(patient=OuterRef("pk"), practitioner=practitioner)
    return Patient.objects.filter(Exists(booked))
