"""JotForm posts, encryption keys and the MediRecords sandbox for the intake form tests."""

from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet

from bookings.models import Booking
from medirecords import Gender, NewPatient
from tests.bookings.conftest import FIXTURES, SANDBOX_TOKEN, mr_client, sandbox, sandbox_practitioner, sandbox_server  # noqa: F401
from tests.bookings.factories import BookingFactory, PatientFactory

WEBHOOK_TOKEN = "jotform-test-token"
FULL_FORM_ID = "251234567890123"
MINI_FORM_ID = "251234567890001"
TRIAGE_FORM_ID = "251234567890002"
SUBMISSION_ID = "6312345678901234567"
FIRST_KEY = Fernet.generate_key().decode()


def full_intake() -> tuple[bytes, str]:
    """The recorded full intake webhook: body bytes and content type, as JotForm posts them."""
    body = (FIXTURES / "jotform-full-intake.multipart").read_bytes()
    content_type = (FIXTURES / "jotform-full-intake.content-type").read_text().strip()
    return body, content_type


def full_intake_with(**raw_changes: object) -> tuple[bytes, str]:
    """The full intake with rawRequest answers replaced (the JSON keeps its key order)."""
    import json

    body, content_type = full_intake()
    head, _, rest = body.partition(b'name="rawRequest"\r\n\r\n')
    raw, _, tail = rest.partition(b"\r\n--")
    answers = json.loads(raw)
    answers.update(raw_changes)
    return head + b'name="rawRequest"\r\n\r\n' + json.dumps(answers).encode() + b"\r\n--" + tail, content_type


# Just before the bookings the tests make (BookingFactory's and the recorded submissions', from
# 2026-12-03 on): matching looks for the patient's next upcoming booking, whatever today is.
NOW = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _before_the_bookings(time_machine):
    time_machine.move_to(NOW, tick=True)


@pytest.fixture(autouse=True)
def _intake_settings(settings):
    settings.JOTFORM_WEBHOOK_TOKEN = WEBHOOK_TOKEN
    settings.JOTFORM_API_KEY = ""
    settings.FIELD_ENCRYPTION_KEYS = [FIRST_KEY]


@pytest.fixture
def post_form(client):
    def post(path: str, body: bytes, content_type: str, token: str | None = WEBHOOK_TOKEN):
        url = path if token is None else f"{path}?token={token}"
        return client.generic("POST", url, data=body, content_type=content_type)

    return post


@pytest.fixture
def jane_booking(db, sandbox, mr_client, sandbox_practitioner):  # noqa: F811 - the imported fixtures
    """Jane Citizen's booking, her MediRecords record made from it with placeholders."""
    record = mr_client.patient_create(
        NewPatient(
            last_name="Citizen",
            first_name="Jane",
            gender=Gender.OTHER,
            dob=datetime(1900, 1, 1, tzinfo=UTC).date(),
            email="jane.citizen@example.com.au",
        )
    )
    patient = PatientFactory(
        first_name="Jane",
        last_name="Citizen",
        email="jane.citizen@example.com.au",
        date_of_birth=None,
        sex="",
        mobile="",
        medirecords_patient_id=record.id,
        placeholder_fields=["date_of_birth", "sex", "mobile"],
    )
    booking: Booking = BookingFactory(patient=patient, practitioner=sandbox_practitioner("dr-dia"))
    return booking
