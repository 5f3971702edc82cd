"""The booking lifecycle: our mirror of patients, their bookings, and the inbox of deliveries."""

import secrets

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from practitioners.models import Practitioner

# The longest name we store: a bound on what a stranger can make us hold, far above any real name.
PATIENT_NAME_MAX_LENGTH = 255

e164_validator = RegexValidator(r"^\+[1-9]\d{6,14}$", "Enter the number in E.164 form, e.g. +61412345678.")


def unique_when_set(field_name: str, *, model: str) -> models.UniqueConstraint:
    """A unique constraint that ignores the empty value, for optional external ids."""
    return models.UniqueConstraint(
        fields=[field_name], condition=~models.Q(**{field_name: ""}), name=f"{model}_{field_name}_unique"
    )


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"


class Patient(models.Model):
    """A patient as we know them, linked to their MediRecords record once it exists.

    `placeholder_fields` names the fields whose value in MediRecords is a placeholder (a
    booking told us too little); the intake forms replace them and clear the mark.
    """

    # Wider than MediRecords takes (MEDIRECORDS_NAME_MAX_LENGTH): what the patient gave is kept
    # whole here, and a name too long to send waits for staff instead of being cut.
    first_name = models.CharField(max_length=PATIENT_NAME_MAX_LENGTH, blank=True)
    last_name = models.CharField(max_length=PATIENT_NAME_MAX_LENGTH)
    date_of_birth = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=16, choices=Sex.choices, blank=True)
    email = models.EmailField(blank=True)
    mobile = models.CharField(
        max_length=16, blank=True, validators=[e164_validator], help_text="E.164, e.g. +61412345678."
    )
    medirecords_patient_id = models.CharField("MediRecords patient id", max_length=64, blank=True)
    placeholder_fields = models.JSONField(default=list, blank=True)
    medirecords_create_new = models.BooleanField(
        "create a new MediRecords patient",
        default=False,
        help_text="Staff decided this is nobody MediRecords already holds: create without asking again.",
    )
    medirecords_create_attempted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a MediRecords patient was last about to be created; set, it is looked for before creating.",
    )
    sync_lease_until = models.DateTimeField(
        null=True, blank=True, help_text="While set and in the future, one worker is matching this patient."
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [unique_when_set("medirecords_patient_id", model="patient")]
        indexes = [models.Index(fields=["last_name", "first_name", "date_of_birth"]), models.Index(fields=["email"])]

    def __str__(self) -> str:
        return f"Patient #{self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def intake_reference_new() -> str:
    """A fresh, unguessable reference for a booking's intake form links (a hidden form field)."""
    return secrets.token_urlsafe(16)


class BookingKind(models.TextChoices):
    FREE_INITIAL = "free_initial", "Free initial consultation"
    PAID = "paid", "Paid appointment"
    PHONE = "phone", "Phone booking"


class BookingStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    CANCELLED = "cancelled", "Cancelled"


class PaymentStatus(models.TextChoices):
    NOT_REQUIRED = "not_required", "Not required"
    PENDING = "pending", "Pending"
    PAID = "paid", "Paid"
    REFUNDED = "refunded", "Refunded"
    TAKEN_BY_PHONE = "taken_by_phone", "Taken by phone"
    PAY_AT_CLINIC = "pay_at_clinic", "Pay at the clinic"


class SyncState(models.TextChoices):
    PENDING = "pending", "Waiting to sync"
    SYNCED = "synced", "In MediRecords"
    NEEDS_REVIEW = "needs_review", "Needs review (several possible patients)"
    NEEDS_ATTENTION = "needs_attention", "Needs attention (MediRecords refused it)"


class Booking(models.Model):
    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="bookings")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="bookings", null=True, blank=True)
    kind = models.CharField(max_length=16, choices=BookingKind.choices)
    starts_at = models.DateTimeField(db_index=True)
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=BookingStatus.choices, default=BookingStatus.BOOKED)
    payment_status = models.CharField(max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.NOT_REQUIRED)
    reason = models.TextField(blank=True, help_text="The patient's reason for the visit.")
    cancelled_at = models.DateTimeField(null=True, blank=True, help_text="When the booking was cancelled; final.")
    rescheduled_at = models.DateTimeField(null=True, blank=True, help_text="When the booking last moved.")
    reschedule_count = models.PositiveIntegerField(default=0, help_text="How many times the booking has moved.")
    intake_warnings = models.JSONField(
        default=list,
        blank=True,
        help_text="What could not be read from the booking's details (e.g. an invalid mobile number).",
    )

    o365_event_id = models.CharField("Office 365 event id", max_length=255, blank=True)
    o365_ical_uid = models.CharField("Office 365 iCalUId", max_length=255, blank=True)
    o365_etag = models.CharField(
        "Office 365 event version",
        max_length=255,
        blank=True,
        help_text="The event's etag when last applied; a notification for this version needs no fetch.",
    )
    o365_modified_at = models.DateTimeField(
        "Office 365 event last modified",
        null=True,
        blank=True,
        help_text="The version of the event last applied; older versions arriving late are ignored.",
    )
    # Calendly's and Stripe's own ids for the invitee and the payment; Calendly's also tell where
    # the booking came from (`bookings.descriptions.booking_origin`).
    calendly_invitee_uri = models.URLField("Calendly invitee URI", max_length=255, blank=True)
    calendly_cancel_url = models.URLField("Calendly cancel URL", max_length=500, blank=True)
    calendly_reschedule_url = models.URLField("Calendly reschedule URL", max_length=500, blank=True)
    stripe_payment_id = models.CharField("Stripe charge or payment intent", max_length=255, blank=True)
    medirecords_appointment_id = models.CharField("MediRecords appointment id", max_length=64, blank=True)

    sync_state = models.CharField(max_length=16, choices=SyncState.choices, default=SyncState.PENDING)
    sync_error = models.TextField(blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)
    sync_requested_generation = models.PositiveIntegerField(
        default=0, help_text="Counts the requests to sync; a sync that started earlier runs again."
    )
    sync_completed_generation = models.PositiveIntegerField(
        default=0, help_text="The request generation the last finished sync brought MediRecords up to."
    )
    sync_requested_at = models.DateTimeField(null=True, blank=True)
    sync_lease_until = models.DateTimeField(
        null=True, blank=True, help_text="While set and in the future, one worker is syncing this booking."
    )
    sync_failing_since = models.DateTimeField(
        null=True, blank=True, help_text="Start of the current run of failures that may pass on their own."
    )
    sync_transient_failures = models.PositiveIntegerField(default=0)
    sync_retry_at = models.DateTimeField(null=True, blank=True, help_text="When the next attempt is due.")
    medirecords_create_attempted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the appointment was last about to be created; set, it is looked for before creating.",
    )
    medirecords_create_attempted_for = models.DateTimeField(
        null=True, blank=True, help_text="The start time sent with that create."
    )
    intake_reference = models.CharField(
        max_length=32,
        unique=True,
        default=intake_reference_new,
        editable=False,
        help_text="Carried in the intake form links, so a submission finds its booking.",
    )
    follows = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="follow_ups",
        verbose_name="follows the consultant appointment",
        help_text="The free initial consultation this appointment follows, when there was one.",
    )
    patient_candidates = models.JSONField(
        "possible MediRecords patients",
        default=list,
        blank=True,
        help_text="Patients MediRecords holds who could be this booking's patient, for staff to choose from.",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="booking_ends_after_start"
            ),
            unique_when_set("o365_event_id", model="booking"),
            unique_when_set("o365_ical_uid", model="booking"),
            unique_when_set("calendly_invitee_uri", model="booking"),
            unique_when_set("stripe_payment_id", model="booking"),
            unique_when_set("medirecords_appointment_id", model="booking"),
        ]
        indexes = [
            models.Index(fields=["sync_state"]),
            models.Index(fields=["practitioner", "starts_at"]),
            models.Index(fields=["sync_requested_at"], name="booking_sync_requested_idx"),
        ]
        # Without it a login sees only the bookings of its own practitioner.
        permissions = [("view_all_bookings", "Can view every practitioner's bookings and patients")]

    def __str__(self) -> str:
        return f"Booking #{self.pk}"


