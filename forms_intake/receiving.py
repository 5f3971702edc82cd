"""Accepting a JotForm webhook: check its token and form, store it encrypted in the inbox.

JotForm signs nothing, so the secret token in the webhook URL is the first proof; re-reading
the submission from JotForm's API (when a key is configured) is the second, on the worker.
The body goes into the inbox encrypted: it is full of answers.
"""

import hmac
import logging
from typing import Any

from django.conf import settings
from django.db.models import F

from bookings.inbox.deliveries import StoredDelivery, delivery_store
from bookings.models import DeliverySource
from forms_intake.encryption import encrypt_bytes
from forms_intake.errors import FormsIntakeError
from forms_intake.models import FormDefinition, FormSubmission, SubmissionStatus
from forms_intake.parsing import webhook_fields

logger = logging.getLogger("clinic.forms")


class FormMismatchError(FormsIntakeError):
    """A refusal, answered to the sender: the submission's form is not one this receiver takes."""


def webhook_token_valid(token: str) -> bool:
    """Whether the URL's token is JOTFORM_WEBHOOK_TOKEN (compared in constant time; never when unset)."""
    expected = settings.JOTFORM_WEBHOOK_TOKEN
    return bool(expected) and hmac.compare_digest(token.encode(), expected.encode())


def submission_accept(*, form_type: str, form: Any, body: bytes, content_type: str) -> StoredDelivery:
    """Store a webhook for `form_type` in the inbox, its body encrypted; processing follows on a worker.

    Raises `MalformedSubmissionError` for a webhook without ids or readable answers, and
    `FormMismatchError` (after recording the refusal, without answers) for another form's submission.
    """
    fields = webhook_fields(form)
    definition = FormDefinition.objects.filter(jotform_form_id=fields.form_id).first()
    if definition is None or definition.form_type != form_type:
        reason = "unknown form" if definition is None else f"a {definition.form_type} form sent to the {form_type} URL"
        submission_rejection_record(
            submission_id=fields.submission_id, form_id=fields.form_id, form_type=form_type, reason=reason
        )
        raise FormMismatchError(reason)
    return delivery_store(
        source=DeliverySource.JOTFORM,
        delivery_key=fields.submission_id,
        body=encrypt_bytes(body),
        headers={"Content-Type": content_type},
    )


def submission_rejection_record(*, submission_id: str, form_id: str, form_type: str, reason: str) -> None:
    """Count a refused submission for staff to see; ids and the reason only, never answers."""
    submission, _ = FormSubmission.objects.get_or_create(
        submission_id=submission_id,
        defaults={"form_type": form_type, "jotform_form_id": form_id, "status": SubmissionStatus.REJECTED},
    )
    if submission.status == SubmissionStatus.REJECTED:
        FormSubmission.objects.filter(pk=submission.pk).update(
            rejected_count=F("rejected_count") + 1, rejection_reason=reason[:200]
        )
    logger.warning(
        "jotform submission rejected",
        extra={"submission_id": submission_id, "form_id": form_id, "form_type": form_type, "reason": reason},
    )
