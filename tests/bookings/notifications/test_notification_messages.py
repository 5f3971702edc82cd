"""What the patient and the enquiries inbox are told about a booking, and what they are not."""

import re
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from icalendar import Calendar

from bookings.models import BookingKind, PaymentStatus
from bookings.notifications.messages import enquiries_email, patient_email
from practitioners.models import BookingType, PractitionerKind
from tests.bookings.factories import BookingFactory, PatientFactory, PhoneBookingFactory
from tests.practitioners.factories import PractitionerFactory

SYDNEY = ZoneInfo("Australia/Sydney")
MINI_URL = "https://form.jotform.com/250000000000001"
FULL_URL = "https://form.jotform.com/250000000000002"
TRIAGE_URL = "https://form.jotform.com/250000000000003"
WHEN = "Tuesday 1 December 2026, 2:00 pm \u2013 2:30 pm (Sydney time, AEDT)"
CANCEL_URL = "https://calendly.com/cancellations/0f1e2d3c-aaaa-4bbb-8ccc-123456789abc"
RESCHEDULE_URL = "https://calendly.com/reschedulings/0f1e2d3c-aaaa-4bbb-8ccc-123456789abc"
# Distinctive, so that finding them anywhere in a message cannot be a coincidence.
FIRST_NAME = "Mary Zephyrine"
LAST_NAME = "O'Quackenbush"
EMAIL = "zephyrine+clinic@example.com.au"
MOBILE = "+61491570156"
BORN = date(1979, 7, 23)
REASON = "Persistent migraines since the accident"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _practice(settings):
    settings.PRACTICE_TIME_ZONE = "Australia/Sydney"
    settings.PRACTICE_NAME = "Harbour Health Clinic"
    settings.PRACTICE_ADDRESS = "12 Example Street, Surry Hills NSW 2010"
    settings.PRACTICE_PHONE = "(02) 9000 1234"
    settings.PRACTICE_EMAIL = "bookings@harbourhealth.example.com.au"
    settings.DEFAULT_FROM_EMAIL = "Harbour Health Clinic <no-reply@harbourhealth.example.com.au>"
    settings.ENQUIRIES_EMAIL = "enquiries@harbourhealth.example.com.au"
    settings.PUBLIC_BASE_URL = "https://ops.harbourhealth.example.com.au"
    settings.FORMS_MINI_URL = MINI_URL
    settings.FORMS_FULL_URL = FULL_URL
    settings.FORMS_TRIAGE_URL = TRIAGE_URL


def practitioner(kind: str = PractitionerKind.NURSE_PRACTITIONER, booking_type: str = BookingType.PAID, **fields):
    values = {"slug": kind, "display_name": kind.replace("_", " ").title(), **fields}
    return PractitionerFactory(kind=kind, booking_type=booking_type, **values)


def booking_with(seen_by=None, *, factory=BookingFactory, **fields):
    patient = PatientFactory(first_name=FIRST_NAME, last_name=LAST_NAME, email=EMAIL, mobile=MOBILE, date_of_birth=BORN)
    starts_at = fields.pop("starts_at", datetime(2026, 12, 1, 14, 0, tzinfo=SYDNEY))
    values = {
        "practitioner": seen_by or practitioner(display_name="Nurse Ngaio"),
        "patient": patient,
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(minutes=30),
        "reason": REASON,
        **fields,
    }
    return factory(**values)