class SyncOperation(models.TextChoices):
    PATIENT_SEARCH = "patient_search", "Patient search"
    PATIENT_LOOKUP_EMAIL = "patient_lookup_email", "Patient lookup by email"
    PATIENT_GET = "patient_get", "Patient read"
    PATIENT_CREATE = "patient_create", "Patient create"
    APPOINTMENT_GET = "appointment_get", "Appointment read"
    APPOINTMENT_LOOKUP = "appointment_lookup", "Appointment lookup"
    APPOINTMENT_CREATE = "appointment_create", "Appointment create"
    APPOINTMENT_RESCHEDULE = "appointment_reschedule", "Appointment reschedule"
    APPOINTMENT_UPDATE = "appointment_update", "Appointment update"
    APPOINTMENT_CANCEL = "appointment_cancel", "Appointment cancel"


class SyncOutcome(models.TextChoices):
    OK = "ok", "OK"
    FAILED = "failed", "Failed"
    TRANSIENT = "transient", "Failed, will retry"


class SyncAttempt(models.Model):
    """One call to MediRecords made while syncing a booking: what, when, how long, how it ended.

    Evidence for staff and for tuning, so it holds no patient data: the error is the
    MediRecords message (field names and messages) with anything that looks like a contact
    detail or a date of birth removed.
    """

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="sync_attempts")
    operation = models.CharField(max_length=32, choices=SyncOperation.choices)
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=16, choices=SyncOutcome.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["booking", "started_at"])]

    def __str__(self) -> str:
        return f"{self.get_operation_display()} for booking #{self.booking_id}"


