from datetime import UTC, date, datetime

import pytest

from bookings.office365 import events
from bookings.office365.events import (
    CALENDLY_MARKERS,
    CALENDLY_QUESTION_LABELS,
    EventNotABookingError,
    UnreadableAnswerError,
    UnreadableBodyError,
    calendly_answers_read,
    date_of_birth_parse,
    event_booking_read,
    event_identity_read,
    graph_time_parse,
    html_to_text,
    mobile_normalise,
    name_split,
)
from tests.bookings.conftest import DR_DIA_MAILBOX, jane_event

TODAY = date(2026, 11, 25)


class TestNames:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("Jane Citizen", ("Jane", "Citizen")),
            ("  Jane   Citizen ", ("Jane", "Citizen")),
            ("Mary Jane Ann Citizen", ("Mary Jane Ann", "Citizen")),
            ("Cher", ("", "Cher")),
            ("", ("", "")),
            ("   ", ("", "")),
        ],
    )
    def test_the_last_word_is_the_last_name(self, name, expected):
        assert name_split(name) == expected


class TestMobile:
    @pytest.mark.parametrize(
        "raw",
        ["0412 345 678", "0412345678", "+61 412 345 678", "+61412345678", "(04) 1234 5678", "61 412 345 678"],
    )
    def test_australian_spellings_become_e164(self, raw):
        assert mobile_normalise(raw) == "+61412345678"

    def test_an_overseas_mobile_is_kept(self):
        assert mobile_normalise("+64 21 123 4567") == "+64211234567"

    @pytest.mark.parametrize("raw", ["(02) 9876 5432", "+61 2 9876 5432", "03 9123 4567"])
    def test_a_landline_is_not_a_mobile(self, raw):
        with pytest.raises(UnreadableAnswerError, match=r"^mobile_not_a_mobile$"):
            mobile_normalise(raw)

    @pytest.mark.parametrize("raw", ["12345", "not a number", "", "0412 345"])
    def test_nonsense_is_invalid(self, raw):
        with pytest.raises(UnreadableAnswerError, match=r"^mobile_invalid$"):
            mobile_normalise(raw)


class TestDateOfBirth:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("29/02/1980", date(1980, 2, 29)),
            ("1/2/1980", date(1980, 2, 1)),
            ("01-02-1980", date(1980, 2, 1)),
            ("01.02.1980", date(1980, 2, 1)),
            ("1980-02-29", date(1980, 2, 29)),
            (" 03/12/2001 ", date(2001, 12, 3)),
        ],
    )
    def test_day_first_or_iso(self, raw, expected):
        assert date_of_birth_parse(raw, today=TODAY) == expected

    @pytest.mark.parametrize(
        "raw",
        ["31/02/1980", "29/02/1981", "02/29/1980", "13/13/1980", "1/2/80", "yesterday", "", "26/11/2026", "1/1/1899"],
    )
    def test_impossible_or_unclear_dates_are_refused(self, raw):
        with pytest.raises(UnreadableAnswerError, match=r"^date_of_birth_invalid$"):
            date_of_birth_parse(raw, today=TODAY)


class TestAnswers:
    def test_reads_the_calendly_body_preview(self):
        answers = calendly_answers_read(jane_event()["bodyPreview"])
        assert answers == {
            "mobile": "+61 412 345 678",
            "date_of_birth": "29/02/1980",
            "reason": "Review of blood results",
            "cancel_url": "https://calendly.com/cancellations/0f3c2a1e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
            "reschedule_url": "https://calendly.com/reschedulings/0f3c2a1e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
        }

    def test_reads_the_html_body_the_same(self):
        event = jane_event()
        assert calendly_answers_read(html_to_text(event["body"]["content"])) == calendly_answers_read(
            event["bodyPreview"]
        )

    def test_an_answer_on_the_line_after_its_question(self):
        text = "DATE OF BIRTH:\n\n29/02/1980\nmobile number :\nCancel: https://calendly.com/c/1"
        assert calendly_answers_read(text) == {"date_of_birth": "29/02/1980", "cancel_url": "https://calendly.com/c/1"}

    def test_every_field_has_labels(self):
        assert set(CALENDLY_QUESTION_LABELS) == {"mobile", "date_of_birth", "reason", "cancel_url", "reschedule_url"}
        assert all(CALENDLY_QUESTION_LABELS.values())

    def test_html_entities_and_hidden_text(self):
        html = "<style>p{}</style><p>What would you like to discuss?: Fish &amp; chips&nbsp;</p><script>x</script>"
        assert calendly_answers_read(html_to_text(html)) == {"reason": "Fish & chips"}


