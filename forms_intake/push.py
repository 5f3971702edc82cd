"""Bringing a patient's MediRecords record up to date from an intake form.

What MediRecords holds only as a placeholder (or not at all) is replaced and its mark on our
patient cleared. A value that differs from one the clinic already holds is never overwritten
silently: it is returned as a pending change for staff to accept or reject. Addresses and
emergency contacts are added only when no identical one is on file, so that a submission
processed twice changes nothing the second time.
"""

import dataclasses
from datetime import date
from typing import Any

from bookings.descriptions import normalised_name
from bookings.models import Patient
from bookings.push.patient_matching import medirecords_mobile
from forms_intake.errors import FormsIntakeError
from forms_intake.models import FormType
from forms_intake.validation import AddressValue, CleanIntake
from medirecords import Gender, MediRecordsClient
from medirecords.types import Address, DemographicsUpdate, EmergencyContact
from medirecords.types import Patient as MediRecordsPatient

BASIC_FIELDS = ("first_name", "last_name", "email", "mobile", "date_of_birth", "sex")
NUMBER_FIELDS = ("medicare_number", "medicare_irn", "medicare_expiry", "dva_number")
_GENDERS = {"female": Gender.FEMALE, "male": Gender.MALE, "other": Gender.OTHER}

PendingChange = dict[str, Any]


class PatientNotSyncedError(FormsIntakeError):
    """A state to wait out, not a failure of the form: the patient has no MediRecords record yet;
    the delivery fails and the submission is processed again later."""


def patient_update_from_intake(
    *, patient: Patient, intake: CleanIntake, form_type: str, client: MediRecordsClient
) -> list[PendingChange]:
    """Push the intake's valid values to the patient's record; returns the changes left for staff."""
    if not patient.medirecords_patient_id:
        raise PatientNotSyncedError("the patient has no MediRecords record yet")
    pending = _basics_push(patient=patient, intake=intake, client=client)
    if form_type == FormType.FULL:
        pending += _numbers_push(patient=patient, intake=intake, client=client)
        address = intake.get("address")
        if isinstance(address, AddressValue):
            _address_add(patient=patient, address=address, client=client)
        if intake.get("emergency_contact_name"):
            _emergency_contact_add(patient=patient, intake=intake, client=client)
    return pending


def pending_changes_accept(*, patient: Patient, changes: list[PendingChange], client: MediRecordsClient) -> None:
    """Push values staff accepted, replacing what MediRecords held."""
    if not patient.medirecords_patient_id:
        raise PatientNotSyncedError("the patient has no MediRecords record yet")
    values = {change["field"]: _from_json(change["field"], change["value"]) for change in changes}
    basics = {name: value for name, value in values.items() if name in BASIC_FIELDS}
    if basics:
        _demographics_write(patient=patient, values=basics, client=client)
    numbers = {name: value for name, value in values.items() if name in NUMBER_FIELDS}
    if numbers:
        current = client.patient_numbers(patient.medirecords_patient_id)
        client.patient_numbers_set(patient.medirecords_patient_id, dataclasses.replace(current, **numbers))


def _basics_push(*, patient: Patient, intake: CleanIntake, client: MediRecordsClient) -> list[PendingChange]:
    record = client.patient_get(patient.medirecords_patient_id)
    to_write: dict[str, Any] = {}
    pending: list[PendingChange] = []
    confirmed: list[str] = []
    for name in BASIC_FIELDS:
        value = intake.get(name)
        if value is None:
            continue
        held = _held(record, name)
        if _same(name, held, value):
            confirmed.append(name)
        elif name in patient.placeholder_fields or held in (None, ""):
            to_write[name] = value
        else:
            pending.append({"field": name, "value": _to_json(value)})
    if to_write:
        _demographics_write(patient=patient, values=to_write, client=client)
    cleared = [name for name in patient.placeholder_fields if name not in to_write and name not in confirmed]
    if cleared != list(patient.placeholder_fields):
        Patient.objects.filter(pk=patient.pk).update(placeholder_fields=cleared)
        patient.placeholder_fields = cleared
    return pending


