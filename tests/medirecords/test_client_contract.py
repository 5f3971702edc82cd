"""The client against the sandbox over real HTTP: every operation, every error kind."""

import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from medirecords import (
    Address,
    AppointmentStatus,
    AuthError,
    DemographicsUpdate,
    EmergencyContact,
    Gender,
    MediRecordsClient,
    NewAppointment,
    NewPatient,
    NotFoundError,
    PatientNumbers,
    RateLimitedError,
    ServerError,
    TransportError,
    ValidationError,
)
from medirecords.sandbox import PRACTICE_ID, SANDBOX_PRACTITIONERS, SandboxServer

SYDNEY = ZoneInfo("Australia/Sydney")
TOKEN = "contract-token"
DR_DIA = SANDBOX_PRACTITIONERS["dr-dia"]
NURSE = SANDBOX_PRACTITIONERS["nurse"]


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer(token=TOKEN) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_sandbox(sandbox):
    sandbox.reset()
    sandbox.set_faults(latency_ms=0, error_rate=0.0, rate_limit_rate=0.0, timeout_rate=0.0, drop_create_rate=0.0)


def make_client(sandbox, **overrides):
    options = {"timeout": (2.0, 5.0), "backoff_seconds": 0.01, "time_zone": SYDNEY, **overrides}
    return MediRecordsClient(sandbox.api_url, TOKEN, PRACTICE_ID, fhir_url=sandbox.fhir_url, **options)


@pytest.fixture
def client(sandbox):
    return make_client(sandbox)


def jane(**overrides):
    fields = {"last_name": "Citizen", "first_name": "Jane", "gender": Gender.FEMALE, "dob": date(1980, 2, 29)}
    return NewPatient(**{**fields, **overrides})


def appointment_for(patient_id, starts_at, practitioner=DR_DIA, interval_code="11"):
    return NewAppointment(
        patient_id=patient_id,
        provider_id=practitioner["provider_id"],
        appointment_type_id=practitioner["appointment_type_id"],
        starts_at=starts_at,
        interval_code=interval_code,
    )


def requests_seen(sandbox, method, path_part):
    return [seen for seen in sandbox.requests if seen["method"] == method and path_part in seen["path"]]


class TestPatients:
    def test_create_then_get(self, client):
        created = client.patient_create(jane(email="jane.citizen@example.com.au", mobile_phone="0412345678"))
        fetched = client.patient_get(created.id)
        assert fetched == created
        assert (fetched.first_name, fetched.last_name, fetched.dob) == ("Jane", "Citizen", date(1980, 2, 29))
        assert fetched.gender == Gender.FEMALE
        assert fetched.mobile_phone == "0412345678"

    def test_search_by_name_and_date_of_birth(self, client):
        wanted = client.patient_create(jane())
        client.patient_create(jane(dob=date(1981, 3, 1)))
        client.patient_create(jane(first_name="Janet"))

        found = client.patients_search(first_name="Jane", last_name="Citizen", dob=date(1980, 2, 29))
        assert [patient.id for patient in found] == [wanted.id]

    @pytest.mark.parametrize("last_name", ["O'Brien-Nguyễn", "Smith, Jones", "Lee;Park", 'Say "Hi"', "Van der Berg"])
    def test_search_finds_names_with_reserved_characters_and_nothing_else(self, client, last_name):
        wanted = client.patient_create(jane(last_name=last_name))
        client.patient_create(jane(last_name="Smith"))
        found = client.patients_search(last_name=last_name, dob=date(1980, 2, 29))
        assert [patient.id for patient in found] == [wanted.id]

    def test_find_by_email(self, client):
        created = client.patient_create(jane(email="jane.citizen@example.com.au"))
        assert client.patient_ids_by_email("jane.citizen@example.com.au") == [created.id]
        assert client.patient_ids_by_email("nobody@example.com.au") == []

    def test_update_demographics_through_fhir(self, client):
        created = client.patient_create(jane(last_name="Placeholder", dob=date(1900, 1, 1), gender=Gender.OTHER))
        client.patient_update_demographics(
            created.id,
            DemographicsUpdate(
                last_name="Citizen",
                dob=date(1980, 2, 29),
                gender=Gender.FEMALE,
                mobile_phone="0412345678",
                email="jane.citizen@example.com.au",
            ),
        )
        updated = client.patient_get(created.id)
        assert (updated.last_name, updated.first_name, updated.dob) == ("Citizen", "Jane", date(1980, 2, 29))
        assert (updated.gender, updated.mobile_phone, updated.email) == (
            Gender.FEMALE,
            "0412345678",
            "jane.citizen@example.com.au",
        )

    def test_address(self, client):
        patient = client.patient_create(jane())
        address = Address(line1="1 Crown Street", suburb="Surry Hills", postcode="2010", state="NSW")
        client.patient_address_add(patient.id, address)
        assert client.patient_addresses(patient.id) == [address]

    def test_medicare_and_other_numbers(self, client):
        patient = client.patient_create(jane())
        numbers = PatientNumbers(medicare_number="2123456701", medicare_irn="1", medicare_expiry="2029-07")
        client.patient_numbers_set(patient.id, numbers)
        assert client.patient_numbers(patient.id) == numbers

    def test_emergency_contact(self, client):
        patient = client.patient_create(jane())
        contact = EmergencyContact(contact_name="John Citizen", mobile_phone="0498765432", is_next_of_kin=True)
        client.patient_emergency_contact_add(patient.id, contact)
        [stored] = client.patient_emergency_contacts(patient.id)
        assert (stored.contact_name, stored.mobile_phone, stored.is_emergency, stored.is_next_of_kin) == (
            "John Citizen",
            "0498765432",
            True,
            True,
        )

    def test_attach_a_document(self, client, sandbox):
        patient = client.patient_create(jane())
        client.patient_document_attach(
            patient.id, subject="Triage summary", filename="triage.txt", content=b"summary", content_type="text/plain"
        )
        [document] = client.patient_documents(patient.id)
        assert (document.subject, document.filename) == ("Triage summary", "triage.txt")

    def test_the_logs_name_the_call_but_not_the_patient(self, client, caplog):
        with caplog.at_level(logging.INFO, logger="medirecords"):
            client.patients_search(first_name="Jane", last_name="Citizen", dob=date(1980, 2, 29))
        [record] = [record for record in caplog.records if record.name == "medirecords"]
        assert (record.method, record.path, record.status) == ("GET", "/patients/search", 200)
        assert "Citizen" not in record.getMessage() + str(vars(record))
        # The date as the query carried it; a bare "1980" can turn up in the record's timestamps.
        assert "1980-02-29" not in str(vars(record))


