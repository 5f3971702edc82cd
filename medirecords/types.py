"""Values exchanged with MediRecords, as small immutable dataclasses.

`from_api` reads the JSON MediRecords returns; `to_api` writes what it expects. Appointments
keep the object they were read from (`raw`) because an update must send the whole object.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import IntEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from medirecords.errors import UnreadableResponseError
from medirecords.schedule_time import from_schedule_time, to_schedule_time

JSON = dict[str, Any]
T = TypeVar("T")


class Gender(IntEnum):
    FEMALE = 1
    MALE = 2
    OTHER = 3


class Title(IntEnum):
    MR = 315890000
    MRS = 315890001
    MS = 315890002
    MISS = 315890003
    DR = 315890004
    PROF = 315890005
    MX = 315890012


class AppointmentStatus(IntEnum):
    BOOKED = 2
    CONFIRMED = 3
    WAITING_ROOM = 4
    WITH_DOCTOR = 5
    AT_BILLING = 6
    COMPLETED = 7
    CANCELLED = 8


class Urgency(IntEnum):
    NORMAL = 1
    URGENT = 2


def _date_or_none(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _readable(read: Callable[[Any], T], value: Any, *, what: str) -> T:
    """`read(value)`; a value in no form it knows is UnreadableResponseError naming `what`, never the value."""
    try:
        return read(value)
    except ValueError as error:
        raise UnreadableResponseError(f"MediRecords sent {what} that cannot be read") from error


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _gender_or_none(value: Any) -> Gender | None:
    try:
        return Gender(int(value))
    except (TypeError, ValueError):
        return None


# "45 mins", "1 hr", "4 hrs", "1 hr 30 mins", "1h30m": hours, minutes, or both.
_DURATION_TEXT = re.compile(
    r"\s*(?:(\d+)\s*(?:h|hr|hrs|hour|hours)(?![a-z]))?\s*(?:(\d+)\s*(?:m|min|mins|minute|minutes)(?![a-z]))?\s*",
    re.IGNORECASE,
)


def duration_minutes_read(value: Any) -> int | None:
    """Minutes from a duration as the API may give it: 45, "45", "45 mins", "1 hr 30 mins".

    Anything else (blank, words without a number, a negative or boolean value) is None, so a
    shape we did not foresee leaves the duration unknown instead of failing the whole read.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value) if value > 0 else None
    text = str(value).strip()
    if text.isdigit():
        return int(text) or None
    match = _DURATION_TEXT.fullmatch(text)
    if match is None or (match.group(1) is None and match.group(2) is None):
        return None
    minutes = int(match.group(1) or 0) * 60 + int(match.group(2) or 0)
    return minutes or None


def code_for_api(code: str | int) -> int | str:
    """A code as public clients send it: a number when it is one (the code system may answer
    "11" where an appointment wants 11)."""
    text = str(code).strip()
    return int(text) if text.isdigit() else text


