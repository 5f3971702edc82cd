"""JotForm submissions, the forms they come from, and triage assessments (health data encrypted)."""

from django.db import models
from django.utils import timezone

from bookings.models import Booking, Patient
from forms_intake.encryption import EncryptedJSONField, EncryptedTextField


class FormType(models.TextChoices):
    MINI = "mini", "Mini intake"
    FULL = "full", "Full intake"
    TRIAGE = "triage", "Dynamic triage"


class FormDefinition(models.Model):
    """One JotForm form: which of our receivers it posts to, and what its questions mean.

    `field_map` maps a JotForm question (its name, e.g. "fullName", its qid, e.g. "3", or the
    webhook's key, e.g. "q3_fullName") to one of our fields. Questions not in the map are kept
    in the submission's encrypted answers.
    """

    form_type = models.CharField(max_length=16, choices=FormType.choices, unique=True)
    jotform_form_id = models.CharField("JotForm form id", max_length=32, unique=True)
    title = models.CharField(max_length=200, blank=True)
    field_map = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["form_type"]

    def __str__(self) -> str:
        return f"{self.get_form_type_display()} ({self.jotform_form_id})"


class SubmissionStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    NEEDS_ATTENTION = "needs_attention", "Needs attention"
    UNMATCHED = "unmatched", "Unmatched (link a booking)"
    REJECTED = "rejected", "Rejected"


class FormSubmission(models.Model):
    """A JotForm submission as processed: its answers (encrypted), what it matched, what is wrong.

    `problems` lists field names and reasons only, never values, so it can be shown anywhere.
    `pending_changes` (encrypted) holds values that differ from what the clinic already holds,
    for staff to accept or reject.
    """

    submission_id = models.CharField("JotForm submission id", max_length=64, unique=True)
    form_type = models.CharField(max_length=16, choices=FormType.choices)
    jotform_form_id = models.CharField("JotForm form id", max_length=32)
    status = models.CharField(max_length=16, choices=SubmissionStatus.choices, default=SubmissionStatus.RECEIVED)
    answers = EncryptedJSONField(null=True, blank=True, editable=False)
    problems = models.JSONField(default=list, blank=True, editable=False)
    pending_changes = EncryptedJSONField(null=True, blank=True, editable=False)
    booking = models.ForeignKey(
        Booking,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="form_submissions",
        help_text="Set for an unmatched submission to link it to its booking; it is then processed again.",
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.SET_NULL, null=True, blank=True, related_name="form_submissions", editable=False
    )
    rejected_count = models.PositiveIntegerField(default=0, editable=False)
    rejection_reason = models.CharField(max_length=200, blank=True, editable=False)
    received_at = models.DateTimeField(default=timezone.now, editable=False)
    processed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-received_at"]
        indexes = [models.Index(fields=["status", "received_at"])]
        permissions = [("view_answers", "Can view the answers of intake form submissions")]

    def __str__(self) -> str:
        return f"{self.get_form_type_display()} submission #{self.pk}"


class TriageAssessment(models.Model):
    """The answers of a triage form and their readable summary, for the consultant's booking."""

    submission = models.OneToOneField(FormSubmission, on_delete=models.CASCADE, related_name="triage")
    booking = models.ForeignKey(
        Booking, on_delete=models.SET_NULL, null=True, blank=True, related_name="triage_assessments"
    )
    answers = EncryptedJSONField(editable=False)
    summary = EncryptedTextField(editable=False)
    document_attached_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        # view_triage alone shows the triage of the login's own practitioner's patients.
        permissions = [
            ("view_triage", "Can view triage assessments"),
            ("view_all_triage", "Can view every patient's triage assessments"),
        ]

    def __str__(self) -> str:
        return f"Triage assessment #{self.pk}"
