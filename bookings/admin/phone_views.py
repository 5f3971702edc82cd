"""The phone booking pages: book (finding or entering the patient), move and cancel."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from bookings.admin.access import RowLevelAccessAdmin
from bookings.admin.phone_forms import (
    PHONE_FORM_FIELD_OF,
    PhoneBookingCancelForm,
    PhoneBookingForm,
    PhoneBookingMoveForm,
)
from bookings.audit import AuditActor
from bookings.console.patient_search import patient_chosen, patient_search
from bookings.console.phone_bookings import (
    PhoneBookingRefusedError,
    booking_when,
    phone_booking_cancel,
    phone_booking_create,
    phone_booking_move,
)
from bookings.models import (
    Booking,
    BookingKind,
    BookingStatus,
    PaymentStatus,
)
from medirecords import MediRecordsError, NotFoundError
from practitioners.clients import medirecords_client


class PhoneBookingViews(RowLevelAccessAdmin[Booking]):
    """The booking admin's phone pages; URLs are wired in `BookingAdmin.get_urls`."""

    def phone_booking_view(self, request: HttpRequest) -> HttpResponse:
        """Book a patient on the phone: search (`q`), choose or enter the patient, book.

        The search is posted, not put in the address: names and dates of birth in a URL end
        up in browser history and in the access logs of every proxy on the way.
        """
        if not self.has_add_permission(request):
            raise PermissionDenied
        searching = request.method == "POST" and "search" in request.POST
        data = request.POST if request.method == "POST" and not searching else None
        query = request.POST.get("q", "").strip()
        form = PhoneBookingForm(data, user=request.user)
        if data is not None and form.is_valid():
            booking = self._phone_booking_create(request, form)
            if booking is not None:
                when = booking_when(booking.starts_at, booking.ends_at)
                self.message_user(
                    request,
                    f"{booking} made with {booking.practitioner} on {when}; it is on its way to MediRecords.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:bookings_booking_change", args=[booking.pk]))
        search = patient_search(text=query, user=request.user, client=medirecords_client()) if query else None
        form.found_set(search.found if search is not None else ())
        context = {
            **self.admin_site.each_context(request),
            "title": "Book by phone",
            "opts": self.opts,
            "form": form,
            "media": self.media + form.media,
            "q": query,
            "search": search,
        }
        return TemplateResponse(request, "admin/bookings/booking/phone_booking.html", context)

    def _phone_booking_create(self, request: HttpRequest, form: PhoneBookingForm) -> Booking | None:
        """The booking the form asks for, or None with the reason it was refused added to the form."""
        data = form.cleaned_data
        try:
            patient = patient_chosen(
                choice=data["patient"], user=request.user, new_patient=form.new_patient(), client=medirecords_client()
            )
            return phone_booking_create(
                practitioner=data["practitioner"],
                patient=patient,
                starts_at=data["starts_at"],
                duration_minutes=data["duration_minutes"],
                reason=data["reason"],
                payment_status=PaymentStatus(data["payment_status"]),
                follows=data["follows"],
                actor=AuditActor.from_request(request),
            )
        except PhoneBookingRefusedError as refused:
            form.add_error(PHONE_FORM_FIELD_OF.get(refused.field or ""), str(refused))
        except NotFoundError:
            form.add_error("patient", "MediRecords no longer has that patient; search again.")
        except MediRecordsError:
            form.add_error(
                "patient",
                "MediRecords could not be asked for this patient's details just now; try again in a moment.",
            )
        return None

    def phone_booking_move_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Move a phone booking to another slot, for a reason kept in the audit trail."""
        booking = self._phone_booking_to_change(request, object_id)
        change_url = reverse("admin:bookings_booking_change", args=[booking.pk])
        if booking.kind != BookingKind.PHONE or booking.status != BookingStatus.BOOKED:
            self.message_user(
                request, f"Only a booked phone booking can be moved here; {booking} is not one.", messages.ERROR
            )
            return HttpResponseRedirect(change_url)
        form = PhoneBookingMoveForm(request.POST or None, booking=booking)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                moved = phone_booking_move(
                    booking=booking,
                    practitioner=data["practitioner"],
                    starts_at=data["starts_at"],
                    duration_minutes=data["duration_minutes"],
                    reason=data["reason"],
                    actor=AuditActor.from_request(request),
                )
            except PhoneBookingRefusedError as refused:
                form.add_error(PHONE_FORM_FIELD_OF.get(refused.field or ""), str(refused))
            else:
                when = booking_when(moved.starts_at, moved.ends_at)
                self.message_user(request, f"{moved} moved to {moved.practitioner} on {when}.", messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        return self._phone_booking_page(request, booking, form, title=f"Move {booking}", action="Move the booking")

    def phone_booking_cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Cancel a phone booking, for a reason kept in the audit trail."""
        booking = self._phone_booking_to_change(request, object_id)
        change_url = reverse("admin:bookings_booking_change", args=[booking.pk])
        if booking.kind != BookingKind.PHONE:
            self.message_user(
                request, f"Only a phone booking can be cancelled here; {booking} is not one.", messages.ERROR
            )
            return HttpResponseRedirect(change_url)
        form = PhoneBookingCancelForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                phone_booking_cancel(
                    booking=booking, reason=form.cleaned_data["reason"], actor=AuditActor.from_request(request)
                )
            except PhoneBookingRefusedError as refused:
                form.add_error(PHONE_FORM_FIELD_OF.get(refused.field or ""), str(refused))
            else:
                self.message_user(request, f"{booking} cancelled.", messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        return self._phone_booking_page(request, booking, form, title=f"Cancel {booking}", action="Cancel the booking")

    def _phone_booking_to_change(self, request: HttpRequest, object_id: str) -> Booking:
        """The booking, if this login may see it (404 otherwise) and change it (403 otherwise)."""
        booking = get_object_or_404(self.get_queryset(request).select_related("practitioner", "patient"), pk=object_id)
        if not self.has_change_permission(request, booking):
            raise PermissionDenied
        return booking

    def _phone_booking_page(
        self, request: HttpRequest, booking: Booking, form: forms.Form, *, title: str, action: str
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "booking": booking,
            "when": booking_when(booking.starts_at, booking.ends_at),
            "form": form,
            "media": self.media + form.media,
            "action": action,
            "change_url": reverse("admin:bookings_booking_change", args=[booking.pk]),
        }
        return TemplateResponse(request, "admin/bookings/booking/phone_booking_change.html", context)