class TestTimes:
    def test_graphs_seven_fractional_digits_in_utc(self):
        moment = graph_time_parse({"dateTime": "2026-12-03T23:30:00.0000000", "timeZone": "UTC"})
        assert moment == datetime(2026, 12, 3, 23, 30, tzinfo=UTC)
        assert moment.tzinfo is UTC

    def test_an_iana_zone_is_converted_to_utc(self):
        moment = graph_time_parse({"dateTime": "2026-12-04T10:30:00.0000000", "timeZone": "Australia/Sydney"})
        assert moment == datetime(2026, 12, 3, 23, 30, tzinfo=UTC)

    @pytest.mark.parametrize(
        "value",
        [
            None,
            {},
            {"dateTime": "tomorrow", "timeZone": "UTC"},
            {"dateTime": "2026-12-04T10:30:00", "timeZone": "AUS Eastern Standard Time"},
        ],
    )
    def test_unreadable_times(self, value):
        with pytest.raises(EventNotABookingError):
            graph_time_parse(value)


class TestEvent:
    def test_the_calendly_event(self):
        details = event_booking_read(jane_event(), mailbox=DR_DIA_MAILBOX, today=TODAY)

        assert details.starts_at == datetime(2026, 12, 3, 23, 30, tzinfo=UTC)
        assert details.ends_at == datetime(2026, 12, 4, 0, 15, tzinfo=UTC)
        assert details.patient.first_name == "Jane"
        assert details.patient.email == "jane.citizen@example.com.au"
        assert details.warnings == ()

    def test_the_identity(self):
        identity = event_identity_read(jane_event())
        assert identity.event_id == "AAMkAGI1AAAt9AHjAAA="
        assert identity.ical_uid.startswith("040000008200E00074C5B7101A82E008")
        assert identity.modified_at == datetime(2026, 11, 24, 22, 14, 5, 113904, tzinfo=UTC)
        assert identity.is_cancelled is False

    def test_the_practitioner_is_never_the_patient(self):
        event = jane_event(
            isOrganizer=False,
            organizer={"emailAddress": {"name": "Front desk", "address": "desk@clinic.example.com.au"}},
        )
        event["attendees"].insert(0, {"type": "required", "emailAddress": {"address": "Dr.Dia@clinic.example.com.au"}})
        details = event_booking_read(event, mailbox="dr.dia@clinic.example.com.au", today=TODAY)
        assert details.patient.email == "jane.citizen@example.com.au"

    def test_an_attendee_without_a_name_has_none(self):
        event = jane_event(
            attendees=[
                {"type": "required", "emailAddress": {"name": "Jane@Example.com", "address": "jane@example.com"}}
            ]
        )
        details = event_booking_read(event, mailbox=DR_DIA_MAILBOX, today=TODAY)
        assert (details.patient.first_name, details.patient.last_name) == ("", "")

    def test_an_address_repeated_as_the_name_in_capitals_is_no_name(self):
        # Graph repeats the address as it was typed; it must never become the patient's last name.
        event = jane_event(
            attendees=[
                {
                    "type": "required",
                    "emailAddress": {"name": "Jane.Citizen@Example.com", "address": "Jane.Citizen@Example.com"},
                }
            ]
        )
        details = event_booking_read(event, mailbox=DR_DIA_MAILBOX, today=TODAY)
        assert (details.patient.first_name, details.patient.last_name) == ("", "")
        assert details.patient.email == "jane.citizen@example.com"

    def test_a_long_last_name_is_kept_whole(self):
        long_last_name = "Citizen" + "x" * 193
        event = jane_event(
            attendees=[
                {"type": "required", "emailAddress": {"name": f"Jane {long_last_name}", "address": "jane@example.com"}}
            ]
        )
        details = event_booking_read(event, mailbox=DR_DIA_MAILBOX, today=TODAY)
        assert (details.patient.first_name, details.patient.last_name) == ("Jane", long_last_name)
        assert "last_name_truncated" not in details.warnings

    def test_a_name_longer_than_we_store_is_cut_saying_so(self):
        event = jane_event(
            attendees=[
                {"type": "required", "emailAddress": {"name": "Jane " + "C" * 300, "address": "jane@example.com"}}
            ]
        )
        details = event_booking_read(event, mailbox=DR_DIA_MAILBOX, today=TODAY)
        assert details.patient.last_name == "C" * 255
        assert "last_name_truncated" in details.warnings

    def test_the_body_preview_serves_when_there_is_no_body(self):
        event = jane_event(body=None)
        details = event_booking_read(event, mailbox=DR_DIA_MAILBOX, today=TODAY)
        assert details.patient.mobile == "+61412345678"
        assert details.reason == "Review of blood results"

    def test_an_event_ending_before_it_starts(self):
        event = jane_event(end=jane_event()["start"])
        with pytest.raises(EventNotABookingError, match="ends before it starts"):
            event_booking_read(event, mailbox=DR_DIA_MAILBOX, today=TODAY)

    def test_a_confidential_event_is_still_a_booking(self):
        details = event_booking_read(jane_event(sensitivity="confidential"), mailbox=DR_DIA_MAILBOX, today=TODAY)
        assert details.patient.last_name == "Citizen"


