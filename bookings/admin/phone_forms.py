"""The forms behind the phone booking, move and cancel pages."""

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

from django import forms
from django.contrib.admin.widgets import AdminDateWidget, AdminTimeWidget
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q
from django.utils import timezone

from bookings.console.patient_search import NewPatientDetails, PatientFound, australian_mobile_e164, follows_candidates
from bookings.console.phone_bookings import PHONE_PAYMENT_STATUSES, booking_when, past_start_refusal
from bookings.models import (
    Booking,
)
from bookings.selectors import bookings_visible_to
from medirecords.schedule_time import (
    AmbiguousLocalTimeError,
    NonexistentLocalTimeError,
    local_wall_time,
    minutes_between,
)
from practitioners.models import Practitioner
from practitioners.practice_time import practice_local, practice_zone

PHONE_DATE_FORMATS = ["%d/%m/%Y", "%Y-%m-%d"]
PHONE_TIME_FORMATS = ["%H:%M", "%H:%M:%S"]
# Where the service's refusals are shown on the phone forms (the service names its arguments).
PHONE_FORM_FIELD_OF = {
    "starts_at": "time",
    "duration_minutes": "duration_minutes",
    "follows": "follows",
    "patient": "patient",
    "payment_status": "payment_status",
    "reason": "reason",
}


class PatientChoiceWidget(forms.RadioSelect):
    """Radios whose ids say whom they choose (`id_patient_new`, `id_patient_local_12`,
    `id_patient_mr_<id>`), so a page can be driven without counting positions."""

    def create_option(  # noqa: PLR0917 - Django's signature, which calls it positionally
        self,
        name: str,
        value: Any,
        label: int | str,
        selected: bool,
        index: int,
        subindex: int | None = None,
        attrs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if "id" in option["attrs"] and attrs and attrs.get("id"):
            suffix = re.sub(r"[^A-Za-z0-9_-]", "_", str(value).replace(":", "_", 1))
            option["attrs"]["id"] = f"{attrs['id']}_{suffix}"
        return option


class AppointmentSlotForm(forms.Form):
    """Practitioner, day, time and length; the time is read on the practice's clock."""

    practitioner = forms.ModelChoiceField(
        queryset=Practitioner.objects.filter(is_active=True), empty_label="Choose the practitioner"
    )
    date = forms.DateField(input_formats=PHONE_DATE_FORMATS, widget=AdminDateWidget, help_text="dd/mm/yyyy")
    time = forms.TimeField(
        input_formats=PHONE_TIME_FORMATS,
        widget=AdminTimeWidget(format="%H:%M"),
        help_text="24-hour clock, practice time, e.g. 14:00",
    )
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)",
        required=False,
        min_value=5,
        max_value=480,
        help_text="Leave blank for the practitioner's usual length.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        day, at = cleaned.get("date"), cleaned.get("time")
        if day is None or at is None:
            return cleaned
        wall_time = datetime.combine(day, at.replace(second=0, microsecond=0))
        on_the_day = f"{at:%H:%M} on {day:%a} {day.day} {day:%b %Y}"
        try:
            starts_at = local_wall_time(wall_time, time_zone=practice_zone())
        except NonexistentLocalTimeError:
            self.add_error(
                "time",
                f"{on_the_day} does not exist: daylight saving starts that day and the clocks skip "
                "that hour. Choose another time.",
            )
        except AmbiguousLocalTimeError:
            self.add_error(
                "time",
                f"{on_the_day} happens twice: daylight saving ends that day and the clocks repeat "
                "that hour. Choose a time outside it.",
            )
        else:
            refusal = past_start_refusal(starts_at=starts_at)
            if refusal is None:
                cleaned["starts_at"] = starts_at
            else:
                self.add_error("time", refusal)
        return cleaned