class TestAppointments:
    STARTS = datetime(2026, 12, 3, 23, 30, tzinfo=UTC)  # 10:30 in Sydney on 4 December

    def test_create_lands_in_the_providers_calendar_at_local_time(self, client, sandbox):
        patient = client.patient_create(jane())
        created = client.appointment_create(appointment_for(patient.id, self.STARTS))

        assert created.starts_at == self.STARTS
        assert created.status == AppointmentStatus.BOOKED
        assert created.provider_id == DR_DIA["provider_id"]
        assert client.appointment_get(created.id).raw["scheduleTime"] == "2026-12-04T10:30"

    def test_list_filters_by_provider_and_date_range(self, client):
        patient = client.patient_create(jane())
        mine = client.appointment_create(appointment_for(patient.id, self.STARTS))
        client.appointment_create(appointment_for(patient.id, self.STARTS, practitioner=NURSE, interval_code="9"))
        client.appointment_create(appointment_for(patient.id, self.STARTS + timedelta(days=3)))

        listed = client.appointments_list(
            start=self.STARTS - timedelta(hours=1),
            end=self.STARTS + timedelta(hours=1),
            provider_id=DR_DIA["provider_id"],
            patient_id=patient.id,
        )
        assert [appointment.id for appointment in listed] == [mine.id]

    def test_list_follows_every_page(self, client, sandbox):
        patient = client.patient_create(jane())
        for slot in range(120):
            client.appointment_create(appointment_for(patient.id, self.STARTS + timedelta(minutes=15 * slot)))

        listed = client.appointments_list(start=self.STARTS, end=self.STARTS + timedelta(days=2))
        assert len(listed) == 120
        assert len({appointment.id for appointment in listed}) == 120
        pages = [seen["query"] for seen in requests_seen(sandbox, "GET", "/appointments")]
        assert len(pages) == 3
        assert all("size=50" in query for query in pages)

    def test_reschedule_and_cancel(self, client):
        patient = client.patient_create(jane())
        created = client.appointment_create(appointment_for(patient.id, self.STARTS))

        moved = client.appointment_reschedule(created.id, starts_at=self.STARTS + timedelta(days=1))
        assert moved.starts_at == self.STARTS + timedelta(days=1)
        assert (moved.notes, moved.provider_id) == (created.notes, created.provider_id)

        cancelled = client.appointment_cancel(created.id, reason_code=2, note="Patient asked to cancel")
        assert cancelled.status == AppointmentStatus.CANCELLED
        assert cancelled.cancellation_reason == "2"
        assert (cancelled.notes or "").endswith("Patient asked to cancel")
        assert client.appointment_get(created.id).starts_at == self.STARTS + timedelta(days=1)

    def test_delete(self, client):
        patient = client.patient_create(jane())
        created = client.appointment_create(appointment_for(patient.id, self.STARTS))
        client.appointment_delete(created.id)
        with pytest.raises(NotFoundError):
            client.appointment_get(created.id)

    @pytest.mark.parametrize(
        "wall_time",
        [
            # The Saturday, Sunday and Monday of the change to daylight time (4 October 2026)...
            datetime(2026, 10, 3, 9, 0),  # noqa: DTZ001
            datetime(2026, 10, 4, 9, 0),  # noqa: DTZ001
            datetime(2026, 10, 5, 9, 0),  # noqa: DTZ001
            # ...and back to standard time (4 April 2027).
            datetime(2027, 4, 3, 9, 0),  # noqa: DTZ001
            datetime(2027, 4, 4, 9, 0),  # noqa: DTZ001
            datetime(2027, 4, 5, 9, 0),  # noqa: DTZ001
        ],
    )
    def test_schedule_time_round_trips_across_daylight_saving(self, client, wall_time):
        patient = client.patient_create(jane())
        starts_at = wall_time.replace(tzinfo=SYDNEY)
        created = client.appointment_create(appointment_for(patient.id, starts_at.astimezone(UTC)))

        assert client.appointment_get(created.id).raw["scheduleTime"] == wall_time.strftime("%Y-%m-%dT%H:%M")
        assert client.appointment_get(created.id).starts_at == starts_at