def _without_none(values: JSON) -> JSON:
    return {key: value for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class Patient:
    id: str
    last_name: str
    first_name: str | None = None
    dob: date | None = None
    gender: Gender | None = None
    email: str | None = None
    mobile_phone: str | None = None
    home_phone: str | None = None
    default_practice_id: str | None = None
    usual_doctor_id: str | None = None
    notes: str | None = None

    @classmethod
    def from_api(cls, data: JSON) -> "Patient":
        return cls(
            id=data["id"],
            last_name=data.get("lastName") or "",
            first_name=data.get("firstName"),
            dob=_readable(_date_or_none, data.get("dob"), what="a patient's dob"),
            # Reads carry `genderCode`; creates take `gender`. Accept either.
            gender=_gender_or_none(data.get("genderCode", data.get("gender"))),
            email=data.get("email"),
            mobile_phone=data.get("mobilePhone"),
            home_phone=data.get("homePhone"),
            default_practice_id=data.get("defaultPracticeId"),
            usual_doctor_id=data.get("usualDoctorId"),
            notes=data.get("notes"),
        )


@dataclass(frozen=True)
class NewPatient:
    last_name: str
    gender: Gender
    dob: date
    first_name: str | None = None
    title: Title | None = None
    email: str | None = None
    mobile_phone: str | None = None
    home_phone: str | None = None
    usual_doctor_id: str | None = None
    contact_method: int | None = None
    notes: str | None = None

    def to_api(self, *, practice_id: str, patient_status_code: int) -> JSON:
        return _without_none(
            {
                "defaultPracticeId": practice_id,
                "patientStatusCode": patient_status_code,
                "lastName": self.last_name,
                "firstName": self.first_name,
                "gender": int(self.gender),
                "dob": self.dob.isoformat(),
                "titleCode": int(self.title) if self.title is not None else None,
                "email": self.email,
                "mobilePhone": self.mobile_phone,
                "homePhone": self.home_phone,
                "usualDoctorId": self.usual_doctor_id,
                "contactMethod": self.contact_method,
                "notes": self.notes,
            }
        )


@dataclass(frozen=True)
class DemographicsUpdate:
    """Fields to change on a patient; None leaves a field as MediRecords holds it."""

    first_name: str | None = None
    last_name: str | None = None
    dob: date | None = None
    gender: Gender | None = None
    email: str | None = None
    mobile_phone: str | None = None
    medicare_number: str | None = None


@dataclass(frozen=True)
class Address:
    line1: str
    suburb: str
    postcode: str
    state: str
    line2: str | None = None
    country: str = "AU"
    address_type: int = 1

    def to_api(self) -> JSON:
        return _without_none(
            {
                "addressType": self.address_type,
                "addressLine1": self.line1,
                "addressLine2": self.line2,
                "cityCode": self.suburb,
                "postcode": self.postcode,
                "stateCode": self.state,
                "countryCode": self.country,
            }
        )

    @classmethod
    def from_api(cls, data: JSON) -> "Address":
        return cls(
            line1=data.get("addressLine1") or "",
            line2=data.get("addressLine2"),
            suburb=data.get("cityCode") or "",
            postcode=data.get("postcode") or "",
            state=data.get("stateCode") or "",
            country=data.get("countryCode") or "AU",
            address_type=int(data.get("addressType") or 1),
        )


@dataclass(frozen=True)
class PatientNumbers:
    """Medicare, DVA, IHI and health fund numbers (`/patients/{id}/settings`)."""

    medicare_number: str | None = None
    medicare_irn: str | None = None
    medicare_expiry: str | None = None  # YYYY-MM
    dva_number: str | None = None
    ihi_number: str | None = None
    health_fund_number: str | None = None

    def to_api(self, *, patient_id: str) -> JSON:
        return {
            "patientId": patient_id,
            "medicareNo": self.medicare_number,
            "medicareIRN": self.medicare_irn,
            "medicareExpiry": self.medicare_expiry,
            "dvaNo": self.dva_number,
            "ihiNo": self.ihi_number,
            "healthFundNo": self.health_fund_number,
        }

    @classmethod
    def from_api(cls, data: JSON) -> "PatientNumbers":
        return cls(
            medicare_number=data.get("medicareNo"),
            medicare_irn=data.get("medicareIRN"),
            medicare_expiry=data.get("medicareExpiry"),
            dva_number=data.get("dvaNo"),
            ihi_number=data.get("ihiNo"),
            health_fund_number=data.get("healthFundNo"),
        )


@dataclass(frozen=True)
class EmergencyContact:
    contact_name: str
    mobile_phone: str | None = None
    relationship_code: int | None = None
    contact_method: int | None = None
    is_emergency: bool = True
    is_next_of_kin: bool = False

    def to_api(self) -> JSON:
        return _without_none(
            {
                "relationshipCode": self.relationship_code,
                "contactName": self.contact_name,
                "contactMethod": self.contact_method,
                "mobilePhone": self.mobile_phone,
                "isEmergency": self.is_emergency,
                "isNOK": self.is_next_of_kin,
            }
        )

    @classmethod
    def from_api(cls, data: JSON) -> "EmergencyContact":
        return cls(
            contact_name=data.get("contactName") or "",
            mobile_phone=data.get("mobilePhone"),
            relationship_code=data.get("relationshipCode"),
            contact_method=data.get("contactMethod"),
            is_emergency=bool(data.get("isEmergency")),
            is_next_of_kin=bool(data.get("isNOK")),
        )


@dataclass(frozen=True)
class Document:
    subject: str
    category: str | None = None
    filename: str | None = None
    id: str | None = None

    @classmethod
    def from_api(cls, data: JSON) -> "Document":
        return cls(
            id=data.get("id"),
            subject=data.get("subject") or "",
            category=data.get("category"),
            filename=data.get("filename"),
        )


@dataclass(frozen=True)
class Appointment:
    id: str
    patient_id: str
    provider_id: str
    appointment_type_id: str
    starts_at: datetime
    interval_code: str
    status: AppointmentStatus
    practice_id: str | None = None
    notes: str | None = None
    # A code (public clients send a number); read as text whichever way it comes.
    cancellation_reason: str | None = None
    confirmation_link: str | None = None
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: JSON, *, time_zone: ZoneInfo) -> "Appointment":
        return cls(
            id=data["id"],
            patient_id=data.get("patientId") or "",
            provider_id=data.get("providerId") or "",
            appointment_type_id=data.get("appointmentTypeId") or "",
            starts_at=_readable(
                lambda value: from_schedule_time(value, time_zone=time_zone),
                data["scheduleTime"],
                what="an appointment's scheduleTime",
            ),
            # Read as text whether sent as 11 or "11"; sent back as a number (`code_for_api`).
            interval_code=str(data.get("appointmentIntervalCode") or ""),
            status=_readable(
                lambda value: AppointmentStatus(int(value or AppointmentStatus.BOOKED)),
                data.get("appointmentStatus"),
                what="an appointment's appointmentStatus",
            ),
            practice_id=data.get("practiceId"),
            notes=data.get("notes"),
            cancellation_reason=_text_or_none(data.get("cancellationReason")),
            confirmation_link=data.get("confirmationLink"),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Reminders:
    """The reminder fields that make MediRecords send the SMS and email reminders itself."""

    email_reminder: bool | None = None
    reminder_method: int | None = None
    reminder_type: int | None = None

    def to_api(self) -> JSON:
        return _without_none(
            {
                "emailReminder": self.email_reminder,
                "reminderMethod": self.reminder_method,
                "reminderType": self.reminder_type,
            }
        )


@dataclass(frozen=True)
class NewAppointment:
    patient_id: str
    provider_id: str
    appointment_type_id: str
    starts_at: datetime
    interval_code: str
    status: AppointmentStatus = AppointmentStatus.BOOKED
    notes: str | None = None
    urgency: Urgency = Urgency.NORMAL
    room_id: str | None = None
    reminders: Reminders = field(default_factory=Reminders)
    allow_double_booking_for_patient: bool = False
    allow_double_booking_for_provider: bool = False

    def to_api(self, *, time_zone: ZoneInfo) -> JSON:
        return _without_none(
            {
                "patientId": self.patient_id,
                "providerId": self.provider_id,
                "appointmentTypeId": self.appointment_type_id,
                "scheduleTime": to_schedule_time(self.starts_at, time_zone=time_zone),
                "appointmentIntervalCode": code_for_api(self.interval_code),
                "appointmentStatus": int(self.status),
                "notes": self.notes,
                "urgency": int(self.urgency),
                "roomId": self.room_id,
                "allowDoubleBookingForPatient": self.allow_double_booking_for_patient,
                "allowDoubleBookingForProvider": self.allow_double_booking_for_provider,
                **self.reminders.to_api(),
            }
        )


@dataclass(frozen=True)
class Provider:
    id: str
    full_name: str
    first_name: str | None = None
    last_name: str | None = None
    status: str | None = None

    @classmethod
    def from_api(cls, data: JSON) -> "Provider":
        first, last = data.get("firstName"), data.get("lastName")
        full_name = data.get("fullName") or " ".join(part for part in (first, last) if part)
        return cls(id=data["id"], full_name=full_name, first_name=first, last_name=last, status=data.get("status"))


@dataclass(frozen=True)
class AppointmentType:
    id: str
    name: str
    duration_minutes: int | None = None

    @classmethod
    def from_api(cls, data: JSON) -> "AppointmentType":
        return cls(
            id=data["id"], name=data.get("name") or "", duration_minutes=duration_minutes_read(data.get("duration"))
        )


@dataclass(frozen=True)
class IntervalCode:
    code: str
    display: str
    minutes: int | None


@dataclass(frozen=True)
class RegularSession:
    id: str
    user_id: str
    day_of_week: int
    start_time: str
    end_time: str

    @classmethod
    def from_api(cls, data: JSON) -> "RegularSession":
        return cls(
            id=str(data.get("id") or ""),
            user_id=data.get("userId") or "",
            day_of_week=int(data.get("dayOfWeek") or 0),
            start_time=data.get("startTime") or "",
            end_time=data.get("endTime") or "",
        )
