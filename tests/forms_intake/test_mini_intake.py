"""The mini intake, posted to /forms/mini, updates only the basics of the patient's record."""

import pytest

from bookings.models import Patient
from forms_intake.models import FormSubmission, SubmissionStatus
from tests.forms_intake.conftest import MINI_FORM_ID
from tests.forms_intake.test_matching_and_triage import webhook

pytestmark = pytest.mark.django_db(transaction=False)

MINI_SUBMISSION_ID = "7100000000000000001"


def test_the_mini_intake_updates_the_basics_and_nothing_else(
    post_form, jane_booking, mr_client, django_capture_on_commit_callbacks
):
    patient = jane_booking.patient
    patient.placeholder_fields = ["first_name", "last_name", "email", "date_of_birth", "sex", "mobile"]
    patient.save()
    body, content_type = webhook(
        MINI_FORM_ID,
        MINI_SUBMISSION_ID,
        {
            "slug": f"submit/{MINI_FORM_ID}",
            "q3_fullName": {"first": "Janet", "last": "Citizen-Jones"},
            "q4_email": "janet.citizen-jones@example.com.au",
            "q5_mobileNumber": {"full": "0412 345 678"},
            "q6_dateOf": {"day": "29", "month": "02", "year": "1980"},
            "q7_reasonFor": "Fatigue",
            "q9_bookingReference": jane_booking.intake_reference,
            # Not questions of the mini intake: kept with the answers, never pushed.
            "q8_address": {"addr_line1": "12 Example Street", "city": "Surry Hills", "state": "NSW", "postal": "2010"},
            "q10_medicareNumber": "2123 45670 1",
            "q11_emergencyContact": {"first": "John", "last": "Citizen"},
        },
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = post_form("/forms/mini", body, content_type)

    assert response.status_code == 200
    patient_id = patient.medirecords_patient_id
    record = mr_client.patient_get(patient_id)
    assert (record.first_name, record.last_name) == ("Janet", "Citizen-Jones")
    assert record.email == "janet.citizen-jones@example.com.au"
    assert record.mobile_phone == "0412345678"
    assert record.dob.isoformat() == "1980-02-29"
    # Nothing the mini intake does not ask for reaches MediRecords.
    assert record.gender.name == "OTHER"
    assert mr_client.patient_addresses(patient_id) == []
    assert mr_client.patient_numbers(patient_id).medicare_number is None
    assert mr_client.patient_emergency_contacts(patient_id) == []

    patient.refresh_from_db()
    assert (patient.first_name, patient.last_name) == ("Janet", "Citizen-Jones")
    assert patient.email == "janet.citizen-jones@example.com.au"
    assert patient.mobile == "+61412345678"
    assert patient.date_of_birth.isoformat() == "1980-02-29"
    # Only the marks of the fields the form filled are cleared.
    assert patient.placeholder_fields == ["sex"]
    assert patient.sex == ""

    submission = FormSubmission.objects.get(submission_id=MINI_SUBMISSION_ID)
    assert submission.form_type == "mini"
    assert submission.status == SubmissionStatus.PROCESSED
    assert submission.booking == jane_booking
    assert submission.pending_changes == []
    assert submission.answers["q8_address"]["postal"] == "2010"


def test_the_mini_intake_confirms_what_medirecords_already_holds(
    post_form, jane_booking, mr_client, django_capture_on_commit_callbacks
):
    body, content_type = webhook(
        MINI_FORM_ID,
        MINI_SUBMISSION_ID,
        {
            "q3_fullName": {"first": "Jane", "last": "Citizen"},
            "q4_email": "jane.citizen@example.com.au",
            "q5_mobileNumber": {"full": "0412 345 678"},
            "q6_dateOf": {"day": "29", "month": "02", "year": "1980"},
        },
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert post_form("/forms/mini", body, content_type).status_code == 200

    patient_id = jane_booking.patient.medirecords_patient_id
    record = mr_client.patient_get(patient_id)
    assert (record.first_name, record.last_name, record.email) == ("Jane", "Citizen", "jane.citizen@example.com.au")
    assert record.mobile_phone == "0412345678"
    assert record.dob.isoformat() == "1980-02-29"
    assert Patient.objects.get(pk=jane_booking.patient.pk).placeholder_fields == ["sex"]
    assert FormSubmission.objects.get().status == SubmissionStatus.PROCESSED