def html_of(message) -> str:
    [(content, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return str(content)


def form_links(text: str) -> dict[str, dict[str, list[str]]]:
    """The form links in a plain-text body: form URL -> its query, decoded."""
    links = {}
    for url in re.findall(r"https://form\.jotform\.com/\S+", text):
        parts = urlsplit(url)
        links[f"{parts.scheme}://{parts.netloc}{parts.path}"] = parse_qs(parts.query)
    return links


def invite_of(message):
    [part] = message.attachments
    return part


# --- The patient's email ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "subject_says"),
    [("confirmation", "is confirmed"), ("reschedule", "has moved"), ("cancellation", "is cancelled")],
)
def test_each_kind_names_the_practice_what_happened_and_the_appointment(kind, subject_says):
    booking = booking_with()

    message = patient_email(booking=booking, kind=kind, sequence=0)

    assert message.subject == f"Your appointment with Nurse Ngaio at Harbour Health Clinic {subject_says}"
    assert message.to == [EMAIL]
    assert message.from_email == "Harbour Health Clinic <no-reply@harbourhealth.example.com.au>"
    assert message.reply_to == ["bookings@harbourhealth.example.com.au"]
    for body in (message.body, html_of(message)):
        assert "Nurse Ngaio" in body
        assert WHEN in body
        assert "30 minutes" in body
        assert "12 Example Street, Surry Hills NSW 2010" in body
        # The footer.
        assert "Harbour Health Clinic" in body
        assert "(02) 9000 1234" in body


def test_the_time_is_the_practice_zones_either_side_of_daylight_saving():
    starts_at = datetime(2026, 10, 3, 9, 0, tzinfo=SYDNEY)
    booking = booking_with(starts_at=starts_at, ends_at=starts_at + timedelta(hours=1, minutes=15))
    later = booking_with(starts_at=datetime(2026, 10, 4, 9, 0, tzinfo=SYDNEY))

    before = patient_email(booking=booking, kind="confirmation", sequence=0).body
    after = patient_email(booking=later, kind="confirmation", sequence=0).body

    assert "Saturday 3 October 2026, 9:00 am \u2013 10:15 am (Sydney time, AEST)" in before
    assert "1 hour 15 minutes" in before
    assert "Sunday 4 October 2026, 9:00 am \u2013 9:30 am (Sydney time, AEDT)" in after


def test_confirmation_and_reschedule_say_what_to_prepare():
    booking = booking_with()
    for kind in ("confirmation", "reschedule"):
        message = patient_email(booking=booking, kind=kind, sequence=0)
        for body in (message.body, html_of(message)):
            assert "arrive 10 minutes early" in body
            assert "Medicare card" in body
            assert "medications" in body


@pytest.mark.parametrize(
    ("kind", "booking_type", "forms"),
    [
        (PractitionerKind.DOCTOR, BookingType.PAID, [FULL_URL]),
        (PractitionerKind.DOCTOR, BookingType.FREE_INITIAL, [MINI_URL]),
        (PractitionerKind.CONSULTANT, BookingType.FREE_INITIAL, [MINI_URL, TRIAGE_URL]),
        (PractitionerKind.CONSULTANT, BookingType.PAID, [FULL_URL, TRIAGE_URL]),
    ],
)
def test_the_intake_links_are_the_forms_for_the_booking_prefilled(kind, booking_type, forms):
    booking = booking_with(practitioner(kind, booking_type))

    message = patient_email(booking=booking, kind="confirmation", sequence=0)

    links = form_links(message.body)
    assert list(links) == forms
    for query in links.values():
        assert query == {
            "fullName[first]": [FIRST_NAME],
            "fullName[last]": [LAST_NAME],
            "email": [EMAIL],
            "bookingReference": [booking.intake_reference],
        }
    encoded = (
        "fullName%5Bfirst%5D=Mary+Zephyrine&fullName%5Blast%5D=O%27Quackenbush"
        f"&email=zephyrine%2Bclinic%40example.com.au&bookingReference={booking.intake_reference}"
    )
    html = html_of(message)
    for url in forms:
        assert f"{url}?{encoded}" in message.body
        assert f'href="{url}?{encoded.replace("&", "&amp;")}"' in html
    for url in {MINI_URL, FULL_URL, TRIAGE_URL} - set(forms):
        assert url not in message.body
        assert url not in html


def test_a_moved_booking_still_carries_its_intake_links():
    booking = booking_with()
    message = patient_email(booking=booking, kind="reschedule", sequence=1)
    assert list(form_links(message.body)) == [FULL_URL]


def test_calendly_links_are_given_when_the_booking_has_them():
    booking = booking_with(calendly_cancel_url=CANCEL_URL, calendly_reschedule_url=RESCHEDULE_URL)

    message = patient_email(booking=booking, kind="confirmation", sequence=0)

    for body in (message.body, html_of(message)):
        assert CANCEL_URL in body
        assert RESCHEDULE_URL in body


def test_no_calendly_links_when_the_booking_has_none():
    booking = booking_with(calendly_cancel_url="", calendly_reschedule_url="")

    message = patient_email(booking=booking, kind="confirmation", sequence=0)

    for body in (message.body, html_of(message)):
        assert "calendly.com" not in body
        assert "Reschedule" not in body


def test_a_cancellation_has_no_intake_or_change_links_and_says_how_to_book_again():
    booking = booking_with(calendly_cancel_url=CANCEL_URL, calendly_reschedule_url=RESCHEDULE_URL)

    message = patient_email(booking=booking, kind="cancellation", sequence=2)

    for body in (message.body, html_of(message)):
        assert "jotform" not in body
        assert "bookingReference" not in body
        assert "calendly.com" not in body
        assert "cancelled" in body
        assert "To book again, call us on (02) 9000 1234" in body
        assert "10 minutes early" not in body


@pytest.mark.parametrize(("kind", "method"), [("confirmation", "REQUEST"), ("reschedule", "REQUEST")])
def test_the_invite_is_attached_with_its_method_in_the_mime_type(kind, method):
    booking = booking_with()

    part = invite_of(patient_email(booking=booking, kind=kind, sequence=3))

    assert part.get_content_type() == "text/calendar"
    assert part.get_param("method") == method
    assert part.get_content_charset() == "utf-8"
    assert part.get_filename() == "invite.ics"
    calendar = Calendar.from_ical(part.get_payload(decode=True))
    assert calendar["METHOD"] == method
    [event] = calendar.events
    assert event["SEQUENCE"] == 3
    assert event.start == booking.starts_at


def test_a_cancellation_attaches_a_cancel_for_the_same_event():
    booking = booking_with()
    request = Calendar.from_ical(
        invite_of(patient_email(booking=booking, kind="confirmation", sequence=0)).get_payload(decode=True)
    )

    part = invite_of(patient_email(booking=booking, kind="cancellation", sequence=1))

    assert part.get_content_type() == "text/calendar"
    assert part.get_param("method") == "CANCEL"
    calendar = Calendar.from_ical(part.get_payload(decode=True))
    assert calendar["METHOD"] == "CANCEL"
    assert calendar.events[0]["STATUS"] == "CANCELLED"
    assert calendar.events[0]["UID"] == request.events[0]["UID"]


def test_the_whole_message_serialises_with_the_method_in_the_attachment_header():
    raw = patient_email(booking=booking_with(), kind="confirmation", sequence=0).message().as_string()

    assert 'Content-Type: text/calendar; charset="utf-8"; method=REQUEST' in raw
    assert 'Content-Disposition: attachment; filename="invite.ics"' in raw
    assert "Reply-To: bookings@harbourhealth.example.com.au" in raw


def test_html_escapes_names_while_plain_text_keeps_them():
    booking = booking_with(practitioner(display_name="Dr <script>alert(1)</script>"))
    booking.patient.first_name = "<script>steal()</script>"
    booking.patient.save()

    message = patient_email(booking=booking, kind="confirmation", sequence=0)

    html = html_of(message)
    assert "<script>" not in html
    assert "Dr &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;steal()&lt;/script&gt;" in html
    assert "Dr <script>alert(1)</script>" in message.body
    staff_html = html_of(enquiries_email(booking=booking, kind="confirmation"))
    assert "<script>" not in staff_html
    assert "Dr &lt;script&gt;alert(1)&lt;/script&gt;" in staff_html


def test_no_patient_email_no_patient_message():
    booking = booking_with()
    booking.patient.email = ""
    booking.patient.save()
    with pytest.raises(ValueError, match="no patient email"):
        patient_email(booking=booking, kind="confirmation", sequence=0)
    booking.patient = None
    with pytest.raises(ValueError, match="no patient email"):
        patient_email(booking=booking, kind="confirmation", sequence=0)


def test_an_unknown_kind_is_refused():
    booking = booking_with()
    with pytest.raises(ValueError, match="kind"):
        patient_email(booking=booking, kind="reminder", sequence=0)
    with pytest.raises(ValueError, match="kind"):
        enquiries_email(booking=booking, kind="reminder")


# --- The enquiries email ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("confirmation", "A new booking was made."),
        ("reschedule", "A booking moved"),
        ("cancellation", "A booking was cancelled."),
    ],
)
def test_the_enquiries_email_says_what_happened_to_which_booking_and_links_to_it(kind, says):
    booking = booking_with(calendly_invitee_uri="https://api.calendly.com/scheduled_events/E1/invitees/I1")

    message = enquiries_email(booking=booking, kind=kind)

    admin_url = "https://ops.harbourhealth.example.com.au" + reverse("admin:bookings_booking_change", args=[booking.pk])
    assert message.to == ["enquiries@harbourhealth.example.com.au"]
    assert message.from_email == "Harbour Health Clinic <no-reply@harbourhealth.example.com.au>"
    assert f"#{booking.pk}" in message.subject
    assert "Nurse Ngaio" in message.subject
    for body in (message.body, html_of(message)):
        assert says in body
        assert admin_url in body
        assert f"#{booking.pk}" in body
        assert "Nurse Ngaio" in body
        assert WHEN in body
        assert "Paid appointment" in body
        assert "Calendly" in body


