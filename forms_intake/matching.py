"""Finding the booking (and so the patient) a submission belongs to.

In order: a booking staff linked by hand; the booking reference carried in the form link;
otherwise the patient with the same email and names (and date of birth, when we know theirs)
and their next upcoming booking that is not cancelled. Nothing found: staff link it in admin.
"""

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from bookings.descriptions import normalised_name
from bookings.models import Booking, BookingStatus, Patient
from forms_intake.models import FormType
from forms_intake.validation import CleanIntake
from practitioners.models import PractitionerKind


def booking_match(
    *, intake: CleanIntake, form_type: str, linked: Booking | None = None, now: datetime | None = None
) -> Booking | None:
    """The submission's booking, or None when staff must decide."""
    if linked is not None:
        return linked
    reference = intake.get("booking_reference")
    if reference:
        by_reference = Booking.objects.select_related("patient").filter(intake_reference=reference).first()
        if by_reference is not None:
            return by_reference
    patient = _patient_by_identity(intake)
    if patient is None:
        return None
    return _next_booking(patient, form_type=form_type, now=now or timezone.now())


def _patient_by_identity(intake: CleanIntake) -> Patient | None:
    email, first, last = intake.get("email"), intake.get("first_name"), intake.get("last_name")
    if not (email and first and last):
        return None
    born = intake.get("date_of_birth")
    found = [
        patient
        for patient in Patient.objects.filter(email__iexact=email)
        if normalised_name(patient.first_name) == normalised_name(first)
        and normalised_name(patient.last_name) == normalised_name(last)
        and (born is None or patient.date_of_birth in (None, born) or "date_of_birth" in patient.placeholder_fields)
    ]
    return found[0] if len(found) == 1 else None


def _next_booking(patient: Patient, *, form_type: str, now: datetime) -> Booking | None:
    upcoming: QuerySet[Booking] = (
        Booking.objects.select_related("patient", "practitioner")
        .filter(patient=patient, starts_at__gte=now)
        .exclude(status=BookingStatus.CANCELLED)
        .order_by("starts_at")
    )
    if form_type == FormType.TRIAGE:
        consultant = upcoming.filter(practitioner__kind=PractitionerKind.CONSULTANT).first()
        if consultant is not None:
            return consultant
    return upcoming.first()