class PhoneBookingForm(AppointmentSlotForm):
    """The phone booking: who (found, or new), with whom and when, why, and how they pay.

    Choices of patient and of the consultation it follows are the search's results; any
    value posted is checked again by the services, so the lists only help staff choose.
    """

    patient = forms.CharField(
        label="Patient",
        widget=PatientChoiceWidget(attrs={"class": "radiolist"}),
        error_messages={"required": "Choose the patient, or New patient."},
    )
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    date_of_birth = forms.DateField(
        label="Date of birth", input_formats=PHONE_DATE_FORMATS, required=False, help_text="dd/mm/yyyy"
    )
    mobile = forms.CharField(
        max_length=32, required=False, help_text="Australian mobile, e.g. 0412 345 678; used for SMS reminders."
    )
    email = forms.EmailField(required=False)
    reason = forms.CharField(label="Reason for the visit", widget=forms.Textarea(attrs={"rows": 2}), required=False)
    payment_status = forms.ChoiceField(
        label="Payment",
        choices=[("", "Choose how they pay"), *((status.value, status.label) for status in PHONE_PAYMENT_STATUSES)],
    )
    follows = forms.ModelChoiceField(
        label="Follows the consultant appointment",
        queryset=Booking.objects.none(),
        required=False,
        help_text="The patient's free initial consultation, when this is its follow-up.",
    )

    NEW_PATIENT = "new"
    NEW_PATIENT_REQUIRED = ("first_name", "last_name", "date_of_birth")

    def __init__(self, *args: Any, user: User | AnonymousUser, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        cast("forms.ModelChoiceField[Booking]", self.fields["follows"]).queryset = bookings_visible_to(user=user)
        self.found_set(())

    def found_set(self, found: Sequence[PatientFound]) -> None:
        """Offer the patients found, then a new one; and their consultations to follow."""
        choices = [(patient.choice, patient_found_label(patient)) for patient in found]
        choices.append((self.NEW_PATIENT, "New patient: enter their details below"))
        self.fields["patient"].widget.choices = choices
        # Nobody found: the new patient is the only choice, so it is made already.
        if not found:
            self.initial["patient"] = self.NEW_PATIENT
        else:
            self.initial.pop("patient", None)
        patient_ids = [patient.patient_id for patient in found if patient.patient_id is not None]
        consultations = follows_candidates(patient_ids=patient_ids, user=self.user) if patient_ids else []
        self.fields["follows"].widget.choices = [
            ("", "None: not a follow-up"),
            *(
                (
                    booking.pk,
                    f"{booking.patient.full_name if booking.patient else '-'}: {booking} with "
                    f"{booking.practitioner}, {booking_when(booking.starts_at, booking.ends_at)}",
                )
                for booking in consultations
            ),
        ]

    def clean_mobile(self) -> str:
        mobile = str(self.cleaned_data.get("mobile") or "").strip()
        if not mobile:
            return ""
        try:
            return australian_mobile_e164(mobile)
        except ValueError:
            raise forms.ValidationError("Enter an Australian mobile number, e.g. 0412 345 678.") from None

    def clean_date_of_birth(self) -> date | None:
        born: date | None = self.cleaned_data.get("date_of_birth")
        if born is not None and not (date(1900, 1, 1) <= born <= timezone.localdate()):
            raise forms.ValidationError("Enter a date of birth between 1900 and today.")
        return born

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("patient") == self.NEW_PATIENT:
            for name in self.NEW_PATIENT_REQUIRED:
                if not cleaned.get(name) and name not in self.errors:
                    self.add_error(name, "Required for a new patient.")
        return cleaned

    def new_patient(self) -> NewPatientDetails | None:
        """The new patient's details typed in, when a new patient was chosen."""
        data = self.cleaned_data
        if data["patient"] != self.NEW_PATIENT:
            return None
        return NewPatientDetails(
            first_name=data["first_name"],
            last_name=data["last_name"],
            date_of_birth=data["date_of_birth"],
            mobile=data["mobile"],
            email=data["email"].lower(),
        )


def patient_found_label(patient: PatientFound) -> str:
    born = f"{patient.date_of_birth:%d/%m/%Y}" if patient.date_of_birth else "date of birth unknown"
    contact = ", ".join(value for value in (patient.mobile, patient.email) if value)
    where = f"ours, Patient #{patient.patient_id}" if patient.patient_id is not None else "MediRecords"
    return f"{patient.full_name}, born {born}" + (f", {contact}" if contact else "") + f" ({where})"


class PhoneBookingMoveForm(AppointmentSlotForm):
    reason = forms.CharField(
        label="Reason for the move", widget=forms.Textarea(attrs={"rows": 2}), help_text="Kept in the audit trail."
    )

    def __init__(self, *args: Any, booking: Booking, **kwargs: Any) -> None:
        starts_at = practice_local(booking.starts_at)
        initial = {
            "practitioner": booking.practitioner_id,
            "date": starts_at.date(),
            "time": starts_at.time(),
            "duration_minutes": minutes_between(booking.starts_at, booking.ends_at),
        }
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.fields["duration_minutes"].help_text = "Leave blank to keep the booking's length."
        # The booking's own practitioner stays a choice even if no longer taking bookings.
        cast(
            "forms.ModelChoiceField[Practitioner]", self.fields["practitioner"]
        ).queryset = Practitioner.objects.filter(Q(is_active=True) | Q(pk=booking.practitioner_id))


class PhoneBookingCancelForm(forms.Form):
    reason = forms.CharField(
        label="Reason for cancelling", widget=forms.Textarea(attrs={"rows": 2}), help_text="Kept in the audit trail."
    )
