"""Shapes the real API may give or want differently from what we first assumed.

Read liberally (a duration as minutes or as "1 hr 30 mins", an interval code as a number or a
string), and send what public clients send (an integer interval code, a numeric cancellation
reason). The sandbox is strict in the same ways, so the client is tested against it.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from medirecords import AppointmentStatus, AppointmentType, Gender, MediRecordsClient, NewAppointment, NewPatient
from medirecords.client import notes_with
from medirecords.errors import MediRecordsError, UnreadableResponseError, is_transient
from medirecords.sandbox import PRACTICE_ID, SANDBOX_PRACTITIONERS, SandboxServer
from medirecords.types import Appointment, Patient, duration_minutes_read
from tests.medirecords.sandbox_bodies import patient_body

SYDNEY = ZoneInfo("Australia/Sydney")
TOKEN = "shapes-token"
DR_DIA = SANDBOX_PRACTITIONERS["dr-dia"]
STARTS = datetime(2026, 12, 8, 10, 0, tzinfo=SYDNEY)


@pytest.mark.parametrize(
    ("duration", "minutes"),
    [
        (45, 45),
        (45.0, 45),
        ("45", 45),
        (" 30 ", 30),
        ("45 mins", 45),
        ("45 min", 45),
        ("5 minutes", 5),
        ("1 hr", 60),
        ("4 hrs", 240),
        ("1 hour", 60),
        ("1 hr 30 mins", 90),
        ("1h30m", 90),
        ("2 Hours 15 Mins", 135),
        (None, None),
        ("", None),
        ("soon", None),
        (True, None),
        (-5, None),
    ],
)
def test_an_appointment_types_duration_is_read_as_minutes_in_any_of_its_forms(duration, minutes):
    assert duration_minutes_read(duration) == minutes
    assert AppointmentType.from_api({"id": "t", "name": "Long", "duration": duration}).duration_minutes == minutes


@pytest.mark.parametrize("code", [11, "11"])
def test_an_appointments_interval_code_is_read_as_a_number_or_a_string(code):
    appointment = Appointment.from_api(
        {"id": "a", "scheduleTime": "2026-12-08T10:00", "appointmentIntervalCode": code}, time_zone=SYDNEY
    )
    assert appointment.interval_code == "11"


@pytest.mark.parametrize(
    ("read", "field"),
    [
        (lambda: Patient.from_api({"id": "p", "lastName": "Citizen", "dob": "31/02/1980"}), "a patient's dob"),
        (
            lambda: Appointment.from_api({"id": "a", "scheduleTime": "8 December, 10am"}, time_zone=SYDNEY),
            "an appointment's scheduleTime",
        ),
        (
            lambda: Appointment.from_api(
                {"id": "a", "scheduleTime": "2026-12-08T10:00", "appointmentStatus": "later"}, time_zone=SYDNEY
            ),
            "an appointment's appointmentStatus",
        ),
    ],
)
def test_a_record_that_cannot_be_read_is_a_medirecords_error_naming_the_field_not_the_value(read, field):
    with pytest.raises(UnreadableResponseError) as unreadable:
        read()
    assert isinstance(unreadable.value, MediRecordsError), "the push and the console handle it as MediRecords' failure"
    assert not is_transient(unreadable.value), "the same record reads the same next time"
    assert str(unreadable.value) == f"MediRecords sent {field} that cannot be read"


def test_a_new_appointment_sends_its_interval_code_as_an_integer():
    appointment = NewAppointment(
        patient_id="p", provider_id="v", appointment_type_id="t", starts_at=STARTS, interval_code="11"
    )
    assert appointment.to_api(time_zone=SYDNEY)["appointmentIntervalCode"] == 11


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer(token=TOKEN) as server:
        yield server


@pytest.fixture
def client(sandbox):
    sandbox.reset()
    return MediRecordsClient(
        sandbox.api_url, TOKEN, PRACTICE_ID, fhir_url=sandbox.fhir_url, time_zone=SYDNEY, timeout=(2.0, 5.0)
    )


@pytest.fixture
def appointment(client):
    patient = client.patient_create(NewPatient(last_name="Citizen", gender=Gender.FEMALE, dob=date(1980, 2, 29)))
    return client.appointment_create(
        NewAppointment(
            patient_id=patient.id,
            provider_id=DR_DIA["provider_id"],
            appointment_type_id=DR_DIA["appointment_type_id"],
            starts_at=STARTS,
            interval_code=client.interval_code_for(45),
            notes="Reason: follow-up",
        )
    )


def api_put(sandbox, appointment_id: str, body: dict[str, object]) -> requests.Response:
    return requests.put(
        f"{sandbox.api_url}/practices/{PRACTICE_ID}/appointments/{appointment_id}",
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )


class TestTheSandboxIsStrict:
    def test_it_serves_some_appointment_types_durations_as_text(self, client, sandbox):
        response = requests.get(
            f"{sandbox.api_url}/practices/{PRACTICE_ID}/appointment-types",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=5,
        )
        durations = [row["duration"] for row in response.json()["data"]]
        assert any(isinstance(duration, str) for duration in durations)
        assert any(isinstance(duration, int) for duration in durations)
        assert all(t.duration_minutes for t in client.appointment_types())

    def test_it_refuses_an_interval_code_given_as_a_string(self, sandbox, appointment):
        stored = sandbox.store.appointments()[0]
        response = api_put(sandbox, appointment.id, stored | {"appointmentIntervalCode": "11"})
        assert response.status_code == 400
        assert [error["parameter"] for error in response.json()["errors"]] == ["appointmentIntervalCode"]

    def test_it_refuses_a_cancellation_reason_given_as_words(self, sandbox, appointment):
        stored = sandbox.store.appointments()[0]
        response = api_put(sandbox, appointment.id, stored | {"appointmentStatus": 8, "cancellationReason": "Unwell"})
        assert response.status_code == 400
        assert [error["parameter"] for error in response.json()["errors"]] == ["cancellationReason"]

    def test_it_refuses_notes_over_500_characters(self, sandbox, appointment):
        stored = sandbox.store.appointments()[0]
        assert api_put(sandbox, appointment.id, stored | {"notes": "n" * 500}).status_code == 200
        response = api_put(sandbox, appointment.id, stored | {"notes": "n" * 501})
        assert response.status_code == 400
        assert [error["parameter"] for error in response.json()["errors"]] == ["notes"]

    @pytest.mark.parametrize("field", ["firstName", "lastName"])
    def test_it_refuses_a_name_over_100_characters(self, client, sandbox, field):
        response = requests.post(
            f"{sandbox.api_url}/patients",
            json=patient_body(**{field: "C" * 101}),
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=5,
        )
        assert response.status_code == 400
        assert [error["parameter"] for error in response.json()["errors"]] == [field]


class TestNotesWith:
    """The cancellation's words join the notes within the limit, never at the booking line's cost."""

    def test_what_fits_is_joined_as_a_new_line(self):
        assert notes_with("Reason: review\nBooked (booking #7).", note="Cancelled.", max_length=500) == (
            "Reason: review\nBooked (booking #7).\nCancelled."
        )

    def test_the_start_gives_way_and_says_so(self):
        joined = notes_with("Reason: " + "r" * 480 + "\nBooked (booking #7).", note="Cancelled.", max_length=500)
        assert len(joined) == 500
        assert joined.endswith("r[\u2026]\nBooked (booking #7).\nCancelled.")

    def test_no_notes_yet_is_just_the_note(self):
        assert notes_with("", note="Cancelled.", max_length=500) == "Cancelled."


class TestTheClientSendsWhatPublicClientsSend:
    def test_create_and_reschedule_send_an_integer_interval_code(self, client, sandbox, appointment):
        assert sandbox.store.appointments()[0]["appointmentIntervalCode"] == 11
        moved = client.appointment_reschedule(appointment.id, starts_at=STARTS.replace(hour=11), interval_code="9")
        assert moved.interval_code == "9"
        assert sandbox.store.appointments()[0]["appointmentIntervalCode"] == 9

    def test_a_cancellation_sends_the_reason_as_a_number_and_the_words_in_the_notes(self, client, sandbox, appointment):
        cancelled = client.appointment_cancel(appointment.id, reason_code=3, note="Cancelled through Calendly.")

        assert cancelled.status == AppointmentStatus.CANCELLED
        stored = sandbox.store.appointments()[0]
        assert stored["cancellationReason"] == 3
        assert stored["notes"] == "Reason: follow-up\nCancelled through Calendly."

    def test_a_cancellation_can_carry_the_latest_time_in_the_same_update(self, client, sandbox, appointment):
        puts_before = sum(1 for seen in sandbox.requests if seen["method"] == "PUT")
        client.appointment_cancel(
            appointment.id, reason_code=3, note="Cancelled.", starts_at=STARTS.replace(hour=15), interval_code="9"
        )
        stored = sandbox.store.appointments()[0]
        assert (stored["appointmentStatus"], stored["scheduleTime"], stored["appointmentIntervalCode"]) == (
            8,
            "2026-12-08T15:00",
            9,
        )
        assert sum(1 for seen in sandbox.requests if seen["method"] == "PUT") == puts_before + 1


def test_ping_answers_while_the_api_does_and_raises_when_it_fails(client, sandbox):
    from medirecords import ServerError

    client.ping()
    sandbox.set_faults(fail_next=[{"status": 500, "count": 1}])
    with pytest.raises(ServerError):
        client.ping()
