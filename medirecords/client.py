"""`MediRecordsClient`: every call the service makes to MediRecords.

One `requests.Session`, bearer auth, JSON; a timeout on every call; retries only where a
repeat cannot do harm (GET, PUT, DELETE), never for POST. Errors are turned into the
hierarchy in `medirecords.errors`. See README.md beside this file for the API as we know it
and the assumptions we had to make.
"""

import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests

from medirecords import rsql
from medirecords.errors import (
    AuthError,
    FieldError,
    MediRecordsError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnknownIntervalError,
    ValidationError,
)
from medirecords.schedule_time import to_schedule_time
from medirecords.types import (
    JSON,
    Address,
    Appointment,
    AppointmentStatus,
    AppointmentType,
    DemographicsUpdate,
    Document,
    EmergencyContact,
    Gender,
    IntervalCode,
    NewAppointment,
    NewPatient,
    Patient,
    PatientNumbers,
    Provider,
    RegularSession,
    code_for_api,
)

logger = logging.getLogger("medirecords")

PAGE_SIZE_MAX = 50
# A runaway guard: 500 pages of 50 is far more than any query of ours should return.
PAGES_MAX = 500
RETRYABLE_METHODS = frozenset({"GET", "PUT", "DELETE"})
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
MEDICARE_SYSTEM = "http://ns.electronichealth.net.au/id/medicare-number"
FHIR_JSON = "application/fhir+json"
# The status given to patients we create. Unconfirmed: 1 is taken to mean "active".
DEFAULT_PATIENT_STATUS_CODE = 1
# The appointment notes' limit that public notes on the API give (unconfirmed; see README).
DEFAULT_NOTES_MAX_LENGTH = 500

_FHIR_GENDER = {Gender.FEMALE: "female", Gender.MALE: "male", Gender.OTHER: "other"}
_MINUTES_IN_DISPLAY = re.compile(r"(\d+)\s*(min|minute|minutes|h|hr|hour|hours)\b", re.IGNORECASE)

Timeout = float | tuple[float, float]


class MediRecordsClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        practice_id: str,
        fhir_url: str | None = None,
        fhir_token: str | None = None,
        *,
        timeout: Timeout = (5.0, 20.0),
        session: requests.Session | None = None,
        time_zone: str | ZoneInfo = "Australia/Sydney",
        max_retries: int = 3,
        backoff_seconds: float = 0.5,
        backoff_max_seconds: float = 10.0,
        retry_after_max_seconds: float = 30.0,
        patient_status_code: int = DEFAULT_PATIENT_STATUS_CODE,
        notes_max_length: int = DEFAULT_NOTES_MAX_LENGTH,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.fhir_url = (fhir_url or "").rstrip("/") or None
        self.practice_id = practice_id
        self.time_zone = time_zone if isinstance(time_zone, ZoneInfo) else ZoneInfo(time_zone)
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.retry_after_max_seconds = retry_after_max_seconds
        self.patient_status_code = patient_status_code
        self.notes_max_length = notes_max_length
        self._token = token
        self._fhir_token = fhir_token or token
        self._session = session or requests.Session()
        self._sleep = sleep
        self._interval_codes: list[IntervalCode] | None = None

    # --- Patients ---------------------------------------------------------------------

    def patients_search(
        self, *, first_name: str | None = None, last_name: str | None = None, dob: date | None = None
    ) -> list[Patient]:
        """Patients whose names and date of birth equal those given (all pages)."""
        comparisons = {
            name: value
            for name, value in (
                ("firstName", first_name),
                ("lastName", last_name),
                ("dob", dob.isoformat() if dob else None),
            )
            if value
        }
        if not comparisons:
            raise ValueError("search needs at least one of first_name, last_name, dob")
        rows = self._get_all_pages("/patients/search", "/patients/search", params={"q": rsql.all_of(comparisons)})
        return [Patient.from_api(row) for row in rows]

    def patient_ids_by_email(self, email: str) -> list[str]:
        """Ids of the patients MediRecords holds with this email address."""
        rows = self._request("GET", "/patients/exist", "/patients/exist", params={"email": email})
        return [row["id"] for row in rows or []]

    def patient_get(self, patient_id: str) -> Patient:
        return Patient.from_api(self._request("GET", f"/patients/{patient_id}", "/patients/{id}"))

    def patient_create(self, patient: NewPatient) -> Patient:
        """Create a patient. A `TransportError` means it may exist now: search before retrying."""
        body = patient.to_api(practice_id=self.practice_id, patient_status_code=self.patient_status_code)
        return Patient.from_api(self._request("POST", "/patients", "/patients", json=body))

    def patient_update_demographics(self, patient_id: str, update: DemographicsUpdate) -> None:
        """Change demographics through FHIR: read the Patient resource, change it, put it back."""
        path = f"/Patient/{patient_id}"
        resource = self._request("GET", path, "/Patient/{id}", fhir=True)
        self._request("PUT", path, "/Patient/{id}", fhir=True, json=_fhir_patient_updated(resource, update))

    def patient_addresses(self, patient_id: str) -> list[Address]:
        data = self._request("GET", f"/patients/{patient_id}/addresses", "/patients/{id}/addresses")
        return [Address.from_api(row) for row in _rows(data)]

    def patient_address_add(self, patient_id: str, address: Address) -> None:
        self._request("POST", f"/patients/{patient_id}/addresses", "/patients/{id}/addresses", json=address.to_api())

    def patient_numbers(self, patient_id: str) -> PatientNumbers:
        return PatientNumbers.from_api(
            self._request("GET", f"/patients/{patient_id}/settings", "/patients/{id}/settings") or {}
        )

    def patient_numbers_set(self, patient_id: str, numbers: PatientNumbers) -> None:
        """Set Medicare, DVA, IHI and health fund numbers (the settings object is replaced)."""
        body = numbers.to_api(patient_id=patient_id)
        self._request("POST", f"/patients/{patient_id}/settings", "/patients/{id}/settings", json=body)

    def patient_emergency_contacts(self, patient_id: str) -> list[EmergencyContact]:
        data = self._request("GET", f"/patients/{patient_id}/relationships", "/patients/{id}/relationships")
        return [EmergencyContact.from_api(row) for row in _rows(data)]

    def patient_emergency_contact_add(self, patient_id: str, contact: EmergencyContact) -> None:
        path = f"/patients/{patient_id}/relationships"
        self._request("POST", path, "/patients/{id}/relationships", json=contact.to_api())

    def patient_documents(self, patient_id: str) -> list[Document]:
        path = f"/upload/patients/{patient_id}/correspondences/inbounds"
        data = self._request("GET", path, "/upload/patients/{id}/correspondences/inbounds")
        return [Document.from_api(row) for row in _rows(data)]

    def patient_document_attach(
        self,
        patient_id: str,
        *,
        subject: str,
        filename: str,
        content: bytes,
        content_type: str = "application/pdf",
        category: str = "",
        sender_type: str = "",
        sender_id: str = "",
        recipient_id: str = "",
        import_date: date | None = None,
    ) -> None:
        """Attach a document to the patient's file as inbound correspondence."""
        fields = {
            "subject": subject,
            "practiceId": self.practice_id,
            "patientId": patient_id,
            "importDate": (import_date or datetime.now(tz=self.time_zone).date()).isoformat(),
            "category": category,
            "senderType": sender_type,
            "senderId": sender_id,
            "recipientId": recipient_id,
        }
        path = f"/upload/patients/{patient_id}/correspondences/inbounds"
        self._request(
            "POST",
            path,
            "/upload/patients/{id}/correspondences/inbounds",
            data=fields,
            files={"attachment": (filename, content, content_type)},
        )

    # --- Appointments -----------------------------------------------------------------

    def appointments_list(
        self,
        *,
        start: datetime,
        end: datetime,
        provider_id: str | None = None,
        patient_id: str | None = None,
        status: AppointmentStatus | None = None,
        appointment_type_id: str | None = None,
    ) -> list[Appointment]:
        """Appointments from `start` to `end` (aware datetimes), every page."""
        params = {
            "appointmentDateRangeStart": to_schedule_time(start, time_zone=self.time_zone),
            "appointmentDateRangeEnd": to_schedule_time(end, time_zone=self.time_zone),
            "providerId": provider_id,
            "patientId": patient_id,
            "appointmentStatus": int(status) if status is not None else None,
            "appointmentTypeId": appointment_type_id,
        }
        rows = self._get_all_pages(self._appointments_path(), "/practices/{pid}/appointments", params=params)
        return [Appointment.from_api(row, time_zone=self.time_zone) for row in rows]

    def appointment_get(self, appointment_id: str) -> Appointment:
        data = self._request("GET", self._appointments_path(appointment_id), "/practices/{pid}/appointments/{id}")
        return Appointment.from_api(data, time_zone=self.time_zone)

    def appointment_create(self, appointment: NewAppointment) -> Appointment:
        """Create an appointment. A `TransportError` means it may exist now: list before retrying."""
        body = appointment.to_api(time_zone=self.time_zone)
        data = self._request("POST", self._appointments_path(), "/practices/{pid}/appointments", json=body)
        return Appointment.from_api(data, time_zone=self.time_zone)

    def appointment_reschedule(
        self, appointment_id: str, *, starts_at: datetime, interval_code: str | None = None
    ) -> Appointment:
        """Move an appointment: the whole object read back, with the new time."""
        return self._appointment_update(appointment_id, self._schedule_changes(starts_at, interval_code))

    def appointment_cancel(
        self,
        appointment_id: str,
        *,
        reason_code: int,
        note: str = "",
        starts_at: datetime | None = None,
        interval_code: str | None = None,
    ) -> Appointment:
        """Cancel an appointment, in one update: the reason as a code, its words added to the
        notes, and (when given) the time and length the booking last had, so an appointment
        whose move never reached MediRecords is not left cancelled at its old time."""
        changes: JSON = {"appointmentStatus": int(AppointmentStatus.CANCELLED), "cancellationReason": reason_code}
        if starts_at is not None:
            changes |= self._schedule_changes(starts_at, interval_code)
        return self._appointment_update(appointment_id, changes, note=note)

    def appointment_update(self, appointment_id: str, changes: Mapping[str, Any]) -> Appointment:
        """Change any fields of an appointment (API field names), sending the whole object."""
        return self._appointment_update(appointment_id, dict(changes))

    def appointment_delete(self, appointment_id: str) -> None:
        self._request("DELETE", self._appointments_path(appointment_id), "/practices/{pid}/appointments/{id}")

    def _appointment_update(self, appointment_id: str, changes: JSON, *, note: str = "") -> Appointment:
        path = self._appointments_path(appointment_id)
        current = self._request("GET", path, "/practices/{pid}/appointments/{id}")
        body = {**current, **changes}
        # Sent back as a number even where the read gave it as text.
        if body.get("appointmentIntervalCode") is not None:
            body["appointmentIntervalCode"] = code_for_api(body["appointmentIntervalCode"])
        if note:
            body["notes"] = notes_with(current.get("notes") or "", note=note, max_length=self.notes_max_length)
        data = self._request("PUT", path, "/practices/{pid}/appointments/{id}", json=body)
        return Appointment.from_api(data, time_zone=self.time_zone)

    def _schedule_changes(self, starts_at: datetime, interval_code: str | None) -> JSON:
        changes: JSON = {"scheduleTime": to_schedule_time(starts_at, time_zone=self.time_zone)}
        if interval_code is not None:
            changes["appointmentIntervalCode"] = code_for_api(interval_code)
        return changes

    def _appointments_path(self, appointment_id: str | None = None) -> str:
        path = f"/practices/{self.practice_id}/appointments"
        return f"{path}/{appointment_id}" if appointment_id else path

    # --- Reference data ---------------------------------------------------------------

    def ping(self) -> None:
        """One cheap read that succeeds only while MediRecords answers: the practice's record."""
        self._request("GET", f"/practices/{self.practice_id}", "/practices/{pid}")

    def providers(self, *, active_only: bool = True) -> list[Provider]:
        params = {"status": "Active"} if active_only else {}
        path = f"/practices/{self.practice_id}/providers"
        data = self._request("GET", path, "/practices/{pid}/providers", params=params)
        return [Provider.from_api(row) for row in _rows(data)]

    def appointment_types(self) -> list[AppointmentType]:
        path = f"/practices/{self.practice_id}/appointment-types"
        data = self._request("GET", path, "/practices/{pid}/appointment-types")
        return [AppointmentType.from_api(row) for row in _rows(data)]

    def regular_sessions(self, *, user_id: str | None = None) -> list[RegularSession]:
        path = f"/practices/{self.practice_id}/regular-sessions"
        data = self._request("GET", path, "/practices/{pid}/regular-sessions", params={"userId": user_id})
        return [RegularSession.from_api(row) for row in _rows(data)]

    def interval_codes(self) -> list[IntervalCode]:
        """The appointment interval code system, read once per client and kept."""
        if self._interval_codes is None:
            path = "/code-system/appointment-interval-code"
            data = self._request("GET", path, path)
            self._interval_codes = [
                IntervalCode(code=str(row["code"]), display=str(row.get("display", "")), minutes=_minutes_in(row))
                for row in _rows(data)
            ]
        return self._interval_codes

    def interval_code_for(self, minutes: int) -> str:
        """The interval code of a duration; a duration the code system lacks is UnknownIntervalError."""
        for interval in self.interval_codes():
            if interval.minutes == minutes:
                return interval.code
        known = sorted(interval.minutes for interval in self.interval_codes() if interval.minutes)
        raise UnknownIntervalError(f"MediRecords has no appointment interval of {minutes} minutes (it has {known})")

    # --- HTTP -------------------------------------------------------------------------

    def _get_all_pages(self, path: str, path_template: str, *, params: Mapping[str, Any]) -> list[JSON]:
        return list(self._iterate_pages(path, path_template, params=params))

    def _iterate_pages(self, path: str, path_template: str, *, params: Mapping[str, Any]) -> Iterator[JSON]:
        for page in range(PAGES_MAX):
            data = self._request("GET", path, path_template, params={**params, "page": page, "size": PAGE_SIZE_MAX})
            rows = _rows(data)
            yield from rows
            if not rows or _is_last_page(data, page=page):
                return
        raise MediRecordsError(f"GET {path_template}: more than {PAGES_MAX} pages; narrow the query")

    def _request(
        self,
        method: str,
        path: str,
        path_template: str,
        *,
        fhir: bool = False,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> Any:
        """Send one request, retrying where that is safe, and return the decoded JSON body."""
        if fhir and not self.fhir_url:
            raise MediRecordsError("this client has no FHIR URL configured")
        url = f"{self.fhir_url if fhir else self.base_url}{path}"
        token = self._fhir_token if fhir else self._token
        headers = {"Authorization": f"Bearer {token}", "Accept": FHIR_JSON if fhir else "application/json"}
        if json is not None and fhir:
            headers["Content-Type"] = FHIR_JSON
        query = {key: value for key, value in (params or {}).items() if value is not None}
        retryable = method in RETRYABLE_METHODS

        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                response = self._session.request(
                    method,
                    url,
                    params=query,
                    json=json,
                    data=data,
                    files=files,
                    headers=headers,
                    timeout=self.timeout,
                )
            except requests.RequestException as error:
                self._log(method, path_template, None, started, attempt)
                if retryable and attempt <= self.max_retries:
                    self._sleep(self._backoff(attempt))
                    continue
                raise TransportError(f"{method} {path_template}: {type(error).__name__}") from error

            self._log(method, path_template, response.status_code, started, attempt)
            if response.status_code in RETRYABLE_STATUSES and retryable and attempt <= self.max_retries:
                wait = _retry_after(response)
                if wait is None:
                    wait = self._backoff(attempt)
                if wait <= self.retry_after_max_seconds:
                    self._sleep(wait)
                    continue
            return _decoded(response, method=method, path_template=path_template)

    def _backoff(self, attempt: int) -> float:
        """Exponential back-off with full jitter, so many workers do not retry in step."""
        ceiling = min(self.backoff_max_seconds, self.backoff_seconds * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not a secret

    @staticmethod
    def _log(method: str, path_template: str, status: int | None, started: float, attempt: int) -> None:
        logger.info(
            "medirecords call",
            extra={
                "method": method,
                "path": path_template,
                "status": status,
                "attempt": attempt,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )


def notes_with(current: str, *, note: str, max_length: int) -> str:
    """`current` notes with `note` added as a new last line, within `max_length` characters.

    When both do not fit, the start of `current` gives way (marked with "[…]"), never its last
    line (ours end with the booking's number, by which a lost create is found) nor `note`.
    """
    joined = "\n".join(part for part in (current, note) if part)
    if len(joined) <= max_length:
        return joined
    head, _, last_line = current.rpartition("\n")
    mark = "[\u2026]"
    room = max_length - len(last_line) - len(note) - 2 - len(mark)
    kept_head = f"{head[: max(room, 0)].rstrip()}{mark}" if head and room > 0 else ""
    return "\n".join(part for part in (kept_head, last_line, note) if part)[:max_length]


def _decoded(response: requests.Response, *, method: str, path_template: str) -> Any:
    status = response.status_code
    where = f"{method} {path_template}"
    if status == 204 or (200 <= status < 300 and not response.content):
        return None
    try:
        body = response.json()
    except ValueError:
        if 200 <= status < 300:
            raise TransportError(f"{where}: the response is not JSON", status=status) from None
        body = {}
    if 200 <= status < 300:
        return body
    message = _error_message(body) or response.reason or "error"
    if status == 400:
        errors = _field_errors(body)
        summary = "; ".join(f"{error.parameter}: {error.message}" for error in errors) or message
        raise ValidationError(f"{where} refused: {summary}", errors=errors, status=status)
    if status in (401, 403):
        raise AuthError(f"{where}: {message}", status=status)
    if status == 404:
        raise NotFoundError(f"{where}: {message}", status=status)
    if status == 429:
        raise RateLimitedError(f"{where}: rate limited", retry_after=_retry_after(response), status=status)
    if status >= 500:
        raise ServerError(f"{where}: MediRecords answered {status}", status=status)
    raise MediRecordsError(f"{where}: unexpected {status}: {message}", status=status)


def _rows(data: Any) -> list[JSON]:
    """The rows of a list answer, whether wrapped in `{"data": [...]}` or a bare list."""
    if isinstance(data, dict):
        return list(data.get("data") or [])
    return list(data or [])


def _is_last_page(data: Any, *, page: int) -> bool:
    if not isinstance(data, dict):
        return True
    if data.get("last") is not None:
        return bool(data["last"])
    total_pages = data.get("totalPages")
    return total_pages is None or page + 1 >= int(total_pages)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare here, and back-off serves as well


def _error_message(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    if body.get("resourceType") == "OperationOutcome":
        return "; ".join(str(issue.get("diagnostics", "")) for issue in body.get("issue", []))
    return str(body.get("message") or "")


def _field_errors(body: Any) -> list[FieldError]:
    if not isinstance(body, dict):
        return []
    if body.get("resourceType") == "OperationOutcome":
        return [
            FieldError(
                parameter=str(issue.get("expression", [""])[0] if issue.get("expression") else ""),
                value=None,
                message=str(issue.get("diagnostics", "")),
            )
            for issue in body.get("issue", [])
        ]
    return [
        FieldError(
            parameter=str(error.get("parameter", "")), value=error.get("value"), message=str(error.get("message", ""))
        )
        for error in body.get("errors", [])
        if isinstance(error, dict)
    ]


def _minutes_in(row: JSON) -> int | None:
    match = _MINUTES_IN_DISPLAY.search(str(row.get("display", "")))
    if not match:
        return None
    amount, unit = int(match.group(1)), match.group(2).lower()
    return amount if unit.startswith("min") else amount * 60


def _fhir_patient_updated(resource: JSON, update: DemographicsUpdate) -> JSON:
    """The Patient resource with the update applied; everything else stays as read."""
    patient = dict(resource)
    if update.first_name is not None or update.last_name is not None:
        names = [dict(name) for name in patient.get("name") or [{"use": "official"}]]
        if update.last_name is not None:
            names[0]["family"] = update.last_name
        if update.first_name is not None:
            names[0]["given"] = [update.first_name, *list(names[0].get("given") or [])[1:]]
        patient["name"] = names
    if update.dob is not None:
        patient["birthDate"] = update.dob.isoformat()
    if update.gender is not None:
        patient["gender"] = _FHIR_GENDER[update.gender]
    telecom = [dict(entry) for entry in patient.get("telecom") or []]
    if update.email is not None:
        telecom = [entry for entry in telecom if entry.get("system") != "email"]
        telecom.append({"system": "email", "value": update.email})
    if update.mobile_phone is not None:
        telecom = [entry for entry in telecom if not (entry.get("system") == "phone" and entry.get("use") == "mobile")]
        telecom.append({"system": "phone", "use": "mobile", "value": update.mobile_phone})
    if update.email is not None or update.mobile_phone is not None:
        patient["telecom"] = telecom
    if update.medicare_number is not None:
        identifiers = [
            dict(entry) for entry in patient.get("identifier") or [] if entry.get("system") != MEDICARE_SYSTEM
        ]
        identifiers.append({"system": MEDICARE_SYSTEM, "value": update.medicare_number})
        patient["identifier"] = identifiers
    return patient