class TestReferenceData:
    def test_providers_are_the_practitioners(self, client):
        ids = {provider.id for provider in client.providers()}
        assert ids == {practitioner["provider_id"] for practitioner in SANDBOX_PRACTITIONERS.values()}

    def test_appointment_types(self, client):
        ids = {appointment_type.id for appointment_type in client.appointment_types()}
        assert {practitioner["appointment_type_id"] for practitioner in SANDBOX_PRACTITIONERS.values()} <= ids

    def test_interval_codes_are_read_once_and_map_durations(self, client, sandbox):
        assert [client.interval_code_for(minutes) for minutes in (5, 10, 15, 20)] == ["2", "4", "6", "7"]
        assert client.interval_code_for(45)
        assert len(requests_seen(sandbox, "GET", "appointment-interval-code")) == 1
        with pytest.raises(ValueError, match="no appointment interval of 7 minutes"):
            client.interval_code_for(7)

    def test_regular_sessions(self, client):
        sessions = client.regular_sessions(user_id=DR_DIA["provider_id"])
        assert sessions
        assert {session.user_id for session in sessions} == {DR_DIA["provider_id"]}


class TestErrors:
    def test_a_wrong_token_is_an_auth_error(self, sandbox):
        client = MediRecordsClient(sandbox.api_url, "wrong", PRACTICE_ID)
        with pytest.raises(AuthError):
            client.providers()

    def test_an_unknown_patient_is_not_found(self, client):
        with pytest.raises(NotFoundError, match="No Patient for id"):
            client.patient_get("5b0e3f2a-0000-4000-8000-000000000000")

    def test_bad_fields_are_a_validation_error_naming_them(self, client):
        with pytest.raises(ValidationError) as raised:
            client.patient_create(jane(mobile_phone="0298765432"))
        assert [error.parameter for error in raised.value.errors] == ["mobilePhone"]

    def test_a_persistent_server_error_is_raised_after_the_retries(self, client, sandbox):
        sandbox.set_faults(fail_next=[{"status": 500, "count": 10, "method": "GET"}])
        with pytest.raises(ServerError):
            client.providers()
        # 500 is not among the statuses worth retrying: one try.
        assert len(requests_seen(sandbox, "GET", "/providers")) == 1

    def test_a_503_on_a_get_is_retried_until_it_succeeds(self, client, sandbox):
        sandbox.set_faults(fail_next=[{"status": 503, "count": 2, "method": "GET"}])
        assert len(client.providers()) == 5
        assert len(requests_seen(sandbox, "GET", "/providers")) == 3

    def test_a_429_is_honoured_with_its_retry_after(self, client, sandbox):
        sandbox.set_faults(fail_next=[{"status": 429, "count": 1, "method": "GET", "retry_after": 1}])
        assert len(client.providers()) == 5
        first, second = requests_seen(sandbox, "GET", "/providers")
        assert first["status"] == 429
        assert second["time"] - first["time"] >= 1.0

    def test_a_retry_after_beyond_the_clients_patience_is_raised(self, sandbox):
        client = make_client(sandbox, retry_after_max_seconds=5)
        sandbox.set_faults(fail_next=[{"status": 429, "count": 1, "method": "GET", "retry_after": 60}])
        with pytest.raises(RateLimitedError) as raised:
            client.providers()
        assert raised.value.retry_after == 60

    def test_a_create_whose_response_is_lost_is_not_retried(self, client, sandbox):
        sandbox.set_faults(fail_next=[{"drop": True, "count": 1, "method": "POST", "path_prefix": "/v1/patients"}])
        with pytest.raises(TransportError):
            client.patient_create(jane())
        assert len(requests_seen(sandbox, "POST", "/patients")) == 1
        # It took effect: the caller must look it up before creating again.
        assert len(client.patients_search(last_name="Citizen", dob=date(1980, 2, 29))) == 1

    def test_a_create_that_times_out_is_not_retried(self, sandbox):
        client = make_client(sandbox, timeout=(2.0, 0.3))
        sandbox.set_faults(timeout_rate=1.0, timeout_seconds=1.0, seed=1)
        with pytest.raises(TransportError):
            client.patient_create(jane())
        sandbox.set_faults(timeout_rate=0.0)
        assert len(requests_seen(sandbox, "POST", "/patients")) == 1
