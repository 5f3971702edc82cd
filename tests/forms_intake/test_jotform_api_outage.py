"""While JotForm's API cannot be asked, a delivery fails and waits for a retry; it is not taken as forged."""

from datetime import timedelta

import pytest
import requests
import responses
from django.utils import timezone

from bookings.inbox.deliveries import delivery_replay, inbox_sweep
from bookings.models import DeliveryStatus, InboundDelivery, Patient
from forms_intake.models import FormSubmission, SubmissionStatus
from tests.forms_intake.conftest import FULL_FORM_ID, SUBMISSION_ID, full_intake

pytestmark = pytest.mark.django_db(transaction=False)

API_URL = "https://api.jotform.test"
SUBMISSION_URL = f"{API_URL}/v1/submission/{SUBMISSION_ID}"
API_ANSWERS = {
    "3": {"name": "fullName", "answer": {"first": "Jane", "last": "Citizen"}},
    "4": {"name": "email", "answer": "jane.citizen@example.com.au"},
    "6": {"name": "dateOf", "answer": {"day": "28", "month": "02", "year": "1981"}},
}


@pytest.fixture
def jotform_api(settings):
    settings.JOTFORM_API_KEY = "jotform-key"
    settings.JOTFORM_API_URL = API_URL
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add_passthru(settings.MEDIRECORDS_API_URL)
        mocked.add_passthru(settings.MEDIRECORDS_FHIR_URL)
        yield mocked


def answered_normally(mocked: responses.RequestsMock) -> None:
    mocked.replace(
        responses.GET,
        SUBMISSION_URL,
        json={"responseCode": 200, "content": {"id": SUBMISSION_ID, "form_id": FULL_FORM_ID, "answers": API_ANSWERS}},
    )


def assert_failed_and_nothing_pushed(delivery: InboundDelivery, jane_booking, mr_client, reason: str) -> None:
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert "JotFormUnavailable" in delivery.last_error
    assert reason in delivery.last_error
    assert "forged" not in delivery.last_error
    assert delivery.processed_at is None
    assert not FormSubmission.objects.filter(status=SubmissionStatus.REJECTED).exists()
    patient_id = jane_booking.patient.medirecords_patient_id
    assert mr_client.patient_get(patient_id).dob.isoformat() == "1900-01-01"
    assert mr_client.patient_addresses(patient_id) == []
    assert Patient.objects.get(pk=jane_booking.patient.pk).placeholder_fields == ["date_of_birth", "sex", "mobile"]


@pytest.mark.parametrize(
    ("api_answer", "reason"),
    [
        ({"body": requests.ReadTimeout("read timed out")}, "ReadTimeout"),
        ({"status": 503, "json": {"responseCode": 503, "message": "Service Unavailable"}}, "503"),
    ],
    ids=["timeout", "503"],
)
def test_an_unreachable_api_leaves_the_delivery_failed_until_a_replay(
    api_answer, reason, post_form, jane_booking, mr_client, jotform_api, django_capture_on_commit_callbacks
):
    jotform_api.get(SUBMISSION_URL, **api_answer)
    body, content_type = full_intake()

    with django_capture_on_commit_callbacks(execute=True):
        assert post_form("/forms/full", body, content_type).status_code == 200

    delivery = InboundDelivery.objects.get()
    assert_failed_and_nothing_pushed(delivery, jane_booking, mr_client, reason)
    # The sweep takes it up again once its retry is due.
    assert inbox_sweep(now=timezone.now()) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert inbox_sweep(now=timezone.now() + timedelta(days=1)) == 1
    assert_failed_and_nothing_pushed(delivery, jane_booking, mr_client, reason)
    assert delivery.attempts == 2

    answered_normally(jotform_api)
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery_replay(delivery_ids=[delivery.pk]) == 1

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PROCESSED
    assert delivery.last_error == ""
    record = mr_client.patient_get(jane_booking.patient.medirecords_patient_id)
    # JotForm's answers, not the webhook's (which say 1980-02-29 and carry an address).
    assert record.dob.isoformat() == "1981-02-28"
    assert mr_client.patient_addresses(jane_booking.patient.medirecords_patient_id) == []
    submission = FormSubmission.objects.get(submission_id=SUBMISSION_ID)
    assert submission.status == SubmissionStatus.PROCESSED
    assert submission.booking == jane_booking
    assert [call.request.url for call in jotform_api.calls if call.request.url.startswith(API_URL)] == [
        SUBMISSION_URL
    ] * 3