def _demographics_write(*, patient: Patient, values: dict[str, Any], client: MediRecordsClient) -> None:
    """Write basic fields to MediRecords and to our mirror, and clear their placeholder marks."""
    update = DemographicsUpdate(
        first_name=values.get("first_name"),
        last_name=values.get("last_name"),
        email=values.get("email"),
        mobile_phone=medirecords_mobile(values["mobile"]) if values.get("mobile") else None,
        dob=values.get("date_of_birth"),
        gender=_GENDERS[values["sex"]] if values.get("sex") else None,
    )
    client.patient_update_demographics(patient.medirecords_patient_id, update)
    mirror = {("mobile" if name == "mobile" else name): value for name, value in values.items()}
    placeholders = [name for name in patient.placeholder_fields if name not in values]
    Patient.objects.filter(pk=patient.pk).update(placeholder_fields=placeholders, **mirror)
    for name, value in mirror.items():
        setattr(patient, name, value)
    patient.placeholder_fields = placeholders


def _numbers_push(*, patient: Patient, intake: CleanIntake, client: MediRecordsClient) -> list[PendingChange]:
    """Merge Medicare and DVA numbers into those MediRecords holds (the settings object is replaced)."""
    offered = {name: intake.get(name) for name in NUMBER_FIELDS if intake.get(name)}
    if "medicare_number" not in offered:
        # An IRN or expiry means nothing without the card it belongs to.
        offered.pop("medicare_irn", None)
        offered.pop("medicare_expiry", None)
    if not offered:
        return []
    current = client.patient_numbers(patient.medirecords_patient_id)
    changes: dict[str, Any] = {}
    pending: list[PendingChange] = []
    for name, value in offered.items():
        held = getattr(current, name)
        if held == value:
            continue
        if held in (None, ""):
            changes[name] = value
        else:
            pending.append({"field": name, "value": value})
    if changes:
        client.patient_numbers_set(patient.medirecords_patient_id, dataclasses.replace(current, **changes))
    return pending


def _address_add(*, patient: Patient, address: AddressValue, client: MediRecordsClient) -> None:
    patient_id = patient.medirecords_patient_id
    wanted = Address(
        line1=address.line1,
        line2=address.line2 or None,
        suburb=address.suburb,
        state=address.state,
        postcode=address.postcode,
    )
    for held in client.patient_addresses(patient_id):
        if (
            normalised_name(held.line1) == normalised_name(wanted.line1)
            and normalised_name(held.line2) == normalised_name(wanted.line2)
            and normalised_name(held.suburb) == normalised_name(wanted.suburb)
            and held.postcode == wanted.postcode
            and held.state.upper() == wanted.state
        ):
            return
    client.patient_address_add(patient_id, wanted)


def _emergency_contact_add(*, patient: Patient, intake: CleanIntake, client: MediRecordsClient) -> None:
    patient_id = patient.medirecords_patient_id
    name = str(intake.get("emergency_contact_name"))
    mobile = medirecords_mobile(intake.get("emergency_contact_mobile") or "")
    for held in client.patient_emergency_contacts(patient_id):
        if normalised_name(held.contact_name) == normalised_name(name) and (held.mobile_phone or None) == mobile:
            return
    client.patient_emergency_contact_add(patient_id, EmergencyContact(contact_name=name, mobile_phone=mobile))


def _held(record: MediRecordsPatient, name: str) -> Any:
    if name == "mobile":
        return record.mobile_phone
    if name == "date_of_birth":
        return record.dob
    if name == "sex":
        return record.gender
    return getattr(record, name)


def _same(name: str, held: Any, value: Any) -> bool:
    if held in (None, ""):
        return False
    if name == "mobile":
        return bool(held == medirecords_mobile(value))
    if name == "sex":
        return bool(held == _GENDERS.get(value))
    if name in ("first_name", "last_name", "email"):
        return normalised_name(str(held)) == normalised_name(str(value))
    return bool(held == value)


def _to_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _from_json(name: str, value: Any) -> Any:
    return date.fromisoformat(value) if name == "date_of_birth" else value
