"""Staff decisions on submissions, each audited, and the setup of form definitions."""

import logging
from typing import Any

from django.db import transaction

from bookings.audit import AuditActor, audit_record
from bookings.inbox.deliveries import delivery_replay_by_staff
from bookings.models import AuditAction, Booking, DeliverySource, InboundDelivery
from forms_intake.definitions import DEFAULT_FORMS
from forms_intake.errors import FormsIntakeError
from forms_intake.models import FormDefinition, FormSubmission, SubmissionStatus
from forms_intake.push import PatientNotSyncedError, pending_changes_accept
from medirecords import MediRecordsError
from practitioners import clients

logger = logging.getLogger("clinic.forms")


class ChangesNotPushedError(FormsIntakeError):
    """MediRecords did not take the changes staff accepted; the message says why and what to do."""


def form_definitions_load() -> int:
    """Create the default form definitions that are missing; returns how many were created."""
    created = 0
    for values in DEFAULT_FORMS:
        _, was_created = FormDefinition.objects.get_or_create(form_type=values["form_type"], defaults=values)
        created += was_created
    return created


def submission_booking_link(*, submission: FormSubmission, booking: Booking, actor: AuditActor) -> None:
    """Link an unmatched submission to the booking staff chose, and process it again.

    The link and each replay of the submission's deliveries leave an audit entry.
    """
    with transaction.atomic():
        stored = FormSubmission.objects.select_for_update().get(pk=submission.pk)
        FormSubmission.objects.filter(pk=submission.pk).update(booking=booking, patient=booking.patient)
        audit_record(
            actor=actor,
            action=AuditAction.SUBMISSION_LINKED,
            subject=str(stored),
            booking=booking,
            before=_link_shown(booking_id=stored.booking_id, patient_id=stored.patient_id),
            after=_link_shown(booking_id=booking.pk, patient_id=booking.patient_id),
        )
        deliveries = InboundDelivery.objects.filter(
            source=DeliverySource.JOTFORM, delivery_key=submission.submission_id
        ).values_list("pk", flat=True)
        delivery_replay_by_staff(delivery_ids=list(deliveries), actor=actor)
    logger.info("submission linked", extra={"submission_id": submission.submission_id, "booking_id": booking.pk})


def submission_changes_accept(*, submission: FormSubmission, actor: AuditActor) -> None:
    """Push the values waiting for staff to MediRecords, replacing what it held.

    `ChangesNotPushedError` says, for staff, why MediRecords did not take them; they keep waiting.
    """
    if submission.patient is None or not submission.pending_changes:
        return
    try:
        pending_changes_accept(
            patient=submission.patient, changes=submission.pending_changes, client=clients.medirecords_client()
        )
    except PatientNotSyncedError as not_synced:
        raise ChangesNotPushedError(
            "The patient is not in MediRecords yet; try again once the booking has synced."
        ) from not_synced
    except MediRecordsError as error:
        raise ChangesNotPushedError(
            f"MediRecords refused the changes ({type(error).__name__}); they are still waiting, try again later."
        ) from error
    _changes_settled(submission=submission, actor=actor, action=AuditAction.SUBMISSION_CHANGES_ACCEPTED)


def submission_changes_reject(*, submission: FormSubmission, actor: AuditActor) -> None:
    """Drop the values waiting for staff: what MediRecords holds stays."""
    _changes_settled(submission=submission, actor=actor, action=AuditAction.SUBMISSION_CHANGES_REJECTED)


def _link_shown(*, booking_id: int | None, patient_id: int | None) -> dict[str, str | None]:
    return {
        "booking": f"Booking #{booking_id}" if booking_id else None,
        "patient": f"Patient #{patient_id}" if patient_id else None,
    }


def _changes_settled(*, submission: FormSubmission, actor: AuditActor, action: AuditAction) -> None:
    """Nothing waits for staff any more; the decision is audited when it changed anything."""
    with transaction.atomic():
        before = _decision_shown(submission)
        submission.pending_changes = []
        if submission.status == SubmissionStatus.NEEDS_ATTENTION and not submission.problems:
            submission.status = SubmissionStatus.PROCESSED
        submission.save(update_fields=["pending_changes", "status"])
        after = _decision_shown(submission)
        if before != after:
            audit_record(
                actor=actor,
                action=action,
                subject=str(submission),
                booking=submission.booking,
                before=before,
                after=after,
            )


def _decision_shown(submission: FormSubmission) -> dict[str, Any]:
    """What an audit entry records of a decision: the names of the fields waiting, never the
    patient's values in them."""
    return {
        "pending_changes": [change["field"] for change in submission.pending_changes or []],
        "status": submission.status,
    }
