"""What happened, read-only: calls made to MediRecords, deliveries received, the audit trail."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from bookings.admin.access import ReadOnlyAdmin, RowLevelAccessAdmin
from bookings.audit import AuditActor
from bookings.inbox import deliveries
from bookings.models import (
    SOURCES_WITHOUT_HEALTH_DATA,
    AuditEntry,
    InboundDelivery,
    SyncAttempt,
)
from bookings.selectors import bookings_visible_to


@admin.register(SyncAttempt)
class SyncAttemptAdmin(ReadOnlyAdmin, RowLevelAccessAdmin[SyncAttempt]):
    """Every call made to MediRecords for a booking: read-only evidence, no patient data."""

    list_display = ["__str__", "started_at", "operation", "outcome", "http_status", "duration_ms"]
    list_filter = ["operation", "outcome", "http_status"]
    date_hierarchy = "started_at"
    fields = ("booking", "operation", "started_at", "duration_ms", "outcome", "http_status", "error")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[SyncAttempt]:
        return super().get_queryset(request).filter(booking__in=bookings_visible_to(user=request.user))


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
        replayed = deliveries.delivery_replay_by_staff(
            delivery_ids=queryset.values_list("pk", flat=True), actor=AuditActor.from_request(request)
        )
        skipped = queryset.count() - replayed
        self.message_user(request, f"{replayed} deliveries queued to be processed again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} are being processed right now and were left alone.", messages.WARNING
            )

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        """No filtering on bodies or headers from the URL: each guess answered yes or no would
        read a body, health data included, a character at a time."""
        if lookup.split("__", 1)[0] in {"body", "headers"}:
            return False
        return super().lookup_allowed(lookup, value, request)

    @staticmethod
    def _may_view_body(request: HttpRequest, delivery: InboundDelivery) -> bool:
        return delivery.source in SOURCES_WITHOUT_HEALTH_DATA or request.user.has_perm("bookings.view_delivery_body")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin, admin.ModelAdmin[AuditEntry]):
    """The audit trail: read and filtered here, never added, changed or deleted, by anyone."""

    list_display = ["occurred_at", "action", "subject", "actor_username", "ip_address", "reason"]
    list_filter = ["action", "actor_username"]
    search_fields = ["subject", "actor_username", "reason"]
    date_hierarchy = "occurred_at"
    fields = ("occurred_at", "action", "subject", "booking", "actor_username", "ip_address", "reason", "changes")
    readonly_fields = fields

    @admin.display(description="before → after")
    def changes(self, entry: AuditEntry) -> str:
        keys = sorted(set(entry.before) | set(entry.after))
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "",
                "<tr><th>{}</th><td>{}</td><td>→ {}</td></tr>",
                ((key, entry.before.get(key, ""), entry.after.get(key, "")) for key in keys),
            ),
        )

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}
