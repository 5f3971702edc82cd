from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from bookings import inbox
from bookings.models import SOURCES_WITHOUT_HEALTH_DATA, Booking, InboundDelivery, Patient


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin[Patient]):
    list_display = ["__str__", "last_name", "first_name", "date_of_birth", "medirecords_patient_id", "has_placeholders"]
    search_fields = ["last_name", "first_name", "email", "mobile", "medirecords_patient_id"]
    readonly_fields = ["created_at", "updated_at"]

    @admin.display(boolean=True, description="Placeholders in MediRecords")
    def has_placeholders(self, patient: Patient) -> bool:
        return bool(patient.placeholder_fields)


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin[Booking]):
    # Every URL we keep (Calendly, Stripe) is https; a bare host typed in means https too.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["__str__", "practitioner", "starts_at", "kind", "status", "payment_status", "sync_state"]
    list_filter = ["practitioner", "kind", "status", "payment_status", "sync_state"]
    list_select_related = ["practitioner", "patient"]
    search_fields = ["patient__last_name", "patient__first_name", "o365_event_id", "calendly_invitee_uri"]
    date_hierarchy = "starts_at"
    raw_id_fields = ["patient"]
    # What the calendar event and Calendly told us, and the booking's history, are shown as
    # they were recorded: a change made in Calendly or Office 365 arrives through the pipeline.
    readonly_fields = [
        "o365_etag",
        "o365_modified_at",
        "calendly_cancel_url",
        "calendly_reschedule_url",
        "intake_warnings",
        "cancelled_at",
        "rescheduled_at",
        "reschedule_count",
        "created_at",
        "updated_at",
        "synced_at",
        "sync_error",
    ]


@admin.register(InboundDelivery)
class InboundDeliveryAdmin(admin.ModelAdmin[InboundDelivery]):
    """Deliveries are evidence of what was received: read-only, never deleted, replayable."""

    # No body in the list: several sources carry names, contact details and answers.
    list_display = ["__str__", "source", "status", "attempts", "received_at", "processed_at"]
    list_filter = ["source", "status"]
    search_fields = ["delivery_key", "correlation_id"]
    date_hierarchy = "received_at"
    actions = ["replay"]

    def get_fields(self, request: HttpRequest, obj: InboundDelivery | None = None) -> tuple[str, ...]:
        fields: tuple[str, ...] = (
            "source",
            "delivery_key",
            "status",
            "attempts",
            "last_error",
            "received_at",
            "claimed_at",
            "processed_at",
            "correlation_id",
            "headers",
        )
        if obj is not None and self._may_view_body(request, obj):
            fields += ("body_text",)
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: InboundDelivery | None = None) -> tuple[str, ...]:
        return self.get_fields(request, obj)

    @admin.display(description="Body")
    def body_text(self, delivery: InboundDelivery) -> str:
        return bytes(delivery.body).decode("utf-8", errors="replace")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Process the selected deliveries again", permissions=["change"])
    def replay(self, request: HttpRequest, queryset: QuerySet[InboundDelivery]) -> None:
        replayed = inbox.delivery_replay(delivery_ids=queryset.values_list("pk", flat=True))
        skipped = queryset.count() - replayed
        self.message_user(request, f"{replayed} deliveries queued to be processed again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} are being processed right now and were left alone.", messages.WARNING
            )

    @staticmethod
    def _may_view_body(request: HttpRequest, delivery: InboundDelivery) -> bool:
        return delivery.source in SOURCES_WITHOUT_HEALTH_DATA or request.user.has_perm("bookings.view_delivery_body")