def test_the_enquiries_email_names_where_the_booking_came_from():
    by_phone = booking_with(factory=PhoneBookingFactory)
    from_outlook = booking_with(o365_event_id="AAMkAGI1AAAt9AHjAAA=")

    assert "Phone" in enquiries_email(booking=by_phone, kind="confirmation").body
    assert "Office 365" in enquiries_email(booking=from_outlook, kind="confirmation").body
    assert by_phone.kind == BookingKind.PHONE
    assert by_phone.payment_status == PaymentStatus.PAY_AT_CLINIC


@pytest.mark.parametrize("kind", ["confirmation", "reschedule", "cancellation"])
def test_the_enquiries_email_holds_no_patient_details(kind):
    booking = booking_with(reschedule_count=2, calendly_cancel_url=CANCEL_URL)

    message = enquiries_email(booking=booking, kind=kind)

    everything = "\n".join([message.subject, message.body, html_of(message)])
    for detail in (
        "Zephyrine",
        "Quackenbush",
        "zephyrine",
        EMAIL,
        MOBILE,
        MOBILE.replace("+61", "0"),
        "491570156",
        BORN.isoformat(),
        "23/07/1979",
        "23 July 1979",
        "1979",
        "migraine",
        booking.intake_reference,
    ):
        assert detail.lower() not in everything.lower()
