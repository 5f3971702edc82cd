"""The full intake, posted as JotForm posts it, updates the patient's MediRecords record."""

import pytest
import responses

from bookings.models import DeliveryStatus, InboundDelivery, Patient
from forms_intake.models import FormSubmission, SubmissionStatus
from tests.forms_intake.conftest import SUBMISSION_ID, full_intake, full_intake_with

pytestmark = pytest.mark.django_db(transaction=False)


def test_the_recorded_full_intake_updates_janes_record(
    post_form, jane_booking, mr_client, django_capture_on_commit_callbacks
):
    body, content_type = full_intake()

    with django_capture_on_commit_callbacks(execute=True):
        response = post_form("/forms/full", body, content_type)

    assert response.status_code == 200
    patient_id = jane_booking.patient.medirecords_patient_id
    record = mr_client.patient_get(patient_id)
    assert record.dob.isoformat() == "1980-02-29"
    assert record.gender.name == "FEMALE"
    assert record.mobile_phone == "0412345678"
    [address] = mr_client.patient_addresses(patient_id)
    assert (address.line1, address.line2, address.suburb, address.state, address.postcode) == (
        "12 Example Street",
        "Unit 3",
        "Surry Hills",
        "NSW",
        "2010",
    )
    numbers = mr_client.patient_numbers(patient_id)
    assert (numbers.medicare_number, numbers.medicare_irn, numbers.medicare_expiry) == ("2123456701", "1", "2029-07")
    [contact] = mr_client.patient_emergency_contacts(patient_id)
    assert (contact.contact_name, contact.mobile_phone) == ("John Citizen", "0498765432")

    patient = Patient.objects.get(pk=jane_booking.patient.pk)
    assert patient.placeholder_fields == []
    assert patient.date_of_birth.isoformat() == "1980-02-29"
    assert patient.mobile == "+61412345678"
    submission = FormSubmission.objects.get(submission_id=SUBMISSION_ID)
    assert submission.status == SubmissionStatus.PROCESSED
    assert submission.booking == jane_booking
    # Unmapped answers are kept.
    assert submission.answers["q17_consent"].startswith("I consent")


def test_wrong_or_missing_token_is_refused_and_nothing_stored(post_form, db, settings):
    body, content_type = full_intake()
    assert post_form("/forms/full", body, content_type, token="wrong").status_code == 403
    assert post_form("/forms/full", body, content_type, token=None).status_code == 403
    settings.JOTFORM_WEBHOOK_TOKEN = ""
    assert post_form("/forms/full", body, content_type, token="").status_code == 403
    assert not InboundDelivery.objects.exists()
    assert not FormSubmission.objects.exists()


def test_missing_ids_or_unreadable_answers_are_bad_requests(post_form, db):
    body, content_type = full_intake()
    broken = body.replace(b"6312345678901234567", b"")
    assert post_form("/forms/full", broken, content_type).status_code == 400
    unreadable = body.replace(b'{"slug"', b'{slug"')
    assert post_form("/forms/full", unreadable, content_type).status_code == 400
    assert not InboundDelivery.objects.exists()


def jotform_api_configured(settings) -> None:
    """JotForm's API key and address set (answered by `responses`); the MediRecords sandbox is
    still reached over real HTTP."""
    settings.JOTFORM_API_KEY = "jotform-key"
    settings.JOTFORM_API_URL = "https://api.jotform.test"
    responses.add_passthru(settings.MEDIRECORDS_API_URL)
    responses.add_passthru(settings.MEDIRECORDS_FHIR_URL)


@responses.activate
def test_a_submission_jotform_does_not_know_is_rejected_as_forged(
    post_form, jane_booking, mr_client, settings, django_capture_on_commit_callbacks
):
    jotform_api_configured(settings)
    responses.get(
        f"https://api.jotform.test/v1/submission/{SUBMISSION_ID}",
        json={"responseCode": 404, "message": "Submission not found"},
        status=404,
        match=[responses.matchers.header_matcher({"APIKEY": "jotform-key"})],
    )
    body, content_type = full_intake()

    with django_capture_on_commit_callbacks(execute=True):
        assert post_form("/forms/full", body, content_type).status_code == 200

    delivery = InboundDelivery.objects.get()
    assert delivery.status == DeliveryStatus.IGNORED
    assert "forged" in delivery.last_error
    submission = FormSubmission.objects.get()
    assert submission.status == SubmissionStatus.REJECTED
    assert submission.answers is None
    record = mr_client.patient_get(jane_booking.patient.medirecords_patient_id)
    assert record.dob.isoformat() == "1900-01-01"


