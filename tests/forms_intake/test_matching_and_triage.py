"""Matching submissions to bookings, rejected forms, and triage assessments."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from bookings.models import AuditAction, AuditEntry, Booking, BookingStatus, InboundDelivery
from forms_intake import services
from forms_intake.models import FormSubmission, FormType, SubmissionStatus, TriageAssessment
from medirecords import ServerError
from tests.bookings.factories import BookingFactory
from tests.forms_intake.conftest import FULL_FORM_ID, MINI_FORM_ID, TRIAGE_FORM_ID, full_intake, full_intake_with

BOUNDARY = "----jotformtestboundary"


def webhook(form_id: str, submission_id: str, answers: dict[str, object]) -> tuple[bytes, str]:
    """A JotForm multipart webhook with these answers."""
    fields = {"formID": form_id, "submissionID": submission_id, "rawRequest": json.dumps(answers), "pretty": ""}
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    return ("".join(parts) + f"--{BOUNDARY}--\r\n").encode(), f"multipart/form-data; boundary={BOUNDARY}"


def test_a_booking_reference_in_the_form_link_decides(post_form, jane_booking, django_capture_on_commit_callbacks):
    other = BookingFactory(practitioner=jane_booking.practitioner)
    body, content_type = webhook(
        MINI_FORM_ID,
        "7000000000000000001",
        {
            "q3_fullName": {"first": "Someone", "last": "Else"},
            "q4_email": "someone@example.com.au",
            "q9_bookingReference": other.intake_reference,
        },
    )
    other.patient.medirecords_patient_id = ""
    other.patient.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert post_form("/forms/mini", body, content_type).status_code == 200
    assert FormSubmission.objects.get().booking == other


def test_email_and_name_find_the_next_upcoming_booking(post_form, jane_booking, django_capture_on_commit_callbacks):
    BookingFactory(
        patient=jane_booking.patient,
        practitioner=jane_booking.practitioner,
        starts_at=jane_booking.starts_at - timedelta(days=1),
        status=BookingStatus.CANCELLED,
    )
    BookingFactory(
        patient=jane_booking.patient,
        practitioner=jane_booking.practitioner,
        starts_at=datetime(2020, 1, 1, tzinfo=UTC),
    )
    body, content_type = full_intake()
    with django_capture_on_commit_callbacks(execute=True):
        post_form("/forms/full", body, content_type)
    assert FormSubmission.objects.get().booking == jane_booking


def test_nobody_found_waits_for_staff_to_link_a_booking(
    post_form, jane_booking, mr_client, admin_client, admin_user, django_capture_on_commit_callbacks
):
    body, content_type = full_intake_with(q4_email="someone.new@example.com.au")
    with django_capture_on_commit_callbacks(execute=True):
        post_form("/forms/full", body, content_type)
    submission = FormSubmission.objects.get()
    assert submission.status == SubmissionStatus.UNMATCHED
    assert submission.booking is None

    url = reverse("admin:forms_intake_formsubmission_change", args=[submission.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"booking": jane_booking.pk})
    assert response.status_code == 302
    submission.refresh_from_db()
    assert submission.booking == jane_booking
    linked, replayed = AuditEntry.objects.order_by("pk")
    assert (linked.action, linked.subject, linked.booking, linked.actor) == (
        AuditAction.SUBMISSION_LINKED,
        str(submission),
        jane_booking,
        admin_user,
    )
    assert (linked.before, linked.after) == (
        {"booking": None, "patient": None},
        {"booking": str(jane_booking), "patient": str(jane_booking.patient)},
    )
    assert (replayed.action, replayed.subject, replayed.actor) == (
        AuditAction.DELIVERY_REPLAYED,
        str(InboundDelivery.objects.get()),
        admin_user,
    )
    record = mr_client.patient_get(jane_booking.patient.medirecords_patient_id)
    assert record.dob.isoformat() == "1980-02-29"
    # The new email differs from the one the clinic holds: it waits for staff.
    assert submission.status == SubmissionStatus.NEEDS_ATTENTION
    assert submission.pending_changes == [{"field": "email", "value": "someone.new@example.com.au"}]
    assert record.email == "jane.citizen@example.com.au"

    changelist = reverse("admin:forms_intake_formsubmission_changelist")
    admin_client.post(changelist, {"action": "accept_changes", "_selected_action": [submission.pk]})
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.PROCESSED
    assert submission.pending_changes == []
    assert mr_client.patient_get(record.id).email == "someone.new@example.com.au"
    assert_email_decision_audited(
        AuditEntry.objects.latest("pk"), AuditAction.SUBMISSION_CHANGES_ACCEPTED, submission, admin_user
    )


def assert_email_decision_audited(entry: AuditEntry, action: str, submission: FormSubmission, actor: User) -> None:
    """The entry names the field decided on (the email), never the patient's value in it."""
    assert (entry.action, entry.subject, entry.booking, entry.actor) == (
        action,
        str(submission),
        submission.booking,
        actor,
    )
    assert (entry.before, entry.after) == (
        {"pending_changes": ["email"], "status": "needs_attention"},
        {"pending_changes": [], "status": "processed"},
    )


def waiting_changes(booking: Booking) -> FormSubmission:
    """A full intake of the booking's patient whose new email waits for staff."""
    return FormSubmission.objects.create(
        submission_id="7000000000000000009",
        form_type=FormType.FULL,
        jotform_form_id=FULL_FORM_ID,
        status=SubmissionStatus.NEEDS_ATTENTION,
        pending_changes=[{"field": "email", "value": "someone.new@example.com.au"}],
        booking=booking,
        patient=booking.patient,
    )


