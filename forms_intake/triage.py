"""Triage assessments: stored encrypted on the consultant's booking, summarised on the patient's file."""

from django.utils import timezone

from bookings.models import Booking, Patient
from forms_intake.models import FormSubmission, TriageAssessment
from forms_intake.parsing import JSON
from forms_intake.push import PatientNotSyncedError
from medirecords import MediRecordsClient


def triage_assessment_record(
    *, submission: FormSubmission, booking: Booking | None, answers: JSON, summary: str
) -> TriageAssessment:
    """The submission's assessment, created once and kept in line with its latest processing."""
    assessment, _ = TriageAssessment.objects.update_or_create(
        submission=submission, defaults={"booking": booking, "answers": answers, "summary": summary}
    )
    return assessment


def triage_document_attach(*, assessment: TriageAssessment, patient: Patient, client: MediRecordsClient) -> None:
    """Attach the summary to the patient's file as an inbound text document, once.

    The file is listed first, so that an attach whose answer was lost is not repeated.
    """
    if assessment.document_attached_at is not None:
        return
    if not patient.medirecords_patient_id:
        raise PatientNotSyncedError("the patient has no MediRecords record yet")
    subject = f"Triage assessment (JotForm submission {assessment.submission.submission_id})"
    held = client.patient_documents(patient.medirecords_patient_id)
    if not any(document.subject == subject for document in held):
        client.patient_document_attach(
            patient.medirecords_patient_id,
            subject=subject,
            filename=f"triage-{assessment.submission.submission_id}.txt",
            content=assessment.summary.encode(),
            content_type="text/plain",
            category="Triage",
        )
    TriageAssessment.objects.filter(pk=assessment.pk).update(document_attached_at=timezone.now())
    assessment.document_attached_at = timezone.now()
