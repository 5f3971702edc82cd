"""Finding a booking's patient in MediRecords, or creating them: one MediRecords patient per person.

The rules (as practice systems that share MediRecords' records match patients):

- a patient already linked keeps their MediRecords id;
- with a date of birth: the same first name, last name and date of birth, compared after
  folding case, accents and surrounding space. Exactly one such patient is them; several
  need a person to choose;
- without a date of birth (a booking rarely asks): the patients MediRecords holds with the
  email address, kept only where the last name agrees. One is them; several need a person;
- an email address alone never decides: someone else's address is easily typed;
- nobody: a new MediRecords patient, with recognisable placeholders for what the booking did
  not tell us, listed in `Patient.placeholder_fields` and in the MediRecords record's notes
  for the intake form to replace.

Two bookings of one person syncing at once must not make two records, nor may a create whose
answer was lost: matching runs under a lease on our patient row, and a create that may have
happened is looked for (by the reference in its notes) before creating again.
"""

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.descriptions import normalised_name
from bookings.models import Patient, Sex, SyncOperation
from bookings.push.attempts import attempt_recorded
from bookings.push.errors import SyncBusyError, SyncNeedsAttentionError
from bookings.push.leases import lease_acquire, lease_release
from medirecords import Gender, MediRecordsClient, NewPatient
from medirecords import Patient as MediRecordsPatient

# How long to wait for another worker matching the same patient (it usually takes a second)
# before giving up for now and retrying later.
PATIENT_LEASE_WAIT_SECONDS = 20.0
PATIENT_LEASE_POLL_SECONDS = 0.1
# Candidates read one by one after an email lookup; more than this is a shared address.
EMAIL_CANDIDATES_MAX = 20

_AUSTRALIAN_MOBILE_E164 = re.compile(r"^\+614(\d{8})$")
_GENDER_OF_SEX = {Sex.FEMALE: Gender.FEMALE, Sex.MALE: Gender.MALE, Sex.OTHER: Gender.OTHER}


class MatchResult(StrEnum):
    ALREADY_LINKED = "already_linked"
    MATCHED = "matched"
    CREATED = "created"
    # Our own earlier create, whose answer was lost, found and taken.
    ADOPTED = "adopted"
    NEEDS_REVIEW = "needs_review"


@dataclass(frozen=True)
class Candidate:
    """A MediRecords patient who could be ours, as staff are shown it."""

    id: str
    first_name: str
    last_name: str
    dob: str | None

    @classmethod
    def of(cls, patient: MediRecordsPatient) -> "Candidate":
        return cls(
            id=patient.id,
            first_name=patient.first_name or "",
            last_name=patient.last_name,
            dob=patient.dob.isoformat() if patient.dob else None,
        )

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "first_name": self.first_name, "last_name": self.last_name, "dob": self.dob}


@dataclass(frozen=True)
class MatchOutcome:
    """How the patient was found. `patient` is the row now linked: usually the one given, but
    another of ours when that row already held the MediRecords id found."""

    patient: Patient
    result: MatchResult
    medirecords_patient_id: str = ""
    candidates: tuple[Candidate, ...] = ()

    @property
    def needs_review(self) -> bool:
        return self.result == MatchResult.NEEDS_REVIEW


def patient_match_or_create(
    *, patient: Patient, client: MediRecordsClient, booking_id: int | None = None
) -> MatchOutcome:
    """Link the patient to their MediRecords record: found, created, or left for staff to choose.

    `booking_id` is the booking the calls are made for, to record them as its sync attempts.
    Raises `SyncBusyError` when another worker holds the patient for longer than we wait, and
    MediRecords' errors as they come.
    """
    if patient.medirecords_patient_id:
        return MatchOutcome(patient, MatchResult.ALREADY_LINKED, patient.medirecords_patient_id)
    token = _lease_or_linked(patient)
    if token is None:
        patient.refresh_from_db()
        if patient.medirecords_patient_id:
            return MatchOutcome(patient, MatchResult.ALREADY_LINKED, patient.medirecords_patient_id)
        raise SyncBusyError("another sync is matching this patient")
    try:
        patient.refresh_from_db()
        if patient.medirecords_patient_id:
            return MatchOutcome(patient, MatchResult.ALREADY_LINKED, patient.medirecords_patient_id)
        return _match_or_create(patient, client=client, booking_id=booking_id)
    finally:
        lease_release(model=Patient, pk=patient.pk, token=token)


def medirecords_mobile(e164: str) -> str | None:
    """An Australian mobile in MediRecords' form (`04XXXXXXXX`); None for anything else."""
    match = _AUSTRALIAN_MOBILE_E164.match(e164.strip())
    return f"04{match.group(1)}" if match else None