def changes_accepted_from_the_list(admin_client: Client, submission: FormSubmission) -> list[str]:
    """Staff accept the submission's waiting changes from the list; returns the messages shown."""
    response = admin_client.post(
        reverse("admin:forms_intake_formsubmission_changelist"),
        {"action": "accept_changes", "_selected_action": [submission.pk]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(message) for message in response.context["messages"]]


def test_accepting_changes_for_a_patient_not_in_medirecords_yet_tells_staff_to_wait(admin_client, jane_booking):
    jane_booking.patient.medirecords_patient_id = ""
    jane_booking.patient.save()
    submission = waiting_changes(jane_booking)

    shown = changes_accepted_from_the_list(admin_client, submission)
    assert f"{submission}: The patient is not in MediRecords yet; try again once the booking has synced." in shown
    assert "Changes accepted for 0 submissions." in shown
    submission.refresh_from_db()
    assert submission.pending_changes == [{"field": "email", "value": "someone.new@example.com.au"}]
    assert not AuditEntry.objects.exists()


def test_accepting_changes_medirecords_refuses_tells_staff_they_still_wait(admin_client, jane_booking, monkeypatch):
    submission = waiting_changes(jane_booking)

    def medirecords_fails(**kwargs):
        raise ServerError("MediRecords failed", status=503)

    monkeypatch.setattr(services, "pending_changes_accept", medirecords_fails)
    shown = changes_accepted_from_the_list(admin_client, submission)
    assert (
        f"{submission}: MediRecords refused the changes (ServerError); they are still waiting, try again later."
        in shown
    )
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.NEEDS_ATTENTION
    assert not AuditEntry.objects.exists()


def test_rejecting_changes_is_audited_without_the_values(admin_client, admin_user, jane_booking, mr_client):
    submission = waiting_changes(jane_booking)

    admin_client.post(
        reverse("admin:forms_intake_formsubmission_changelist"),
        {"action": "reject_changes", "_selected_action": [submission.pk]},
    )

    submission.refresh_from_db()
    assert (submission.status, submission.pending_changes) == (SubmissionStatus.PROCESSED, [])
    assert mr_client.patient_get(jane_booking.patient.medirecords_patient_id).email == "jane.citizen@example.com.au"
    [rejected] = AuditEntry.objects.all()
    assert_email_decision_audited(rejected, AuditAction.SUBMISSION_CHANGES_REJECTED, submission, admin_user)


def test_another_forms_submission_is_rejected_and_recorded_without_answers(post_form, db):
    body, content_type = full_intake()
    response = post_form("/forms/triage", body, content_type)
    assert response.status_code == 422
    assert "full" in response.json()["reason"]
    assert not InboundDelivery.objects.exists()
    submission = FormSubmission.objects.get()
    assert (submission.status, submission.rejected_count, submission.answers) == (SubmissionStatus.REJECTED, 1, None)


def test_a_triage_submission_makes_an_assessment_and_a_document_once(
    post_form, jane_booking, mr_client, sandbox_practitioner, django_capture_on_commit_callbacks
):
    consultant_booking = BookingFactory(
        patient=jane_booking.patient,
        practitioner=sandbox_practitioner("consultant", kind="consultant"),
        starts_at=jane_booking.starts_at + timedelta(days=2),
    )
    body, content_type = webhook(
        TRIAGE_FORM_ID,
        "7000000000000000002",
        {
            "q3_fullName": {"first": "Jane", "last": "Citizen"},
            "q4_email": "jane.citizen@example.com.au",
            "q5_mainConcern": "Fatigue",
            "q6_symptomDuration": "3 months",
            "q7_sleepQuality": "Poor",
        },
    )
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            assert post_form("/forms/triage", body, content_type).status_code == 200
    from bookings.inbox.deliveries import delivery_replay

    with django_capture_on_commit_callbacks(execute=True):
        delivery_replay(delivery_ids=[InboundDelivery.objects.get().pk])

    assessment = TriageAssessment.objects.get()
    assert assessment.booking == consultant_booking
    assert "Main concern: Fatigue" in assessment.summary
    assert "sleepQuality: Poor" in assessment.summary
    [document] = mr_client.patient_documents(jane_booking.patient.medirecords_patient_id)
    assert "Triage" in document.subject


def test_answers_and_triage_are_shown_only_with_permission(
    post_form, jane_booking, client, staff_user, admin_client, django_capture_on_commit_callbacks
):
    body, content_type = full_intake()
    with django_capture_on_commit_callbacks(execute=True):
        post_form("/forms/full", body, content_type)
    submission = FormSubmission.objects.get()
    url = reverse("admin:forms_intake_formsubmission_change", args=[submission.pk])
    staff_user.user_permissions.remove(*Permission.objects.filter(codename__in=["view_answers", "view_triage"]))
    client.force_login(staff_user)
    page = client.get(url).content.decode()
    assert "Citizen" not in page
    assert client.get(reverse("admin:forms_intake_triageassessment_changelist")).status_code == 403
    listing = client.get(reverse("admin:forms_intake_formsubmission_changelist")).content.decode()
    assert "Citizen" not in listing
    assert "Levothyroxine" in admin_client.get(url).content.decode()
    assert admin_client.get(reverse("admin:forms_intake_triageassessment_changelist")).status_code == 200


@pytest.mark.parametrize("form_id", [FULL_FORM_ID])
def test_the_full_form_definition_is_loaded(db, form_id):
    from forms_intake.models import FormDefinition

    assert FormDefinition.objects.get(jotform_form_id=form_id).form_type == "full"
    assert FormDefinition.objects.count() == 3
