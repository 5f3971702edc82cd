from django.contrib import admin
from django.db import models

from practitioners.models import Practitioner


@admin.register(Practitioner)
class PractitionerAdmin(admin.ModelAdmin[Practitioner]):
    # Every URL we keep (Calendly, Stripe) is https; a bare host typed in means https too.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["display_name", "kind", "booking_type", "fee", "default_duration_minutes", "is_active"]
    list_filter = ["kind", "booking_type", "is_active"]
    search_fields = ["display_name", "slug"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["slug", "display_name", "kind", "is_active", "display_order"]}),
        ("Bookings", {"fields": ["booking_type", "fee", "default_duration_minutes"]}),
        ("Office 365", {"fields": ["o365_mailbox", "o365_calendar_id"]}),
        ("Calendly", {"fields": ["calendly_event_type_uri", "calendly_scheduling_url"]}),
        ("MediRecords", {"fields": ["medirecords_provider_id", "medirecords_appointment_type_id"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]