def patient_reference(patient: Patient) -> str:
    """The reference our created records carry in their notes, by which a lost create is found."""
    return f"Online booking patient reference {patient.pk}."


def _match_or_create(patient: Patient, *, client: MediRecordsClient, booking_id: int | None) -> MatchOutcome:
    if patient.medirecords_create_attempted_at is not None:
        earlier = _created_earlier(patient, client=client, booking_id=booking_id)
        if earlier is not None:
            return _link(patient, earlier.id, MatchResult.ADOPTED, placeholder_fields=_placeholders(patient)[1])
    if not patient.medirecords_create_new:
        candidates = _candidates(patient, client=client, booking_id=booking_id)
        if len(candidates) == 1:
            return _link(patient, candidates[0].id, MatchResult.MATCHED)
        if candidates:
            return MatchOutcome(
                patient, MatchResult.NEEDS_REVIEW, candidates=tuple(Candidate.of(found) for found in candidates)
            )
    return _create(patient, client=client, booking_id=booking_id)


def _candidates(patient: Patient, *, client: MediRecordsClient, booking_id: int | None) -> list[MediRecordsPatient]:
    if patient.date_of_birth is not None:
        return _candidates_by_name_and_dob(patient, patient.date_of_birth, client=client, booking_id=booking_id)
    return _candidates_by_email(patient, client=client, booking_id=booking_id)


def _candidates_by_name_and_dob(
    patient: Patient, dob: date, *, client: MediRecordsClient, booking_id: int | None
) -> list[MediRecordsPatient]:
    """Patients with our names and date of birth. MediRecords' search compares names exactly,
    so when it finds nobody, everyone born that day is compared here with accents folded."""
    with attempt_recorded(booking_id=booking_id, operation=SyncOperation.PATIENT_SEARCH):
        found = client.patients_search(
            first_name=patient.first_name.strip() or None, last_name=patient.last_name.strip() or None, dob=dob
        )
    same = [candidate for candidate in found if _same_person(candidate, patient, dob=dob)]
    if not same:
        with attempt_recorded(booking_id=booking_id, operation=SyncOperation.PATIENT_SEARCH):
            born_that_day = client.patients_search(dob=dob)
        same = [candidate for candidate in born_that_day if _same_person(candidate, patient, dob=dob)]
    return _distinct(same)


def _candidates_by_email(
    patient: Patient, *, client: MediRecordsClient, booking_id: int | None
) -> list[MediRecordsPatient]:
    """The email's patients whose last name agrees with ours; the email alone never decides."""
    if not patient.email:
        return []
    with attempt_recorded(booking_id=booking_id, operation=SyncOperation.PATIENT_LOOKUP_EMAIL):
        patient_ids = list(dict.fromkeys(client.patient_ids_by_email(patient.email)))
    agreeing = []
    for patient_id in patient_ids[:EMAIL_CANDIDATES_MAX]:
        with attempt_recorded(booking_id=booking_id, operation=SyncOperation.PATIENT_GET):
            candidate = client.patient_get(patient_id)
        if normalised_name(candidate.last_name) == normalised_name(patient.last_name):
            agreeing.append(candidate)
    return agreeing


def _created_earlier(
    patient: Patient, *, client: MediRecordsClient, booking_id: int | None
) -> MediRecordsPatient | None:
    """The record an earlier create of ours made, if it did: it carries our reference."""
    new_patient, _ = _placeholders(patient)
    with attempt_recorded(booking_id=booking_id, operation=SyncOperation.PATIENT_SEARCH):
        found = client.patients_search(
            first_name=new_patient.first_name, last_name=new_patient.last_name, dob=new_patient.dob
        )
    reference = patient_reference(patient)
    ours = [candidate for candidate in found if reference in (candidate.notes or "")]
    return ours[0] if ours else None


def _create(patient: Patient, *, client: MediRecordsClient, booking_id: int | None) -> MatchOutcome:
    new_patient, placeholder_fields = _placeholders(patient)
    _names_fit_check(new_patient)
    # Committed before the request: if its answer is lost, the next attempt looks first.
    Patient.objects.filter(pk=patient.pk).update(medirecords_create_attempted_at=timezone.now())
    with attempt_recorded(booking_id=booking_id, operation=SyncOperation.PATIENT_CREATE):
        created = client.patient_create(new_patient)
    return _link(patient, created.id, MatchResult.CREATED, placeholder_fields=placeholder_fields)


