"""The sandbox's state (patients, their records, appointments) and every operation on it.

Each operation validates its input the way the API is known, or assumed (README "Assumptions"), to
validate, and answers a `(status, body)` pair or raises `ApiError` with the documented error body.
One lock serialises all operations, as the server answers requests on many threads.

With a data file the state is loaded at start and written after every change: to a temporary file
first, then renamed over the old one, so that a crash never leaves half a file behind.
"""

import base64
import contextlib
import copy
import hashlib
import json
import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medirecords.sandbox import fhir, rsql
from medirecords.sandbox.multipart import Part
from medirecords.sandbox.seed import (
    APPOINTMENT_TYPES,
    INTERVAL_CODES,
    PRACTICE_ID,
    PRACTICE_NAME,
    PROVIDERS,
    REGULAR_SESSIONS,
    TITLE_CODES,
)
from medirecords.sandbox.validation import (
    FieldErrors,
    birth_date_problem,
    bounded_string_problem,
    email_problem,
    fhir_error,
    field_error,
    is_blank,
    is_int,
    mobile_problem,
    not_found,
    optional_boolean_problem,
    optional_string_problem,
    page_body,
    paging,
    schedule_time_problem,
    year_month_problem,
)

Result = tuple[int, Any]

PATIENT_CREATE_FIELDS = (
    "defaultPracticeId",
    "usualDoctorId",
    "titleCode",
    "firstName",
    "lastName",
    "gender",
    "dob",
    "patientStatusCode",
    "email",
    "mobilePhone",
    "homePhone",
    "contactMethod",
    "notes",
)
# The order a read answers them in.
PATIENT_READ_FIELDS = (
    "id",
    "titleCode",
    "firstName",
    "middleName",
    "lastName",
    "fullName",
    "preferredName",
    "gender",
    "genderCode",
    "dob",
    "email",
    "mobilePhone",
    "homePhone",
    "workPhone",
    "contactMethod",
    "notes",
    "defaultPracticeId",
    "usualDoctorId",
    "patientStatusCode",
    "createdDateTime",
    "updatedDateTime",
)
SEARCH_FIELDS = ("firstName", "lastName", "dob", "email", "mobilePhone")
ADDRESS_FIELDS = ("addressType", "addressLine1", "addressLine2", "cityCode", "postcode", "stateCode", "countryCode")
ADDRESS_LINE_MAX = 50
# Limits a strict MediRecords may hold us to (README assumptions 11 and 12), refused, not cut.
NAME_MAX = 100
NOTES_MAX = 500
SETTINGS_FIELDS = ("medicareNo", "medicareIRN", "medicareExpiry", "dvaNo", "ihiNo", "healthFundNo")
RELATIONSHIP_FIELDS = ("relationshipCode", "contactName", "contactMethod", "mobilePhone", "isEmergency", "isNOK")
DOCUMENT_FIELDS = (
    "subject",
    "practiceId",
    "patientId",
    "importDate",
    "category",
    "senderType",
    "senderId",
    "recipientId",
)
APPOINTMENT_FIELDS = (
    "patientId",
    "providerId",
    "appointmentTypeId",
    "scheduleTime",
    "appointmentIntervalCode",
    "appointmentStatus",
    "cancellationReason",
    "roomId",
    "notes",
    "urgency",
    "emailReminder",
    "reminderMethod",
    "reminderType",
    "allowDoubleBookingForPatient",
    "allowDoubleBookingForProvider",
)
BOOKED = 2
CANCELLED = 8
APPOINTMENT_STATUSES = range(2, 9)

_FILE_FORMAT_VERSION = 1
_TITLE_CODE_TEXTS = {str(code) for code in TITLE_CODES.values()}
_INTERVAL_CODE_TEXTS = set(INTERVAL_CODES.values())
_PROVIDER_IDS = {provider["id"] for provider in PROVIDERS.values()}
_APPOINTMENT_TYPE_IDS = {appointment_type["id"] for appointment_type in APPOINTMENT_TYPES}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _new_id() -> str:
    return str(uuid.uuid4())


def _json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise field_error("body", None, "must be a JSON object")
    return body


