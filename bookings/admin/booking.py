"""Bookings: the list staff work from, changes (audited), retries and patient links."""

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

from bookings.admin.phone_views import PhoneBookingViews
from bookings.audit import AuditActor
from bookings.console.booking_edits import booking_edit_by_staff
from bookings.models import (
    Booking,
    BookingKind,
    SyncAttempt,
    SyncState,
)
from bookings.push import review
from bookings.selectors import bookings_visible_to
from medirecords import MediRecordsError
from practitioners.clients import medirecords_client

# A phone booking's slot: changed only by moving or cancelling it.
PHONE_BOOKING_SLOT_FIELDS = ("practitioner", "kind", "starts_at", "ends_at", "status")


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
class BookingAdmin(PhoneBookingViews):
    # Every URL we keep (Calendly, Stripe) is https; a bare host typed in means https too.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["__str__", "practitioner", "starts_at", "kind", "status", "payment_status", "sync_state"]
    list_filter = ["practitioner", "kind", "status", "payment_status", "sync_state"]
    list_select_related = ["practitioner"]
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

    def get_queryset(self, request: HttpRequest) -> QuerySet[Booking]:
        return bookings_visible_to(user=request.user)

    def get_fields(self, request: HttpRequest, obj: Booking | None = None) -> list[Any]:
        """A phone booking's slot, read-only, is shown first rather than after every other field."""
        fields = list(super().get_fields(request, obj))
        if obj is None or obj.kind != BookingKind.PHONE:
            return fields
        return [*PHONE_BOOKING_SLOT_FIELDS, *(name for name in fields if name not in PHONE_BOOKING_SLOT_FIELDS)]

    def get_readonly_fields(self, request: HttpRequest, obj: Booking | None = None) -> list[str]:
        """A phone booking's slot changes only through Move and Cancel, which ask for a reason
        and keep the slot free of clashes; its kind stays, or the slot would be editable again."""
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.kind == BookingKind.PHONE:
            fields += [name for name in PHONE_BOOKING_SLOT_FIELDS if name not in fields]
        return fields

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Staff make bookings on the phone booking page, whose checks (clashes, daylight
        saving, the patient) and audit entry a bare form would skip."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse("admin:bookings_booking_phone"))

    def save_model(self, request: HttpRequest, obj: Booking, form: forms.ModelForm[Booking], change: bool) -> None:
        """A staff change is saved, audited and synced like any other change."""
        if not change:
            raise PermissionDenied("bookings are made on the phone booking page")
        booking_edit_by_staff(booking=obj, changed_fields=form.changed_data, actor=AuditActor.from_request(request))

    def get_urls(self) -> list[URLPattern]:
        own = [
            # Before the model's own URLs, whose `<object_id>/` would otherwise take "phone".
            path("phone/", self.admin_site.admin_view(self.phone_booking_view), name="bookings_booking_phone"),
            path(
                "<path:object_id>/link-patient/",
                self.admin_site.admin_view(self.link_patient_view),
                name="bookings_booking_link_patient",
            ),
            path(
                "<path:object_id>/move/",
                self.admin_site.admin_view(self.phone_booking_move_view),
                name="bookings_booking_move",
            ),
            path(
                "<path:object_id>/cancel/",
                self.admin_site.admin_view(self.phone_booking_cancel_view),
                name="bookings_booking_cancel",
            ),
        ]
        return [*own, *super().get_urls()]

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
        retried = review.booking_sync_retry(
            booking_ids=queryset.values_list("pk", flat=True), actor=AuditActor.from_request(request)
        )
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
        booking = get_object_or_404(self.get_queryset(request).select_related("patient"), pk=object_id)
        if not self.has_change_permission(request, booking):
            raise PermissionDenied
        change_url = reverse("admin:bookings_booking_change", args=[booking.pk])
        form = PatientLinkForm(request.POST or None, candidates=list(booking.patient_candidates))
        if request.method == "POST":
            if "create_new" in request.POST:
                review.booking_patient_create_new(booking_id=booking.pk, actor=AuditActor.from_request(request))
                self.message_user(request, "A new MediRecords patient will be created.", messages.SUCCESS)
                return HttpResponseRedirect(change_url)
            if form.is_valid():
                try:
                    review.booking_patient_link(
                        booking_id=booking.pk,
                        medirecords_patient_id=form.cleaned_data["chosen"],
                        client=medirecords_client(),
                        actor=AuditActor.from_request(request),
                    )
                except review.PatientNotInMediRecordsError as missing:
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
