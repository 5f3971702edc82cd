"""What a patient and the enquiries inbox are told when a booking is made, moved or cancelled.

The messages are built here and sent elsewhere. The patient's email carries the appointment
in the practice's time, what to prepare, the intake form links and a calendar invite; the
enquiries email carries the least that lets staff act: no name, contact detail, date of birth
or reason, only the booking's number and a link to it in admin.
"""

import re
from datetime import datetime
from email.mime.text import MIMEText
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from bookings.descriptions import BookingOrigin, booking_origin
from bookings.models import Booking
from bookings.notifications.intake_links import intake_links
from bookings.notifications.invite import METHOD_CANCEL, METHOD_REQUEST, calendar_invite
from practitioners.practice_time import practice_local

CONFIRMATION = "confirmation"
RESCHEDULE = "reschedule"
CANCELLATION = "cancellation"
KINDS = (CONFIRMATION, RESCHEDULE, CANCELLATION)

INVITE_FILENAME = "invite.ics"
# Between the two times of a range, as typeset.
EN_DASH = "\u2013"

_PATIENT_SUBJECTS = {
    CONFIRMATION: "Your appointment with {practitioner} at {practice} is confirmed",
    RESCHEDULE: "Your appointment with {practitioner} at {practice} has moved",
    CANCELLATION: "Your appointment with {practitioner} at {practice} is cancelled",
}
_ENQUIRIES_SUBJECTS = {
    CONFIRMATION: "New booking #{number}: {practitioner}, {when}",
    RESCHEDULE: "Booking #{number} moved: {practitioner}, now {when}",
    CANCELLATION: "Booking #{number} cancelled: {practitioner}, {when}",
}


def patient_email(*, booking: Booking, kind: str, sequence: int) -> EmailMultiAlternatives:
    """The patient's email for a new, moved or cancelled booking, with its calendar invite.

    `sequence` is the invite's SEQUENCE (0 for the first, growing with each update).
    Raises ValueError for an unknown kind or a booking without a patient email.
    """
    _check_kind(kind)
    patient = booking.patient
    if patient is None or not patient.email:
        raise ValueError(f"Booking #{booking.pk} has no patient email.")
    context = {
        **_booking_context(booking, kind=kind),
        "first_name": patient.first_name,
        "intake_links": [] if kind == CANCELLATION else intake_links(booking=booking),
        "cancel_url": "" if kind == CANCELLATION else booking.calendly_cancel_url,
        "reschedule_url": "" if kind == CANCELLATION else booking.calendly_reschedule_url,
        "scheduling_url": booking.practitioner.calendly_scheduling_url,
    }
    subject = _PATIENT_SUBJECTS[kind].format(
        practitioner=booking.practitioner.display_name, practice=settings.PRACTICE_NAME
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=_render_text("emails/patient_booking.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[patient.email],
        reply_to=[settings.PRACTICE_EMAIL],
    )
    message.attach_alternative(render_to_string("emails/patient_booking.html", context), "text/html")
    method = METHOD_CANCEL if kind == CANCELLATION else METHOD_REQUEST
    message.attach(_invite_part(calendar_invite(booking=booking, method=method, sequence=sequence), method=method))
    return message


def enquiries_email(*, booking: Booking, kind: str) -> EmailMultiAlternatives:
    """The staff summary for the enquiries inbox: what happened to which booking, and where to look."""
    _check_kind(kind)
    context = {
        **_booking_context(booking, kind=kind),
        "booking_number": booking.pk,
        "booking_kind": booking.get_kind_display(),
        "payment_status": booking.get_payment_status_display(),
        "source": booking_source(booking),
        "reschedule_count": booking.reschedule_count,
        "admin_url": settings.PUBLIC_BASE_URL + reverse("admin:bookings_booking_change", args=[booking.pk]),
    }
    subject = _ENQUIRIES_SUBJECTS[kind].format(
        number=booking.pk, practitioner=booking.practitioner.display_name, when=context["starts_short"]
    )
    message = EmailMultiAlternatives(
        subject=subject,
        body=_render_text("emails/enquiries_booking.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[settings.ENQUIRIES_EMAIL],
    )
    message.attach_alternative(render_to_string("emails/enquiries_booking.html", context), "text/html")
    return message


_SOURCE_WORDS = {
    BookingOrigin.PHONE: "Phone (booked by staff)",
    BookingOrigin.CALENDLY: "Calendly",
    BookingOrigin.OFFICE_365: "Office 365 calendar",
    BookingOrigin.UNKNOWN: "Unknown",
}


def booking_source(booking: Booking) -> str:
    """Where the booking came from, as staff name it."""
    return _SOURCE_WORDS[booking_origin(booking)]


def appointment_time(starts_at: datetime, ends_at: datetime) -> str:
    """Tuesday 1 December 2026, 2:00 pm to 2:30 pm (Sydney time, AEDT), an en dash for "to"."""
    start, end = practice_local(starts_at), practice_local(ends_at)
    until = _clock(end) if end.date() == start.date() else f"{_day(end)}, {_clock(end)}"
    return f"{_day(start)}, {_clock(start)} {EN_DASH} {until} ({_zone_name(start)})"


def duration_text(starts_at: datetime, ends_at: datetime) -> str:
    """'30 minutes', '1 hour', '1 hour 15 minutes'."""
    hours, minutes = divmod(int((ends_at - starts_at).total_seconds() // 60), 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes or not hours:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"Unknown notification kind {kind!r}; expected one of {', '.join(KINDS)}.")


def _booking_context(booking: Booking, *, kind: str) -> dict[str, Any]:
    """What both emails say about the appointment: who, when, how long, where."""
    start = practice_local(booking.starts_at)
    return {
        "kind": kind,
        "practice_name": settings.PRACTICE_NAME,
        "practice_address": settings.PRACTICE_ADDRESS,
        "practice_phone": settings.PRACTICE_PHONE,
        "practice_email": settings.PRACTICE_EMAIL,
        "practitioner": booking.practitioner.display_name,
        "when": appointment_time(booking.starts_at, booking.ends_at),
        "starts_short": f"{start:%a} {start.day} {start:%b %Y}, {_clock(start)} {start.tzname()}",
        "duration": duration_text(booking.starts_at, booking.ends_at),
        "location": settings.PRACTICE_ADDRESS,
    }


def _render_text(template_name: str, context: dict[str, Any]) -> str:
    # Template tags leave blank lines behind; a plain-text email reads better without runs of them.
    rendered = render_to_string(template_name, context)
    without_trailing_spaces = re.sub(r"[ \t]+\n", "\n", rendered)
    return re.sub(r"\n{3,}", "\n\n", without_trailing_spaces).strip() + "\n"


def _invite_part(ics: bytes, *, method: str) -> MIMEText:
    """The invite as an attachment whose MIME type names the method, as calendars expect."""
    part = MIMEText(ics.decode("utf-8"), "calendar", "utf-8")
    part.set_param("method", method, requote=False)
    part.add_header("Content-Disposition", "attachment", filename=INVITE_FILENAME)
    return part


def _day(moment: datetime) -> str:
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


def _clock(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'am' if moment.hour < 12 else 'pm'}"


def _zone_name(moment: datetime) -> str:
    """'Sydney time, AEDT': the city of the zone's name and the abbreviation in force then."""
    city = settings.PRACTICE_TIME_ZONE.rpartition("/")[2].replace("_", " ")
    return f"{city} time, {moment.tzname()}"