def _placeholders(patient: Patient) -> tuple[NewPatient, list[str]]:
    """The MediRecords patient to create, and which of our fields it only has placeholders for."""
    placeholder_fields: list[str] = []
    last_name = patient.last_name.strip()
    if not last_name:
        last_name = settings.MEDIRECORDS_PLACEHOLDER_LAST_NAME
        placeholder_fields.append("last_name")
    dob = patient.date_of_birth
    if dob is None:
        dob = settings.MEDIRECORDS_PLACEHOLDER_DOB
        placeholder_fields.append("date_of_birth")
    gender = _GENDER_OF_SEX.get(Sex(patient.sex)) if patient.sex else None
    if gender is None:
        gender = Gender(settings.MEDIRECORDS_PLACEHOLDER_GENDER)
        placeholder_fields.append("sex")
    mobile = medirecords_mobile(patient.mobile) if patient.mobile else None
    unknown = [name for name, value in (("mobile", mobile), ("email", patient.email)) if not value]
    new_patient = NewPatient(
        last_name=last_name,
        first_name=patient.first_name.strip() or None,
        dob=dob,
        gender=gender,
        email=patient.email or None,
        mobile_phone=mobile,
        notes=_notes(patient, placeholders=placeholder_fields, unknown=unknown, dob=dob, gender=gender),
    )
    return new_patient, placeholder_fields + unknown


def _names_fit_check(new_patient: NewPatient) -> None:
    """Refuse to create a patient whose name MediRecords would not hold whole.

    MediRecords may cut a long name silently, or refuse it; either way the record would not say
    what the patient gave us. Staff decide instead: the message gives lengths, never the name.
    """
    limit = settings.MEDIRECORDS_NAME_MAX_LENGTH
    too_long = [
        (label, len(name))
        for label, name in (("first name", new_patient.first_name or ""), ("last name", new_patient.last_name))
        if len(name) > limit
    ]
    if too_long:
        lengths = " and ".join(f"{label} is {length} characters" for label, length in too_long)
        raise SyncNeedsAttentionError(
            f"The patient's {lengths}, more than the {limit} MediRecords holds (MEDIRECORDS_NAME_MAX_LENGTH), "
            "so the patient was not created there with a name cut short. The full name is kept on our patient: "
            "correct or shorten it there, then retry the sync."
        )


def _notes(patient: Patient, *, placeholders: list[str], unknown: list[str], dob: date, gender: Gender) -> str:
    shown = {
        "last_name": f"last name {settings.MEDIRECORDS_PLACEHOLDER_LAST_NAME}",
        "date_of_birth": f"date of birth {dob.isoformat()}",
        "sex": f"sex {gender.name.lower()}",
    }
    lines = ["Created from an online booking."]
    if placeholders:
        values = ", ".join(shown[name] for name in placeholders)
        lines.append(f"Placeholder values, to be replaced from the intake form: {values}.")
    if unknown:
        lines.append(f"Not known yet: {', '.join(unknown)}.")
    lines.append(patient_reference(patient))
    return "\n".join(lines)


def _link(
    patient: Patient, medirecords_patient_id: str, result: MatchResult, *, placeholder_fields: list[str] | None = None
) -> MatchOutcome:
    """Store the MediRecords id on our patient, or hand back the row of ours that has it already."""
    holder = Patient.objects.filter(medirecords_patient_id=medirecords_patient_id).exclude(pk=patient.pk).first()
    if holder is None:
        changes: dict[str, Any] = {"medirecords_patient_id": medirecords_patient_id}
        if placeholder_fields is not None:
            changes["placeholder_fields"] = placeholder_fields
        try:
            with transaction.atomic():
                Patient.objects.filter(pk=patient.pk).update(**changes)
        except IntegrityError:
            holder = Patient.objects.get(medirecords_patient_id=medirecords_patient_id)
    if holder is not None:
        return MatchOutcome(holder, result, medirecords_patient_id)
    patient.refresh_from_db()
    return MatchOutcome(patient, result, medirecords_patient_id)


def _lease_or_linked(patient: Patient) -> datetime | None:
    """The patient's lease, waited for while another worker holds it; None when the wait ran
    out or the other worker linked the patient meanwhile."""
    deadline = time.monotonic() + PATIENT_LEASE_WAIT_SECONDS
    while True:
        token = lease_acquire(model=Patient, pk=patient.pk)
        if token is not None:
            return token
        linked_meanwhile = Patient.objects.filter(pk=patient.pk).exclude(medirecords_patient_id="").exists()
        if linked_meanwhile or time.monotonic() >= deadline:
            return None
        time.sleep(PATIENT_LEASE_POLL_SECONDS)


def _same_person(candidate: MediRecordsPatient, patient: Patient, *, dob: date) -> bool:
    return (
        candidate.dob == dob
        and normalised_name(candidate.first_name) == normalised_name(patient.first_name)
        and normalised_name(candidate.last_name) == normalised_name(patient.last_name)
    )


def _distinct(patients: Iterable[MediRecordsPatient]) -> list[MediRecordsPatient]:
    return list({patient.id: patient for patient in patients}.values())
