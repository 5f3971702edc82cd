"""Finding the patient on the phone: ours and MediRecords', by name, date of birth, mobile or email.

What is found is offered to staff to choose from; a choice is read again when booking, so a
posted value is never trusted for more than what it names.
"""

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import phonenumbers
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet

from bookings.console.phone_bookings import PhoneBookingRefusedError
from bookings.descriptions import normalised_name
from bookings.models import Booking, BookingStatus, Patient, Sex
from bookings.selectors import bookings_visible_to, patients_visible_to
from medirecords import Gender, MediRecordsClient, MediRecordsError
from medirecords import Patient as MediRecordsPatient
from practitioners.models import PractitionerKind

logger = logging.getLogger("clinic.phone_bookings")

SEARCH_RESULTS_MAX = 20
# MediRecords patients read one by one after an email lookup; more is a shared address.
EMAIL_MATCHES_MAX = 10

_SEX_OF_GENDER = {Gender.FEMALE: Sex.FEMALE, Gender.MALE: Sex.MALE, Gender.OTHER: Sex.OTHER}
_DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d")
_PHONE_LIKE = re.compile(r"^\+?\d{6,}$")
_PHONE_PUNCTUATION = re.compile(r"[\s\-().]")


@dataclass(frozen=True)
class PatientQuery:
    """What staff typed into the search box, read as names, a date of birth, a mobile or an email."""

    name_words: tuple[str, ...] = ()
    date_of_birth: date | None = None
    mobile: str = ""
    email: str = ""
    problem: str = ""

    @property
    def is_empty(self) -> bool:
        return not (self.name_words or self.date_of_birth or self.mobile or self.email)


@dataclass(frozen=True)
class PatientFound:
    """One patient the search found. `choice` is `local:<pk>` (ours) or `mr:<id>` (MediRecords only)."""

    choice: str
    first_name: str
    last_name: str
    date_of_birth: date | None
    mobile: str
    email: str
    patient_id: int | None
    medirecords_patient_id: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class PatientSearchResult:
    query: PatientQuery
    found: tuple[PatientFound, ...]
    medirecords_searched: bool
    medirecords_failed: bool


def patient_query_parse(text: str) -> PatientQuery:
    """Read the search box: a mobile on its own, else words that are names, a date of birth or an email."""
    text = text.strip()
    if not text:
        return PatientQuery()
    compact = _PHONE_PUNCTUATION.sub("", text)
    if _PHONE_LIKE.match(compact) and date_parse(text) is None:
        try:
            return PatientQuery(mobile=australian_mobile_e164(compact))
        except ValueError:
            return PatientQuery(problem=f"{text} is not an Australian mobile number.")
    names: list[str] = []
    date_of_birth: date | None = None
    email = ""
    for word in text.replace(",", " ").split():
        if "@" in word:
            email = word.lower()
        elif (parsed := date_parse(word)) is not None:
            date_of_birth = parsed
        else:
            names.append(word)
    return PatientQuery(name_words=tuple(names), date_of_birth=date_of_birth, email=email)


def patient_search(*, text: str, user: User | AnonymousUser, client: MediRecordsClient) -> PatientSearchResult:
    """Our patients the login may see, then MediRecords' (which cannot search by mobile).

    A MediRecords patient we already hold is given as ours. When MediRecords cannot be asked,
    our own results still come back, with `medirecords_failed` set.
    """
    query = patient_query_parse(text)
    if query.is_empty:
        return PatientSearchResult(query, (), medirecords_searched=False, medirecords_failed=False)
    visible = patients_visible_to(user=user)
    ours = list(_patients_matching(visible, query)[:SEARCH_RESULTS_MAX])
    found = [_found_of_ours(patient) for patient in ours]

    searched = bool(query.name_words or query.date_of_birth or query.email)
    failed = False
    if searched:
        try:
            records = _medirecords_matching(query, client=client)
        except MediRecordsError as error:
            # The query is the patient's details: only the kind of failure is logged.
            logger.warning("phone booking search: MediRecords failed", extra={"error": type(error).__name__})
            failed = True
            records = []
        found.extend(_found_in_medirecords(records, shown={patient.pk for patient in ours}, visible=visible))
    return PatientSearchResult(query, tuple(found), medirecords_searched=searched, medirecords_failed=failed)


@dataclass(frozen=True)
class NewPatientDetails:
    """A patient staff are booking for the first time, as they typed them in."""

    first_name: str
    last_name: str
    date_of_birth: date
    mobile: str = ""
    email: str = ""


def patient_chosen(
    *,
    choice: str,
    user: User | AnonymousUser,
    new_patient: NewPatientDetails | None,
    client: MediRecordsClient,
) -> Patient:
    """The patient staff chose: `local:<pk>` (one the login may see), `mr:<id>` or `new`.

    A MediRecords or new patient comes back unsaved, for `phone_booking_create` to save with
    the booking. Raises `PhoneBookingRefusedError` for a choice that names nobody, and MediRecords'
    errors while reading a MediRecords patient.
    """
    kind, _, ident = choice.partition(":")
    if kind == "local" and ident.isdigit():
        patient = patients_visible_to(user=user).filter(pk=int(ident)).first()
        if patient is not None:
            return patient
    elif kind == "mr" and ident:
        return patient_from_medirecords(medirecords_patient_id=ident, client=client)
    elif choice == "new" and new_patient is not None:
        return Patient(
            first_name=new_patient.first_name.strip(),
            last_name=new_patient.last_name.strip(),
            date_of_birth=new_patient.date_of_birth,
            mobile=new_patient.mobile,
            email=new_patient.email,
        )
    raise PhoneBookingRefusedError("Choose one of the patients found, or a new patient.", field="patient")


