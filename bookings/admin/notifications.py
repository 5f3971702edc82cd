"""Notifications: what each booking's patient and the enquiries inbox were sent, and a resend."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from bookings.admin.access import RowLevelAccessAdmin
from bookings.audit import AuditActor
from bookings.models import Notification
from bookings.notifications.sending import notification_resend
from bookings.selectors import bookings_visible_to

# The list's columns; a notification's page shows them and when it was logged.
NOTIFICATION_COLUMNS = (
    "booking",
    "kind",
    "channel",
    "sequence",
    "status",
    "attempts",
    "next_attempt_at",
    "sent_at",
    "last_error",
)
NOTIFICATION_FIELDS = (*NOTIFICATION_COLUMNS, "created_at")


@admin.register(Notification)
class NotificationAdmin(RowLevelAccessAdmin[Notification]):
    """Read-only evidence of every message logged for a booking; staff may only send one again."""

    list_display = ["__str__", *NOTIFICATION_COLUMNS]
    list_filter = ["status", "kind", "channel"]
    list_select_related = ["booking"]
    date_hierarchy = "created_at"
    fields = NOTIFICATION_FIELDS
    readonly_fields = NOTIFICATION_FIELDS
    actions = ["resend"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notification]:
        return super().get_queryset(request).filter(booking__in=bookings_visible_to(user=request.user))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Change means resending from the list; a notification's own page only shows it."""
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Send the selected notifications again", permissions=["change"])
    def resend(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        resent = notification_resend(
            notification_ids=queryset.values_list("pk", flat=True), actor=AuditActor.from_request(request)
        )
        self.message_user(
            request, f"{resent} notifications sent again; their status shows how each went.", messages.SUCCESS
        )
