"""What an Office 365 event may carry that no patient typed: the attendee and free text are
checked, bounded and cleaned before anything is stored."""

from datetime import date

import pytest

from bookings.models import Booking, Patient
from bookings.office365.events import NAME_MAX_LENGTH, REASON_MAX_LENGTH, event_booking_read
from bookings.untrusted_input import BoundedText, bidi_controls_strip, text_bounded
from tests.bookings.conftest import DR_DIA_MAILBOX, JANE_EVENT_ID, jane_event, notification
from tests.bookings.factories import PatientFactory

TODAY = date(2026, 11, 25)
BODY = (
    "<p>Mobile number: +61 412 345 678</p><p>What would you like to discuss?: {reason}</p>"
    "<p>Powered by Calendly.com</p>"
)


def with_attendee(*, name: str = "Jane Citizen", address: str = "jane.citizen@example.com.au", reason: str = "x"):
    return jane_event(
        attendees=[{"type": "required", "emailAddress": {"name": name, "address": address}}],
        body={"contentType": "html", "content": BODY.format(reason=reason)},
    )


class TestAttendeeEmail:
    @pytest.mark.parametrize(
        "address",
        [
            "jane.citizen@example.com.au\r\nbcc: everyone@example.org",
            "jane.citizen@example.com.au\nbcc: everyone@example.org",
            "<script>@example.com",
            "jane citizen@example.com.au",
            "@",
            "jane@",
            "a@b@example.com",
            "jane@" + "a" * 250 + ".com",
        ],
        ids=["crlf-bcc", "lf-bcc", "markup", "space", "bare-at", "no-domain", "two-ats", "too-long"],
    )
    def test_an_invalid_address_is_no_email_and_is_flagged(self, address):
        details = event_booking_read(with_attendee(address=address), mailbox=DR_DIA_MAILBOX, today=TODAY)

        assert details.patient.email == ""
        assert "email_invalid" in details.warnings
        assert details.patient.last_name == "Citizen", "the attendee is still the patient"

    def test_a_valid_address_is_kept_lower_cased_without_a_warning(self):
        details = event_booking_read(
            with_attendee(address=" Jane.Citizen@Example.com.au "), mailbox=DR_DIA_MAILBOX, today=TODAY
        )
        assert details.patient.email == "jane.citizen@example.com.au"
        assert "email_invalid" not in details.warnings

    @pytest.mark.django_db
    def test_the_injected_header_never_reaches_a_patient(self, process, dr_dia_subscription, fake_graph, sync_requests):
        fake_graph.events[JANE_EVENT_ID] = with_attendee(
            address="jane.citizen@example.com.au\r\nbcc: everyone@example.org"
        )

        process(notification("created"))

        booking = Booking.objects.get()
        assert booking.patient.email == ""
        assert "email_invalid" in booking.intake_warnings
        assert not Patient.objects.filter(email__contains="bcc").exists()


class TestNames:
    @pytest.mark.parametrize(
        "control", ["\u202e", "\u202a", "\u202b", "\u202c", "\u202d", "\u2066", "\u2067", "\u2068", "\u2069", "\u200f"]
    )
    def test_bidirectional_controls_are_stripped_from_names(self, control):
        event = with_attendee(name=f"Jane Cit{control}izen{control}")

        details = event_booking_read(event, mailbox=DR_DIA_MAILBOX, today=TODAY)

        assert (details.patient.first_name, details.patient.last_name) == ("Jane", "Citizen")

    def test_a_name_too_long_keeps_what_fits_and_is_flagged(self):
        event = with_attendee(name="Jane " + "C" * 300)

        details = event_booking_read(event, mailbox=DR_DIA_MAILBOX, today=TODAY)

        assert details.patient.last_name == "C" * NAME_MAX_LENGTH
        assert "last_name_truncated" in details.warnings
        assert "first_name_truncated" not in details.warnings

    def test_a_name_that_fits_is_not_flagged(self):
        details = event_booking_read(with_attendee(), mailbox=DR_DIA_MAILBOX, today=TODAY)
        assert not [warning for warning in details.warnings if warning.endswith("_truncated")]


class TestReason:
    def test_a_reason_too_long_keeps_what_fits_and_is_flagged(self):
        details = event_booking_read(with_attendee(reason="r" * 5000), mailbox=DR_DIA_MAILBOX, today=TODAY)

        assert details.reason == "r" * REASON_MAX_LENGTH
        assert "reason_truncated" in details.warnings

    def test_control_characters_are_dropped_from_the_reason(self):
        details = event_booking_read(with_attendee(reason="blood\x00 results\x07"), mailbox=DR_DIA_MAILBOX, today=TODAY)
        assert details.reason == "blood results"


class TestHelpers:
    def test_text_bounded_keeps_line_breaks_and_tabs(self):
        assert text_bounded("a\tb\nc\r\nd", max_length=10).text == "a\tb\nc\r\nd"

    def test_text_bounded_says_when_it_cut(self):
        assert text_bounded("abcdef", max_length=3) == BoundedText(text="abc", truncated=True)
        assert text_bounded("abc", max_length=3) == BoundedText(text="abc", truncated=False)

    def test_bidi_controls_strip_keeps_right_to_left_letters(self):
        assert bidi_controls_strip("\u202bمريم\u202c") == "مريم"


@pytest.mark.django_db
def test_a_refused_address_never_links_the_booking_to_a_namesake_without_email(
    process, dr_dia_subscription, fake_graph, sync_requests
):
    namesake = PatientFactory(first_name="Jane", last_name="Citizen", email="", date_of_birth=None)
    fake_graph.events[JANE_EVENT_ID] = with_attendee(address="jane.citizen@example.com.au\r\nbcc: x@example.org")

    process(notification("created"))
    process(notification("updated", etag='W/"v2"'))

    booking = Booking.objects.get()
    assert booking.patient != namesake
    assert Patient.objects.count() == 2, "the booking keeps the patient it was given when the event changes"