def _required(errors: FieldErrors, fields: Mapping[str, Any], name: str) -> Any:
    """The field's value; a missing or null field is reported and gives None."""
    value = fields.get(name)
    if value is None:
        errors.add(name, None, "must not be null")
    return value


class Store:
    """Everything the sandbox holds. Public methods are thread-safe."""

    def __init__(self, data_file: str | os.PathLike[str] | None = None, base_url: str = "") -> None:
        self._lock = threading.RLock()
        self.data_file = Path(data_file) if data_file is not None else None
        # Prefix of appointments' confirmation links; the server sets it once it knows its port.
        self.base_url = base_url
        self._clear()
        if self.data_file is not None and self.data_file.exists():
            self._load(self.data_file)

    def _clear(self) -> None:
        self._patients: dict[str, dict[str, Any]] = {}
        self._addresses: dict[str, list[dict[str, Any]]] = {}
        self._settings: dict[str, dict[str, Any]] = {}
        self._relationships: dict[str, list[dict[str, Any]]] = {}
        self._documents: dict[str, list[dict[str, Any]]] = {}
        self._document_content: dict[str, bytes] = {}
        self._appointments: dict[str, dict[str, Any]] = {}

    # Inspection, for tests and the control endpoints.

    def patients(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._patients.values()))

    def appointments(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._appointments.values()))

    def document_content(self, document_id: str) -> bytes:
        with self._lock:
            return self._document_content[document_id]

    def snapshot(self) -> dict[str, Any]:
        """Everything stored, reference data included; document bytes are left out (see `sha256`)."""
        with self._lock:
            return copy.deepcopy(
                {
                    "practice": {"id": PRACTICE_ID, "name": PRACTICE_NAME},
                    "providers": list(PROVIDERS.values()),
                    "appointmentTypes": APPOINTMENT_TYPES,
                    "intervalCodes": self._interval_codes(),
                    "regularSessions": REGULAR_SESSIONS,
                    "patients": list(self._patients.values()),
                    "addresses": self._addresses,
                    "settings": self._settings,
                    "relationships": self._relationships,
                    "documents": self._documents,
                    "appointments": list(self._appointments.values()),
                }
            )

    def reset(self) -> None:
        """Forgets everything but the reference data."""
        with self._lock:
            self._clear()
            self._save()

    # Patients.

    def patient_create(self, body: Any) -> Result:
        fields = _json_object(body)
        errors = FieldErrors()
        practice_id = _required(errors, fields, "defaultPracticeId")
        if practice_id is not None and practice_id != PRACTICE_ID:
            errors.add("defaultPracticeId", practice_id, f"No Practice for id: {practice_id}")
        errors.check(
            "firstName", fields.get("firstName"), bounded_string_problem(fields.get("firstName"), max_length=NAME_MAX)
        )
        last_name = _required(errors, fields, "lastName")
        if last_name is not None and is_blank(last_name):
            errors.add("lastName", last_name, "must not be blank")
        elif last_name is not None:
            errors.check("lastName", last_name, bounded_string_problem(last_name, max_length=NAME_MAX))
        gender = _required(errors, fields, "gender")
        if gender is not None and not (is_int(gender) and gender in (1, 2, 3)):
            errors.add("gender", gender, "must be 1 (female), 2 (male) or 3 (other)")
        dob = _required(errors, fields, "dob")
        if dob is not None:
            errors.check("dob", dob, birth_date_problem(dob))
        _required(errors, fields, "patientStatusCode")
        for name, problem in (("mobilePhone", mobile_problem), ("email", email_problem)):
            if fields.get(name) is not None:
                errors.check(name, fields[name], problem(fields[name]))
        title_code = fields.get("titleCode")
        if title_code is not None and not (isinstance(title_code, str | int) and str(title_code) in _TITLE_CODE_TEXTS):
            errors.add("titleCode", title_code, f"must be one of {', '.join(sorted(_TITLE_CODE_TEXTS))}")
        errors.raise_if_any()

        now = _now()
        patient_id = _new_id()
        values: dict[str, Any] = {name: fields.get(name) for name in PATIENT_CREATE_FIELDS} | {
            "id": patient_id,
            "middleName": None,
            "preferredName": None,
            "workPhone": None,
            "genderCode": gender,
            "createdDateTime": now,
            "updatedDateTime": now,
        }
        values["fullName"] = _full_name(values)
        patient = {name: values[name] for name in PATIENT_READ_FIELDS}
        with self._lock:
            self._patients[patient_id] = patient
            self._save()
            return 201, copy.deepcopy(patient)

    def patient_get(self, patient_id: str) -> Result:
        with self._lock:
            return 200, copy.deepcopy(self._patient(patient_id))

    def patients_search(self, query: Mapping[str, str]) -> Result:
        errors = FieldErrors()
        expression: rsql.Node | None = None
        text = query.get("q", "")
        if text.strip():
            try:
                expression = rsql.parse(text, SEARCH_FIELDS)
            except rsql.RsqlError as error:
                errors.add("q", text, f"invalid search expression: {error}")
        page = paging(query, errors)
        errors.raise_if_any()
        with self._lock:
            found = [
                copy.deepcopy(patient)
                for patient in self._patients.values()
                if expression is None or rsql.matches(expression, patient)
            ]
        return 200, page_body(found, page)

    def patients_exist(self, query: Mapping[str, str]) -> Result:
        email = query.get("email", "")
        if not email:
            raise field_error("email", email, "must not be blank")
        with self._lock:
            return 200, [
                {"id": patient["id"]}
                for patient in self._patients.values()
                if isinstance(patient["email"], str) and patient["email"].casefold() == email.casefold()
            ]

    def _patient(self, patient_id: str) -> dict[str, Any]:
        try:
            return self._patients[patient_id]
        except KeyError:
            raise not_found(f"No Patient for id: {patient_id}") from None

    # A patient's addresses, settings, relationships and documents.

    def _patient_rows(self, patient_id: str, rows: Callable[[], Mapping[str, list[dict[str, Any]]]]) -> Result:
        """The patient's rows of one kind, as the API lists them; a 404 for no such patient.
        `rows` is read under the lock: a reset or a load replaces the collections."""
        with self._lock:
            self._patient(patient_id)
            return 200, {"data": copy.deepcopy(rows().get(patient_id, []))}

    def addresses_list(self, patient_id: str) -> Result:
        return self._patient_rows(patient_id, lambda: self._addresses)

    def address_create(self, patient_id: str, body: Any) -> Result:
        with self._lock:
            self._patient(patient_id)
            fields = _json_object(body)
            errors = FieldErrors()
            line = _required(errors, fields, "addressLine1")
            if line is not None and (is_blank(line) or len(line) > ADDRESS_LINE_MAX):
                errors.add("addressLine1", line, f"must be between 1 and {ADDRESS_LINE_MAX} characters")
            for name in ("addressLine2", "cityCode", "postcode", "stateCode", "countryCode"):
                errors.check(name, fields.get(name), optional_string_problem(fields.get(name)))
            errors.raise_if_any()
            address = {"id": _new_id(), "patientId": patient_id} | {name: fields.get(name) for name in ADDRESS_FIELDS}
            self._addresses.setdefault(patient_id, []).append(address)
            self._save()
            return 201, copy.deepcopy(address)

    def settings_get(self, patient_id: str) -> Result:
        with self._lock:
            self._patient(patient_id)
            return 200, copy.deepcopy(self._settings_of(patient_id))

    def settings_replace(self, patient_id: str, body: Any) -> Result:
        with self._lock:
            self._patient(patient_id)
            fields = _json_object(body)
            errors = FieldErrors()
            if fields.get("patientId") not in (None, patient_id):
                errors.add("patientId", fields["patientId"], "must be the patient in the path")
            for name in SETTINGS_FIELDS:
                errors.check(name, fields.get(name), optional_string_problem(fields.get(name)))
            if isinstance(fields.get("medicareExpiry"), str):
                errors.check("medicareExpiry", fields["medicareExpiry"], year_month_problem(fields["medicareExpiry"]))
            errors.raise_if_any()
            settings = {"patientId": patient_id} | {name: fields.get(name) for name in SETTINGS_FIELDS}
            self._settings[patient_id] = settings
            self._save()
            return 200, copy.deepcopy(settings)

    def _settings_of(self, patient_id: str) -> dict[str, Any]:
        default = {"patientId": patient_id} | dict.fromkeys(SETTINGS_FIELDS)
        return self._settings.get(patient_id, default)

    def relationships_list(self, patient_id: str) -> Result:
        return self._patient_rows(patient_id, lambda: self._relationships)

    def relationship_create(self, patient_id: str, body: Any) -> Result:
        with self._lock:
            self._patient(patient_id)
            fields = _json_object(body)
            errors = FieldErrors()
            for name in ("isEmergency", "isNOK"):
                errors.check(name, fields.get(name), optional_boolean_problem(fields.get(name)))
            errors.raise_if_any()
            relationship = {"id": _new_id(), "patientId": patient_id} | {
                name: fields.get(name) for name in RELATIONSHIP_FIELDS
            }
            self._relationships.setdefault(patient_id, []).append(relationship)
            self._save()
            return 201, copy.deepcopy(relationship)

    def documents_list(self, patient_id: str) -> Result:
        return self._patient_rows(patient_id, lambda: self._documents)

    def document_create(self, patient_id: str, parts: Sequence[Part]) -> Result:
        with self._lock:
            self._patient(patient_id)
            errors = FieldErrors()
            fields: dict[str, str | None] = dict.fromkeys(DOCUMENT_FIELDS)
            # An empty part stands for a missing attachment, so that there is always one to read.
            attachment = Part(name="attachment", filename=None, content_type=None, data=b"")
            for part in parts:
                if part.name == "attachment":
                    attachment = part
                elif part.name in fields:
                    try:
                        fields[part.name] = part.data.decode("utf-8")
                    except UnicodeDecodeError:
                        errors.add(part.name, None, "must be UTF-8 text")
            if not attachment.data:
                errors.add("attachment", None, "a non-empty file is required")
            if fields["patientId"] not in (None, patient_id):
                errors.add("patientId", fields["patientId"], "must be the patient in the path")
            if fields["practiceId"] not in (None, PRACTICE_ID):
                errors.add("practiceId", fields["practiceId"], f"No Practice for id: {fields['practiceId']}")
            errors.raise_if_any()

            document: dict[str, Any] = {"id": _new_id()} | fields
            document.update(
                patientId=patient_id,
                filename=attachment.filename,
                contentType=attachment.content_type,
                size=len(attachment.data),
                sha256=hashlib.sha256(attachment.data).hexdigest(),
                createdDateTime=_now(),
            )
            self._documents.setdefault(patient_id, []).append(document)
            self._document_content[document["id"]] = attachment.data
            self._save()
            return 201, copy.deepcopy(document)

    # FHIR Patient.

    def fhir_patient_get(self, patient_id: str) -> Result:
        with self._lock:
            patient = self._fhir_patient(patient_id)
            return 200, fhir.patient_resource(patient, self._settings_of(patient_id)["medicareNo"])

    def fhir_patient_put(self, patient_id: str, resource: Any) -> Result:
        with self._lock:
            patient = self._fhir_patient(patient_id)
            changes, problems = fhir.read_patient(resource, patient_id)
            if changes is None:
                raise fhir_error(400, "invalid", problems)
            patient.update(
                firstName=changes.first_name,
                middleName=changes.middle_name,
                lastName=changes.last_name,
                gender=changes.gender,
                genderCode=changes.gender,
                dob=changes.dob,
                email=changes.email,
                mobilePhone=changes.mobile_phone,
                updatedDateTime=_now(),
            )
            patient["fullName"] = _full_name(patient)
            self._settings[patient_id] = self._settings_of(patient_id) | {"medicareNo": changes.medicare_number}
            self._save()
            return 200, fhir.patient_resource(patient, changes.medicare_number)

    def _fhir_patient(self, patient_id: str) -> dict[str, Any]:
        try:
            return self._patients[patient_id]
        except KeyError:
            raise fhir_error(404, "not-found", [f"No Patient for id: {patient_id}"]) from None

    # The practice and its reference data.

    def practice_get(self, practice_id: str) -> Result:
        _practice(practice_id)
        return 200, {"id": PRACTICE_ID, "name": PRACTICE_NAME}

    def providers_list(self, practice_id: str, query: Mapping[str, str]) -> Result:
        _practice(practice_id)
        status = query.get("status")
        providers = [dict(p) for p in PROVIDERS.values() if status is None or p["status"] == status]
        return 200, {"data": providers}

    def appointment_types_list(self, practice_id: str) -> Result:
        _practice(practice_id)
        return 200, {"data": [dict(appointment_type) for appointment_type in APPOINTMENT_TYPES]}

    def regular_sessions_list(self, practice_id: str, query: Mapping[str, str]) -> Result:
        _practice(practice_id)
        user_id = query.get("userId")
        return 200, {"data": [dict(s) for s in REGULAR_SESSIONS if user_id is None or s["userId"] == user_id]}

    def interval_codes(self) -> Result:
        return 200, {"data": self._interval_codes()}

    @staticmethod
    def _interval_codes() -> list[dict[str, str]]:
        return [{"code": code, "display": f"{minutes} min"} for minutes, code in sorted(INTERVAL_CODES.items())]

    # Appointments.

    def appointments_list(self, practice_id: str, query: Mapping[str, str]) -> Result:
        _practice(practice_id)
        errors = FieldErrors()
        for name in ("appointmentDateRangeStart", "appointmentDateRangeEnd"):
            if query.get(name):
                errors.check(name, query[name], schedule_time_problem(query[name]))
        status: int | None = None
        if query.get("appointmentStatus"):
            try:
                status = int(query["appointmentStatus"])
            except ValueError:
                errors.add("appointmentStatus", query["appointmentStatus"], "appointmentStatus must be an integer")
        page = paging(query, errors)
        errors.raise_if_any()

        start, end = query.get("appointmentDateRangeStart"), query.get("appointmentDateRangeEnd")
        exact = {name: query[name] for name in ("providerId", "patientId", "appointmentTypeId") if query.get(name)}
        with self._lock:
            found = [
                copy.deepcopy(appointment)
                for appointment in self._appointments.values()
                # Zero-padded wall-clock times compare correctly as strings; both ends are inclusive.
                if (not start or appointment["scheduleTime"] >= start)
                and (not end or appointment["scheduleTime"] <= end)
                and (status is None or appointment["appointmentStatus"] == status)
                and all(appointment[name] == value for name, value in exact.items())
            ]
        found.sort(key=lambda appointment: (appointment["scheduleTime"], appointment["id"]))
        return 200, page_body(found, page)

    def appointment_get(self, practice_id: str, appointment_id: str) -> Result:
        _practice(practice_id)
        with self._lock:
            return 200, copy.deepcopy(self._appointment(appointment_id))

    def appointment_create(self, practice_id: str, body: Any) -> Result:
        _practice(practice_id)
        with self._lock:
            fields = self._appointment_fields(body)
            now = _now()
            appointment_id = _new_id()
            appointment = {"id": appointment_id, "practiceId": PRACTICE_ID} | fields
            appointment.update(
                confirmationLink=f"{self.base_url}/confirm/{appointment_id}",
                createdDateTime=now,
                updatedDateTime=now,
            )
            self._appointments[appointment_id] = appointment
            self._save()
            return 201, copy.deepcopy(appointment)

    def appointment_replace(self, practice_id: str, appointment_id: str, body: Any) -> Result:
        """Replaces the whole appointment (README assumption 3); what the server sets is kept."""
        _practice(practice_id)
        with self._lock:
            existing = self._appointment(appointment_id)
            fields = self._appointment_fields(body)
            appointment = {"id": appointment_id, "practiceId": existing["practiceId"]} | fields
            appointment.update(
                confirmationLink=existing["confirmationLink"],
                createdDateTime=existing["createdDateTime"],
                updatedDateTime=_now(),
            )
            self._appointments[appointment_id] = appointment
            self._save()
            return 200, copy.deepcopy(appointment)

    def appointment_delete(self, practice_id: str, appointment_id: str) -> Result:
        _practice(practice_id)
        with self._lock:
            self._appointment(appointment_id)
            del self._appointments[appointment_id]
            self._save()
            return 204, None

    def _appointment(self, appointment_id: str) -> dict[str, Any]:
        try:
            return self._appointments[appointment_id]
        except KeyError:
            raise not_found(f"No Appointment for id: {appointment_id}") from None

    def _appointment_fields(self, body: Any) -> dict[str, Any]:
        """The validated appointment fields of a create or whole-object update."""
        fields = _json_object(body)
        errors = FieldErrors()
        for name, known, kind in (
            ("patientId", self._patients, "Patient"),
            ("providerId", _PROVIDER_IDS, "Provider"),
            ("appointmentTypeId", _APPOINTMENT_TYPE_IDS, "Appointment Type"),
        ):
            value = _required(errors, fields, name)
            if value is not None and not (isinstance(value, str) and value in known):
                errors.add(name, value, f"No {kind} for id: {value}")
        schedule_time = _required(errors, fields, "scheduleTime")
        if schedule_time is not None:
            errors.check("scheduleTime", schedule_time, schedule_time_problem(schedule_time))
        interval_code = _required(errors, fields, "appointmentIntervalCode")
        # Strict as a typed server would be: public clients send the code as an integer, and a
        # client that sends the code system's text ("11") is refused (README assumption 4).
        if interval_code is not None and not is_int(interval_code):
            errors.add("appointmentIntervalCode", interval_code, "must be an integer")
        elif interval_code is not None and str(interval_code) not in _INTERVAL_CODE_TEXTS:
            errors.add(
                "appointmentIntervalCode", interval_code, "must be a code of the appointment-interval-code system"
            )
        status = fields.get("appointmentStatus")
        if status is None:
            status = BOOKED
        elif not (is_int(status) and status in APPOINTMENT_STATUSES):
            errors.add("appointmentStatus", status, "must be an integer from 2 (booked) to 8 (cancelled)")
        # A code, typed as a number by public clients (README assumption 3): words are refused.
        reason = fields.get("cancellationReason")
        if status == CANCELLED and reason is None:
            errors.add("cancellationReason", reason, "must not be null when the appointment is cancelled")
        elif reason is not None and not is_int(reason):
            errors.add("cancellationReason", reason, "must be an integer (a cancellation reason code)")
        urgency = fields.get("urgency")
        if urgency is not None and not (is_int(urgency) and urgency in (1, 2)):
            errors.add("urgency", urgency, "must be 1 (normal) or 2 (urgent)")
        for name in ("emailReminder", "allowDoubleBookingForPatient", "allowDoubleBookingForProvider"):
            errors.check(name, fields.get(name), optional_boolean_problem(fields.get(name)))
        errors.check("notes", fields.get("notes"), bounded_string_problem(fields.get("notes"), max_length=NOTES_MAX))
        errors.raise_if_any()
        return {name: fields.get(name) for name in APPOINTMENT_FIELDS} | {"appointmentStatus": status}

    # Persistence.

    def _save(self) -> None:
        if self.data_file is None:
            return
        state = {
            "version": _FILE_FORMAT_VERSION,
            "patients": self._patients,
            "addresses": self._addresses,
            "settings": self._settings,
            "relationships": self._relationships,
            "documents": self._documents,
            "documentContent": {
                document_id: base64.b64encode(content).decode("ascii")
                for document_id, content in self._document_content.items()
            },
            "appointments": self._appointments,
        }
        self.data_file.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=f".{self.data_file.name}.", dir=self.data_file.parent)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                json.dump(state, stream, ensure_ascii=False)
            os.replace(temporary, self.data_file)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise

    def _load(self, path: Path) -> None:
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            if state.get("version") != _FILE_FORMAT_VERSION:
                raise ValueError(f"version {state.get('version')!r}, expected {_FILE_FORMAT_VERSION}")
            self._patients = state["patients"]
            self._addresses = state["addresses"]
            self._settings = state["settings"]
            self._relationships = state["relationships"]
            self._documents = state["documents"]
            self._document_content = {
                document_id: base64.b64decode(content) for document_id, content in state["documentContent"].items()
            }
            self._appointments = state["appointments"]
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path} is not a sandbox data file: {error}") from error


def _practice(practice_id: str) -> None:
    if practice_id != PRACTICE_ID:
        raise not_found(f"No Practice for id: {practice_id}")


def _full_name(patient: Mapping[str, Any]) -> str:
    return " ".join(name for name in (patient["firstName"], patient["middleName"], patient["lastName"]) if name)
