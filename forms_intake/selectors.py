"""Reads of submissions and triage that views share, starting with who may see which rows."""

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Exists, OuterRef, QuerySet

from bookings.models import Booking
from bookings.selectors import bookings_visible_to
from forms_intake.models import FormSubmission, TriageAssessment
from practitioners.selectors import staff_practitioner


def submissions_visible_to(*, user: User | AnonymousUser) -> QuerySet[FormSubmission]:
    """Every submission for a login that sees all bookings; otherwise those of its own bookings.

    An unmatched submission belongs to no booking yet, so only all-seeing logins find it.
    """
    if user.has_perm("bookings.view_all_bookings"):
        return FormSubmission.objects.all()
    return FormSubmission.objects.filter(booking__in=bookings_visible_to(user=user))


def triage_visible_to(*, user: User | AnonymousUser) -> QuerySet[TriageAssessment]:
    """All triage with `view_all_triage`; with `view_triage`, that of the login's own patients.

    A patient is the practitioner's own once booked with them: triage is written for the
    consultant's booking, and the practitioner the patient goes on to see needs it too.
    """
    if user.has_perm("forms_intake.view_all_triage"):
        return TriageAssessment.objects.all()
    practitioner = staff_practitioner(user=user)
    if practitioner is None or not user.has_perm("forms_intake.view_triage"):
        return TriageAssessment.objects.none()
    booked_with_practitioner = Booking.objects.filter(patient=OuterRef("booking__patient"), practitioner=practitioner)
    return TriageAssessment.objects.filter(Exists(booked_with_practitioner))