class TestMadeByCalendly:
    MEETING = "<p>Agenda: quarterly accounts</p><p>Cancel: https://accounts.example.com/cancel/1</p>"

    def test_an_outside_attendee_without_a_calendly_marker_is_no_booking(self):
        event = jane_event(
            subject="Practice meeting",
            body={"contentType": "html", "content": self.MEETING},
            bodyPreview="Agenda: quarterly accounts",
        )
        with pytest.raises(EventNotABookingError, match="no sign of Calendly") as raised:
            event_booking_read(event, mailbox=DR_DIA_MAILBOX, today=TODAY)
        assert "accounts" not in str(raised.value)

    @pytest.mark.parametrize(
        "content",
        [
            "<p>Cancel: https://calendly.com/cancellations/abc</p>",
            "<p>Reschedule: https://calendly.com/reschedulings/abc</p>",
            "<p>Mobile number: 0412 345 678</p><p>Powered by Calendly.com</p>",
        ],
    )
    def test_any_one_marker_is_enough(self, content):
        event = jane_event(body={"contentType": "html", "content": content})
        assert event_booking_read(event, mailbox=DR_DIA_MAILBOX, today=TODAY).patient.last_name == "Citizen"

    def test_a_look_alike_host_is_no_marker(self):
        content = "<p>Cancel: https://calendly.com.example.net/cancellations/abc</p>"
        event = jane_event(body={"contentType": "html", "content": content})
        with pytest.raises(EventNotABookingError, match="no sign of Calendly"):
            event_booking_read(event, mailbox=DR_DIA_MAILBOX, today=TODAY)

    def test_the_markers_are_one_constant(self):
        assert CALENDLY_MARKERS["link_hosts"] == ("calendly.com",)
        assert CALENDLY_MARKERS["body_texts"] == ("Powered by Calendly",)


class TestUnreadableHtml:
    BROKEN = "<p>Patient Jane Citizen</p><![Jane Citizen, DOB 29/02/1980"

    @pytest.fixture(autouse=True)
    def parser_that_chokes(self, monkeypatch):
        """HTMLParser's errors quote the markup (Python 3.11 raises AssertionError on `<![Jane`)."""

        def feed(self, data):
            raise AssertionError(f"unknown status keyword {data!r} in marked section")

        monkeypatch.setattr(events._TextExtractor, "feed", feed)

    def test_the_error_quotes_nothing_of_the_body(self):
        with pytest.raises(UnreadableBodyError) as raised:
            html_to_text(self.BROKEN)
        assert "Jane" not in str(raised.value)
        assert raised.value.__cause__ is None
        assert raised.value.__context__ is None

    def test_the_body_preview_serves_instead(self):
        event = jane_event(body={"contentType": "html", "content": self.BROKEN})
        details = event_booking_read(event, mailbox=DR_DIA_MAILBOX, today=TODAY)
        assert details.patient.mobile == "+61412345678"
