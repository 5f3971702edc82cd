from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from bookings import inbox, sync_review
from bookings.models import SOURCES_WITHOUT_HEALTH_DATA, Booking, InboundDelivery, Patient, SyncAttempt, SyncState
from bookings.sync import booking_sync_request
from medirecords import MediRecordsError
from practitioners.clients import medirecords_client

# Booking fields whose change the booking's MediRecords appointment has to follow.
FIELDS_MEDIRECORDS_HOLDS = frozenset({"practitioner", "patient", "starts_at", "ends_at", "status", "reason"})


def changed_fields_save(instance: models.Model, form: forms.ModelForm[Any]) -> list[str]:
    """Save only the fields the form changed; returns them.

    A sync writes ids and state to the same rows while staff have the page open: saving the
    whole row as it was read would put back what the sync has since written.
    """
    concrete = {field.name for field in instance._meta.concrete_fields}
    changed = [name for name in form.changed_data if name in concrete]
    if changed:
        instance.save(update_fields=[*changed, "updated_at"])
    return changed


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin[Patient]):
    list_display = ["__str__", "last_name", "first_name", "date_of_birth", "medirecords_patient_id", "has_placeholders"]
    search_fields = ["last_name", "first_name", "email", "mobile", "medirecords_patient_id"]

    readonly_fields = ["created_at", "updated_at", "medirecords_create_attempted_at", "sync_lease_until"]

    def save_model(self, request: HttpRequest, obj: Patient, form: forms.ModelForm[Patient], change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        changed_fields_save(obj, form)

    @admin.display(boolean=True, description="Placeholders in MediRecords")
    def has_placeholders(self, patient: Patient) -> bool:
        return bool(patient.placeholder_fields)


class SyncAttemptInline(admin.TabularInline[SyncAttempt, Booking]):
    """The calls made to MediRecords for the booking, newest first; evidence, never edited."""

    model = SyncAttempt
    fields = ["started_at", "operation", "outcome", "http_status", "duration_ms", "error"]
    readonly_fields = ["started_at", "operation", "outcome", "http_status", "duration_ms", "error"]
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PatientLinkForm(forms.Form):
    """Who the booking's MediRecords patient is: one of the candidates found, or an id typed in."""

    candidate = forms.ChoiceField(label="Possible patients", widget=forms.RadioSelect, required=False)
    medirecords_patient_id = forms.CharField(label="Or a MediRecords patient id", max_length=64, required=False)

    def __init__(self, *args: Any, candidates: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["candidate"]).choices = [
            (
                str(candidate.get("id", "")),
                f"{candidate.get('first_name', '')} {candidate.get('last_name', '')}, born "
                f"{candidate.get('dob') or 'unknown'} ({candidate.get('id', '')})",
            )
            for candidate in candidates
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        chosen = (cleaned.get("medirecords_patient_id") or "").strip() or cleaned.get("candidate") or ""
        if not chosen:
            raise forms.ValidationError("Choose one of the possible patients or enter a MediRecords patient id.")
        cleaned["chosen"] = chosen
        return cleaned


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
    actions = ["retry_sync", "link_patient"]
    inlines = [SyncAttemptInline]
    # What the calendar event and Calendly told us, and the booking's history, are shown as
    # they were recorded: a change made in Calendly or Office 365 arrives through the pipeline.
    # The sync's bookkeeping is the sync's own.
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
        "medirecords_appointment_id",
        "sync_state",
        "synced_at",
        "sync_error",
        "patient_candidates_list",
        "sync_requested_generation",
        "sync_completed_generation",
        "sync_requested_at",
        "sync_lease_until",
        "sync_failing_since",
        "sync_transient_failures",
        "sync_retry_at",
        "medirecords_create_attempted_at",
        "medirecords_create_attempted_for",
    ]
    exclude = ["patient_candidates"]

    def save_model(self, request: HttpRequest, obj: Booking, form: forms.ModelForm[Booking], change: bool) -> None:
        """A staff change that MediRecords should hear about is synced, like any other change."""
        if not change:
            super().save_model(request, obj, form, change)
            booking_sync_request(booking_id=obj.pk)
            return
        changed = changed_fields_save(obj, form)
        if set(changed) & FIELDS_MEDIRECORDS_HOLDS:
            booking_sync_request(booking_id=obj.pk)

    def get_urls(self) -> list[URLPattern]:
        link = path(
            "<path:object_id>/link-patient/",
            self.admin_site.admin_view(self.link_patient_view),
            name="bookings_booking_link_patient",
        )
        return [link, *super().get_urls()]

    @admin.display(description="Possible MediRecords patients")
    def patient_candidates_list(self, booking: Booking) -> str:
        if not booking.patient_candidates:
            return "-"
        rows = format_html_join(
            "",
            "<li>{} {}, born {} ({})</li>",
            (
                (
                    candidate.get("first_name", ""),
                    candidate.get("last_name", ""),
                    candidate.get("dob") or "unknown",
                    candidate.get("id", ""),
                )
                for candidate in booking.patient_candidates
            ),
        )
        url = reverse("admin:bookings_booking_link_patient", args=[booking.pk])
        return format_html('<ul>{}</ul><a href="{}">Choose the patient</a>', rows, url)

    @admin.action(description="Retry the sync to MediRecords", permissions=["change"])
    def retry_sync(self, request: HttpRequest, queryset: QuerySet[Booking]) -> None:
        retried = sync_review.booking_sync_retry(booking_ids=queryset.values_list("pk", flat=True))
        self.message_user(request, f"{retried} bookings queued to sync again.", messages.SUCCESS)
        skipped = queryset.count() - retried
        if skipped:
            self.message_user(request, f"{skipped} are in MediRecords already and were left alone.", messages.INFO)

    @admin.action(description="Link to an existing MediRecords patient", permissions=["change"])
    def link_patient(self, request: HttpRequest, queryset: QuerySet[Booking]) -> HttpResponseRedirect | None:
        if queryset.count() != 1:
            self.message_user(request, "Choose one booking to link.", messages.WARNING)
            return None
        booking = queryset.get()
        return HttpResponseRedirect(reverse("admin:bookings_booking_link_patient", args=[booking.pk]))

    def link_patient_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Staff choose the booking's MediRecords patient, or have a new one created."""
        booking = get_object_or_404(Booking.objects.select_related("patient"), pk=object_id)
        if not self.has_change_permission(request, booking):
            raise PermissionDenied
        change_url = reverse("admin:bookings_booking_change", args=[booking.pk])
        form = PatientLinkForm(request.POST or None, candidates=list(booking.patient_candidates))
        if request.method == "POST":
            if "create_new" in request.POST:
                sync_review.booking_patient_create_new(booking_id=booking.pk)
                self.message_user(request, "A new MediRecords patient will be created.", messages.SUCCESS)
                return HttpResponseRedirect(change_url)
            if form.is_valid():
                try:
                    sync_review.booking_patient_link(
                        booking_id=booking.pk,
                        medirecords_patient_id=form.cleaned_data["chosen"],
                        client=medirecords_client(),
                    )
                except sync_review.PatientNotInMediRecords as missing:
                    form.add_error("medirecords_patient_id", str(missing))
                except MediRecordsError as error:
                    form.add_error(None, f"MediRecords could not be asked: {type(error).__name__}. Try again.")
                else:
                    self.message_user(request, "Patient linked; the booking is syncing.", messages.SUCCESS)
                    return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Link {booking} to a MediRecords patient",
            "opts": self.opts,
            "booking": booking,
            "form": form,
            "change_url": change_url,
            "needs_review": booking.sync_state == SyncState.NEEDS_REVIEW,
        }
        return TemplateResponse(request, "admin/bookings/booking/link_patient.html", context)


@admin.register(SyncAttempt)
class SyncAttemptAdmin(admin.ModelAdmin[SyncAttempt]):
    """Every call made to MediRecords for a booking: read-only evidence, no patient data."""

    list_display = ["__str__", "started_at", "operation", "outcome", "http_status", "duration_ms"]
    list_filter = ["operation", "outcome", "http_status"]
    list_select_related = ["booking"]
    date_hierarchy = "started_at"
    fields = ["booking", "operation", "started_at", "duration_ms", "outcome", "http_status", "error"]
    readonly_fields = ["booking", "operation", "started_at", "duration_ms", "outcome", "http_status", "error"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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
