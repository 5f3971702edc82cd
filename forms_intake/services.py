"""Staff decisions on submissions and the setup of form definitions."""

import logging

from django.db import transaction

from bookings.inbox.deliveries import delivery_replay
from bookings.models import Booking, DeliverySource, InboundDelivery
from forms_intake.definitions import DEFAULT_FORMS
from forms_intake.models import FormDefinition, FormSubmission, SubmissionStatus
from forms_intake.push import pending_changes_accept
from medirecords import MediRecordsClient

logger = logging.getLogger("clinic.forms")


def form_definitions_load() -> int:
    """Create the default form definitions that are missing; returns how many were created."""
    created = 0
    for values in DEFAULT_FORMS:
        _, was_created = FormDefinition.objects.get_or_create(form_type=values["form_type"], defaults=values)
        created += was_created
    return created


def submission_booking_link(*, submission: FormSubmission, booking: Booking) -> None:
    """Link an unmatched submission to the booking staff chose, and process it again."""
    with transaction.atomic():
        FormSubmission.objects.filter(pk=submission.pk).update(booking=booking, patient=booking.patient)
        deliveries = InboundDelivery.objects.filter(
            source=DeliverySource.JOTFORM, delivery_key=submission.submission_id
        ).values_list("pk", flat=True)
        delivery_replay(delivery_ids=list(deliveries))
    logger.info("submission linked", extra={"submission_id": submission.submission_id, "booking_id": booking.pk})


def submission_changes_accept(*, submission: FormSubmission, client: MediRecordsClient) -> None:
    """Push the values waiting for staff to MediRecords, replacing what it held."""
    if submission.patient is None or not submission.pending_changes:
        return
    pending_changes_accept(patient=submission.patient, changes=submission.pending_changes, client=client)
    _changes_settled(submission)


def submission_changes_reject(*, submission: FormSubmission) -> None:
    """Drop the values waiting for staff: what MediRecords holds stays."""
    _changes_settled(submission)


def _changes_settled(submission: FormSubmission) -> None:
    submission.pending_changes = []
    if submission.status == SubmissionStatus.NEEDS_ATTENTION and not submission.problems:
        submission.status = SubmissionStatus.PROCESSED
    submission.save(update_fields=["pending_changes", "status"])