def follows_candidates(*, patient_ids: Iterable[int], user: User | AnonymousUser) -> list[Booking]:
    """The booked consultant appointments of these patients that the login may see, latest first."""
    return list(
        bookings_visible_to(user=user)
        .filter(
            patient_id__in=list(patient_ids),
            status=BookingStatus.BOOKED,
            practitioner__kind=PractitionerKind.CONSULTANT,
        )
        .select_related("practitioner", "patient")
        .order_by("-starts_at")[:SEARCH_RESULTS_MAX]
    )


def patient_from_medirecords(*, medirecords_patient_id: str, client: MediRecordsClient) -> Patient:
    """Our patient with this MediRecords id; else an unsaved one with the details MediRecords holds.

    Raises MediRecords' errors (`NotFoundError` when it has no such patient).
    """
    existing = Patient.objects.filter(medirecords_patient_id=medirecords_patient_id).first()
    if existing is not None:
        return existing
    record = client.patient_get(medirecords_patient_id)
    return Patient(
        first_name=record.first_name or "",
        last_name=record.last_name,
        date_of_birth=record.dob,
        sex=_SEX_OF_GENDER.get(record.gender, "") if record.gender is not None else "",
        email=record.email or "",
        mobile=_mobile_or_empty(record.mobile_phone),
        medirecords_patient_id=record.id,
    )


def australian_mobile_e164(raw: str) -> str:
    """An Australian mobile number (`0412 345 678`, `+61 412 345 678`) as E.164; ValueError otherwise.

    Only mobiles: the number is where MediRecords sends the SMS reminders.
    """
    try:
        number = phonenumbers.parse(raw, "AU")
    except phonenumbers.NumberParseException as error:
        raise ValueError("not a phone number") from error
    if not phonenumbers.is_valid_number(number) or number.country_code != 61:
        raise ValueError("not an Australian phone number")
    if phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE:
        raise ValueError("not a mobile number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def date_parse(text: str) -> date | None:
    """A date written day first (`29/02/1980`, as Australians do) or as ISO `1980-02-29`; else None."""
    for date_format in _DATE_FORMATS:
        try:
            return datetime.strptime(text, date_format).date()  # noqa: DTZ007 - a date, no time of day
        except ValueError:
            continue
    return None


def _patients_matching(patients: QuerySet[Patient], query: PatientQuery) -> QuerySet[Patient]:
    for word in query.name_words:
        patients = patients.filter(Q(first_name__icontains=word) | Q(last_name__icontains=word))
    if query.date_of_birth is not None:
        patients = patients.filter(date_of_birth=query.date_of_birth)
    if query.mobile:
        patients = patients.filter(mobile=query.mobile)
    if query.email:
        patients = patients.filter(email__iexact=query.email)
    return patients.order_by("last_name", "first_name", "pk")


def _medirecords_matching(query: PatientQuery, *, client: MediRecordsClient) -> list[MediRecordsPatient]:
    """MediRecords' patients for the query, every criterion typed holding as it does for ours.

    Its search compares whole names, so with a date of birth everyone born that day is read
    and the words compared here, forgiving a partial name.
    """
    if query.email:
        patient_ids = list(dict.fromkeys(client.patient_ids_by_email(query.email)))[:EMAIL_MATCHES_MAX]
        records = [client.patient_get(patient_id) for patient_id in patient_ids]
        if query.date_of_birth is not None:
            records = [record for record in records if record.dob == query.date_of_birth]
    elif query.date_of_birth is not None:
        records = client.patients_search(dob=query.date_of_birth)
    else:
        words = query.name_words
        records = client.patients_search(first_name=" ".join(words[:-1]) or None, last_name=words[-1])
    agreeing = [record for record in records if _names_agree(record, query.name_words)]
    return list({record.id: record for record in agreeing}.values())[:SEARCH_RESULTS_MAX]


def _names_agree(record: MediRecordsPatient, words: Iterable[str]) -> bool:
    names = f"{normalised_name(record.first_name)} {normalised_name(record.last_name)}"
    return all(normalised_name(word) in names for word in words)


def _found_of_ours(patient: Patient) -> PatientFound:
    return PatientFound(
        choice=f"local:{patient.pk}",
        first_name=patient.first_name,
        last_name=patient.last_name,
        date_of_birth=patient.date_of_birth,
        mobile=patient.mobile,
        email=patient.email,
        patient_id=patient.pk,
        medirecords_patient_id=patient.medirecords_patient_id,
    )


def _found_in_medirecords(
    records: list[MediRecordsPatient], *, shown: set[int], visible: QuerySet[Patient]
) -> list[PatientFound]:
    """MediRecords' patients as choices: one we hold (and the login may see) is given as ours."""
    held = {
        patient.medirecords_patient_id: patient
        for patient in visible.filter(medirecords_patient_id__in=[record.id for record in records])
    }
    found: list[PatientFound] = []
    for record in records:
        ours = held.get(record.id)
        if ours is not None:
            if ours.pk not in shown:
                shown.add(ours.pk)
                found.append(_found_of_ours(ours))
            continue
        found.append(
            PatientFound(
                choice=f"mr:{record.id}",
                first_name=record.first_name or "",
                last_name=record.last_name,
                date_of_birth=record.dob,
                mobile=_mobile_or_empty(record.mobile_phone),
                email=record.email or "",
                patient_id=None,
                medirecords_patient_id=record.id,
            )
        )
    return found


def _mobile_or_empty(raw: str | None) -> str:
    if not raw:
        return ""
    try:
        return australian_mobile_e164(raw)
    except ValueError:
        return ""