@responses.activate
def test_with_an_api_key_only_jotforms_answers_are_trusted(
    post_form, jane_booking, mr_client, settings, django_capture_on_commit_callbacks
):
    jotform_api_configured(settings)
    answers = {
        "3": {"name": "fullName", "answer": {"first": "Jane", "last": "Citizen"}},
        "4": {"name": "email", "answer": "jane.citizen@example.com.au"},
        "6": {"name": "dateOf", "answer": {"day": "28", "month": "02", "year": "1981"}},
    }
    responses.get(
        f"https://api.jotform.test/v1/submission/{SUBMISSION_ID}",
        json={"responseCode": 200, "content": {"id": SUBMISSION_ID, "form_id": "251234567890123", "answers": answers}},
    )
    body, content_type = full_intake()

    with django_capture_on_commit_callbacks(execute=True):
        post_form("/forms/full", body, content_type)

    record = mr_client.patient_get(jane_booking.patient.medirecords_patient_id)
    assert record.dob.isoformat() == "1981-02-28"
    assert mr_client.patient_addresses(jane_booking.patient.medirecords_patient_id) == []


def test_the_same_submission_twice_is_processed_once(
    post_form, jane_booking, mr_client, django_capture_on_commit_callbacks
):
    body, content_type = full_intake()
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert post_form("/forms/full", body, content_type).status_code == 200

    assert InboundDelivery.objects.count() == 1
    patient_id = jane_booking.patient.medirecords_patient_id
    assert len(mr_client.patient_addresses(patient_id)) == 1
    assert len(mr_client.patient_emergency_contacts(patient_id)) == 1


def test_processing_again_changes_nothing_twice(post_form, jane_booking, mr_client, django_capture_on_commit_callbacks):
    from bookings.inbox.deliveries import delivery_replay

    body, content_type = full_intake()
    with django_capture_on_commit_callbacks(execute=True):
        post_form("/forms/full", body, content_type)
    with django_capture_on_commit_callbacks(execute=True):
        delivery_replay(delivery_ids=[InboundDelivery.objects.get().pk])

    patient_id = jane_booking.patient.medirecords_patient_id
    assert len(mr_client.patient_addresses(patient_id)) == 1
    assert len(mr_client.patient_emergency_contacts(patient_id)) == 1
    assert FormSubmission.objects.get().status == SubmissionStatus.PROCESSED


def test_invalid_values_are_named_and_not_pushed_the_rest_is(
    post_form, jane_booking, mr_client, django_capture_on_commit_callbacks
):
    body, content_type = full_intake_with(
        q9_medicareNumber="2123 45671 1",
        q5_mobileNumber={"full": "02 9374 4000"},
        q8_address={"addr_line1": "1 Main Road", "city": "Melbourne", "state": "NSW", "postal": "3000"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert post_form("/forms/full", body, content_type).status_code == 200

    submission = FormSubmission.objects.get()
    assert submission.status == SubmissionStatus.NEEDS_ATTENTION
    named = {problem["field"]: problem["reason"] for problem in submission.problems}
    assert set(named) == {"medicare_number", "mobile", "address"}
    assert "check digit" in named["medicare_number"]
    assert "mobile" in named["mobile"]
    assert "NSW" in named["address"]
    assert not any("2123" in reason or "9374" in reason or "3000" in reason for reason in named.values())

    patient_id = jane_booking.patient.medirecords_patient_id
    record = mr_client.patient_get(patient_id)
    assert record.mobile_phone in (None, "")
    assert mr_client.patient_addresses(patient_id) == []
    assert mr_client.patient_numbers(patient_id).medicare_number is None
    # The rest went through.
    assert record.dob.isoformat() == "1980-02-29"
    assert len(mr_client.patient_emergency_contacts(patient_id)) == 1
    assert Patient.objects.get(pk=jane_booking.patient.pk).placeholder_fields == ["mobile"]
