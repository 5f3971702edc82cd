"""Processing a stored JotForm submission: decrypt, verify, read, check, match, then update MediRecords.

The inbox calls `jotform_delivery_process` on a worker. Every step can run again without
changing anything twice: the submission row is keyed by JotForm's id, and what is pushed is
compared with what MediRecords holds first.
"""

import io
import logging
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import MemoryFileUploadHandler
from django.http import QueryDict
from django.http.multipartparser import MultiPartParser
from django.utils import timezone

from bookings.changes import booking_changed
from bookings.inbox.deliveries import DeliveryIgnoredError
from bookings.models import InboundDelivery
from forms_intake.encryption import decrypt_bytes
from forms_intake.jotform_api import SubmissionUnknownError, jotform_answers
from forms_intake.matching import booking_match
from forms_intake.models import FormDefinition, FormSubmission, FormType, SubmissionStatus
from forms_intake.parsing import answers_map, triage_summary, webhook_fields
from forms_intake.push import PatientNotSyncedError, PendingChange, patient_update_from_intake
from forms_intake.receiving import submission_rejection_record
from forms_intake.triage import triage_assessment_record, triage_document_attach
from forms_intake.validation import intake_validate
from practitioners import clients

logger = logging.getLogger("clinic.forms")


def jotform_delivery_process(delivery: InboundDelivery) -> None:
    """The inbox handler for source "jotform"."""
    form = webhook_form(body=decrypt_bytes(bytes(delivery.body)), content_type=delivery.headers.get("Content-Type", ""))
    fields = webhook_fields(form)
    definition = FormDefinition.objects.filter(jotform_form_id=fields.form_id).first()
    if definition is None:
        raise DeliveryIgnoredError("the form is no longer configured")
    raw_answers = fields.raw_answers
    if settings.JOTFORM_API_KEY:
        try:
            raw_answers = jotform_answers(submission_id=fields.submission_id, form_id=fields.form_id)
        except SubmissionUnknownError as unknown:
            submission_rejection_record(
                submission_id=fields.submission_id,
                form_id=fields.form_id,
                form_type=definition.form_type,
                reason=f"forged: {unknown}",
            )
            raise DeliveryIgnoredError(f"rejected as forged: {unknown}") from unknown
    status = submission_process(submission_id=fields.submission_id, definition=definition, raw_answers=raw_answers)
    logger.info(
        "jotform submission processed",
        extra={"submission_id": fields.submission_id, "form_type": definition.form_type, "status": status},
    )


def webhook_form(*, body: bytes, content_type: str) -> Any:
    """The form fields of a stored webhook body (multipart, or url-encoded)."""
    if content_type.startswith("multipart/form-data"):
        meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body))}
        form, _files = MultiPartParser(meta, io.BytesIO(body), [MemoryFileUploadHandler()], "utf-8").parse()
        return form
    return QueryDict(body, encoding="utf-8")


def submission_process(*, submission_id: str, definition: FormDefinition, raw_answers: dict[str, Any]) -> str:
    """Read, check and match one submission, then update MediRecords; returns its status."""
    submission, _ = FormSubmission.objects.get_or_create(
        submission_id=submission_id,
        defaults={"form_type": definition.form_type, "jotform_form_id": definition.jotform_form_id},
    )
    mapped = answers_map(raw_answers=raw_answers, field_map=definition.field_map)
    intake = intake_validate(values=mapped.values)
    booking = booking_match(intake=intake, form_type=definition.form_type, linked=submission.booking)
    submission.form_type = definition.form_type
    submission.jotform_form_id = definition.jotform_form_id
    submission.answers = raw_answers
    submission.problems = [problem.to_json() for problem in intake.problems]
    submission.booking = booking
    submission.patient = booking.patient if booking is not None else None
    if booking is None or booking.patient is None:
        submission.status = SubmissionStatus.UNMATCHED
        submission.save()
        return submission.status
    submission.save()

    patient = booking.patient
    if not patient.medirecords_patient_id:
        booking_changed(booking_id=booking.pk)
        raise PatientNotSyncedError("the patient has no MediRecords record yet; retried after the booking syncs")
    client = clients.medirecords_client()
    pending: list[PendingChange] = []
    if definition.form_type == FormType.TRIAGE:
        assessment = triage_assessment_record(
            submission=submission,
            booking=booking,
            answers=raw_answers,
            summary=triage_summary(mapped.values, mapped.unmapped),
        )
        triage_document_attach(assessment=assessment, patient=patient, client=client)
    else:
        pending = patient_update_from_intake(
            patient=patient, intake=intake, form_type=definition.form_type, client=client
        )
    submission.pending_changes = _pending_merged(submission.pending_changes or [], pending)
    submission.status = (
        SubmissionStatus.NEEDS_ATTENTION
        if submission.problems or submission.pending_changes
        else SubmissionStatus.PROCESSED
    )
    submission.processed_at = timezone.now()
    submission.save()
    return submission.status


def _pending_merged(held: list[PendingChange], new: list[PendingChange]) -> list[PendingChange]:
    """Changes still waiting for staff: the latest value per field."""
    merged = {change["field"]: change for change in held}
    merged.update({change["field"]: change for change in new})
    return list(merged.values())