class MediRecordsAvailability(models.Model):
    """Whether MediRecords answers, as every worker's syncs see it: one row, pk 1.

    Workers change it only by single conditional UPDATEs (`bookings.push.outage`), so of
    several workers seeing MediRecords answer again exactly one ends the outage and resumes
    the waiting syncs.
    """

    SINGLETON_PK = 1

    unreachable_since = models.DateTimeField(
        null=True, blank=True, help_text="Set while MediRecords is failing: when the failures began."
    )
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_outage_began_at = models.DateTimeField(null=True, blank=True)
    last_recovered_at = models.DateTimeField(
        null=True, blank=True, help_text="When MediRecords last answered again after failures."
    )

    class Meta:
        verbose_name = "MediRecords availability"
        verbose_name_plural = "MediRecords availability"

    def __str__(self) -> str:
        return "MediRecords unreachable" if self.unreachable_since else "MediRecords answering"


class DeliverySource(models.TextChoices):
    GRAPH = "graph", "Microsoft Graph change notification"
    GRAPH_LIFECYCLE = "graph-lifecycle", "Microsoft Graph lifecycle notification"
    CALENDLY = "calendly", "Calendly webhook"
    STRIPE = "stripe", "Stripe webhook"
    JOTFORM = "jotform", "JotForm webhook"


# Sources whose bodies carry only ids; the others carry names, contact details or answers.
SOURCES_WITHOUT_HEALTH_DATA = frozenset({DeliverySource.GRAPH, DeliverySource.GRAPH_LIFECYCLE})


class DeliveryStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSING = "processing", "Processing"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored"
    FAILED = "failed", "Failed"


class InboundDelivery(models.Model):
    """One delivery from another system, stored before anything is done with it.

    Receivers store and acknowledge; workers process. A unique (source, delivery key) makes
    the sender's retries and duplicates land on the same row.
    """

    source = models.CharField(max_length=32, choices=DeliverySource.choices)
    delivery_key = models.CharField(max_length=1024)
    body = models.BinaryField()
    headers = models.JSONField(default=dict, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When the latest attempt started.")
    last_error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "inbound deliveries"
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["source", "delivery_key"], name="delivery_source_key_unique"),
        ]
        indexes = [models.Index(fields=["status", "received_at"])]
        permissions = [("view_delivery_body", "Can view raw bodies of deliveries that carry health data")]

    def __str__(self) -> str:
        return f"{self.source} delivery #{self.pk}"


class NotificationKind(models.TextChoices):
    CONFIRMATION = "confirmation", "Confirmation"
    RESCHEDULE = "reschedule", "Reschedule"
    CANCELLATION = "cancellation", "Cancellation"


class NotificationChannel(models.TextChoices):
    PATIENT_EMAIL = "patient_email", "Email to the patient"
    ENQUIRIES_EMAIL = "enquiries_email", "Email to enquiries"


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class Notification(models.Model):
    """One message a booking's change calls for, on one channel: logged once, then sent.

    The unique (booking, kind, channel, sequence) is what makes retries, duplicate deliveries
    and repeated syncs send a message once: whoever inserts the row second inserts nothing.
    `sequence` is the SEQUENCE of the calendar invite the message carries. `last_error` says
    why a send failed or was skipped, never with an address or anything about the patient.
    """

    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, related_name="notifications")
    kind = models.CharField(max_length=16, choices=NotificationKind.choices)
    channel = models.CharField(max_length=16, choices=NotificationChannel.choices)
    sequence = models.PositiveIntegerField(
        help_text="The calendar invite's SEQUENCE: how often the booking had moved, plus one for a cancellation."
    )
    status = models.CharField(max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(
        "next attempt", null=True, blank=True, help_text="When the next send is due; empty when none will be made."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["booking", "kind", "channel", "sequence"], name="notification_once_per_booking_state"
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notification_due_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_channel_display().lower()}) for booking #{self.booking_id}"


class AuditAction(models.TextChoices):
    PHONE_BOOKING_CREATED = "phone_booking_created", "Phone booking created"
    BOOKING_CHANGED = "booking_changed", "Booking changed"
    BOOKING_MOVED = "booking_moved", "Booking moved"
    BOOKING_CANCELLED = "booking_cancelled", "Booking cancelled"
    SYNC_RETRIED = "sync_retried", "Sync to MediRecords retried"
    PATIENT_LINKED = "patient_linked", "Linked to a MediRecords patient"
    PATIENT_CREATE_NEW = "patient_create_new", "New MediRecords patient chosen"
    DELIVERY_REPLAYED = "delivery_replayed", "Delivery replayed"
    NOTIFICATION_RESENT = "notification_resent", "Notification resent"
    SUBMISSION_LINKED = "submission_linked", "Form submission linked to a booking"
    SUBMISSION_CHANGES_ACCEPTED = "submission_changes_accepted", "Form submission's changes accepted"
    SUBMISSION_CHANGES_REJECTED = "submission_changes_rejected", "Form submission's changes rejected"


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    """Entries are only ever added: bulk changes and deletes are refused like single ones."""

    def update(self, **kwargs: object) -> int:
        raise PermissionDenied("Audit entries cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionDenied("Audit entries cannot be deleted.")


class AuditEntry(models.Model):
    """What a member of staff did to a booking, a delivery or a form submission: append-only.

    The application never changes or deletes a row (the model and its queryset refuse, and
    on PostgreSQL a trigger refuses UPDATE and DELETE whoever asks). A login that has acted
    cannot be deleted either; deactivate it instead.
    """

    occurred_at = models.DateTimeField(default=timezone.now, editable=False)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="audit_entries")
    actor_username = models.CharField("login", max_length=150, help_text="The login's name when it acted.")
    ip_address = models.GenericIPAddressField("from address", null=True, blank=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    booking = models.ForeignKey(Booking, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_entries")
    subject = models.CharField(max_length=100, help_text="What was acted on, e.g. Booking #12.")
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "audit entries"
        ordering = ["-occurred_at", "-pk"]
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=["booking", "occurred_at"]),
            models.Index(fields=["action", "occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.subject}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise PermissionDenied("Audit entries cannot be changed.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise PermissionDenied("Audit entries cannot be deleted.")
