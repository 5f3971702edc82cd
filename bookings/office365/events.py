"""Reading an Office 365 event: is it a patient's booking, and what does it tell us?

Calendly writes each booking into the practitioner's calendar as an event with the patient
as the attendee and the patient's answers in the body ("Mobile number: ..."). This module
turns such an event into plain values, and says why when an event is not a patient's
booking at all (the practitioner's own appointments, leave, blocks of free time). It reads
only; deciding what to do with a booking is the services' job.

Nothing here logs, and no error message carries what the patient wrote.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from html.parser import HTMLParser
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from bookings.models import PATIENT_NAME_MAX_LENGTH
from bookings.office365.errors import Office365Error
from bookings.untrusted_input import bidi_controls_strip, email_or_none, text_bounded

# The questions on the practice's Calendly pages, as they appear in the event body, for each
# thing we read from them. Staff who reword a question add its new wording here; matching
# ignores case and the colon after the question.
CALENDLY_QUESTION_LABELS: Final[Mapping[str, tuple[str, ...]]] = {
    "mobile": ("Mobile number", "Mobile", "Mobile phone", "Phone number", "Phone"),
    "date_of_birth": ("Date of birth", "DOB", "Birth date"),
    "reason": ("What would you like to discuss?", "Reason for your visit", "Reason for appointment"),
    "cancel_url": ("Cancel",),
    "reschedule_url": ("Reschedule",),
}

# What shows that Calendly made an event, and so that its attendee is a patient: the host of
# its Cancel or Reschedule link, or the footer Calendly writes into the body. An event with an
# outside attendee but none of these (a practice meeting with the accountant) is no booking.
CALENDLY_MARKERS: Final[Mapping[str, tuple[str, ...]]] = {
    "link_hosts": ("calendly.com",),
    "body_texts": ("Powered by Calendly",),
}

# How an event shows in the calendar when it does not block the practitioner for a patient.
SHOW_AS_NOT_A_BOOKING: Final = frozenset({"free", "oof", "workingElsewhere"})
# Sensitivities that mark the practitioner's own affairs. "confidential" is not here: a
# clinician may mark a patient's appointment so for the patient's sake.
SENSITIVITY_NOT_A_BOOKING: Final = frozenset({"private", "personal"})

GRAPH_TIME_ZONE_UTC: Final = "UTC"
OLDEST_DATE_OF_BIRTH: Final = date(1900, 1, 1)
URL_MAX_LENGTH: Final = 500
# Where each free-text value is stored: Patient.first_name / last_name / email hold 255, 255
# and 254 characters; Booking.reason is unbounded text, bounded here so that one event cannot
# store megabytes. What fits is kept and the cut is flagged in the booking's warnings.
NAME_MAX_LENGTH: Final = PATIENT_NAME_MAX_LENGTH
EMAIL_MAX_LENGTH: Final = 254
REASON_MAX_LENGTH: Final = 2000

T = TypeVar("T")


class EventNotABookingError(Office365Error):
    """An outcome, not a failure: the event is not a patient's booking; the message says why,
    without patient data."""


class UnreadableAnswerError(Office365Error, ValueError):
    """A failure to read an answer the patient wrote; the message is a short code, never the answer."""


@dataclass(frozen=True)
class EventIdentity:
    """What identifies an event and its version, whatever the event is."""

    event_id: str
    ical_uid: str
    etag: str
    modified_at: datetime | None
    is_cancelled: bool


@dataclass(frozen=True)
class PatientDetails:
    first_name: str
    last_name: str
    email: str
    mobile: str
    date_of_birth: date | None


@dataclass(frozen=True)
class BookingDetails:
    """A patient's booking as its event tells it. `warnings` are codes such as `mobile_invalid`."""

    starts_at: datetime
    ends_at: datetime
    patient: PatientDetails
    reason: str
    cancel_url: str
    reschedule_url: str
    warnings: tuple[str, ...]


def event_identity_read(event: Mapping[str, Any]) -> EventIdentity:
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise EventNotABookingError("the event has no id")
    modified = event.get("lastModifiedDateTime")
    return EventIdentity(
        event_id=event_id,
        ical_uid=str(event.get("iCalUId") or ""),
        etag=str(event.get("@odata.etag") or ""),
        modified_at=_timestamp_parse(modified) if isinstance(modified, str) and modified else None,
        is_cancelled=event.get("isCancelled") is True,
    )


def event_booking_read(event: Mapping[str, Any], *, mailbox: str, today: date) -> BookingDetails:
    """The booking an event records, or EventNotABookingError saying why it records none.

    `mailbox` is the practitioner's mailbox (an address, or a Graph user id that is not);
    the practitioner and the event's organizer are never taken for the patient.
    """
    _reject_non_patient_event(event)
    attendee = _patient_attendee(event, mailbox=mailbox)
    if attendee is None:
        raise EventNotABookingError("the event has no attendee other than the practitioner")
    starts_at, ends_at = graph_time_parse(event.get("start")), graph_time_parse(event.get("end"))
    if ends_at <= starts_at:
        raise EventNotABookingError("the event ends before it starts")

    text = _event_text(event)
    answers = calendly_answers_read(text)
    warnings: list[str] = []
    mobile = _answer_read(answers, "mobile", mobile_normalise, warnings)
    date_of_birth = _answer_read(answers, "date_of_birth", partial(date_of_birth_parse, today=today), warnings)
    cancel_url = _answer_read(answers, "cancel_url", _url_read, warnings)
    reschedule_url = _answer_read(answers, "reschedule_url", _url_read, warnings)
    if not is_made_by_calendly(text, links=(cancel_url or "", reschedule_url or "")):
        raise EventNotABookingError("the event shows no sign of Calendly (no Calendly link, no Calendly footer)")

    email = attendee_email_read(attendee["address"], warnings=warnings)
    first_name, last_name = name_split(bidi_controls_strip(_attendee_name(attendee, email=attendee["address"])))
    return BookingDetails(
        starts_at=starts_at,
        ends_at=ends_at,
        patient=PatientDetails(
            first_name=_text_fitted(first_name, "first_name", NAME_MAX_LENGTH, warnings),
            last_name=_text_fitted(last_name, "last_name", NAME_MAX_LENGTH, warnings),
            email=email,
            mobile=mobile or "",
            date_of_birth=date_of_birth,
        ),
        reason=_text_fitted(answers.get("reason", ""), "reason", REASON_MAX_LENGTH, warnings),
        cancel_url=cancel_url or "",
        reschedule_url=reschedule_url or "",
        warnings=tuple(warnings),
    )


def attendee_email_read(address: str, *, warnings: list[str]) -> str:
    """The attendee's address when Django's EmailValidator takes it; otherwise "" and `email_invalid`.

    Graph passes on whatever the invitation held: an address with a line break and a header
    after it ("...\r\nbcc: ...") must never become a patient's email.
    """
    email = email_or_none(address)
    if email is None or len(email) > EMAIL_MAX_LENGTH:
        warnings.append("email_invalid")
        return ""
    return email


def _text_fitted(text: str, field_name: str, max_length: int, warnings: list[str]) -> str:
    """`text` cut to `max_length`, with `<field_name>_truncated` in `warnings` when it had to be."""
    bounded = text_bounded(text, max_length=max_length)
    if bounded.truncated:
        warnings.append(f"{field_name}_truncated")
    return bounded.text


def is_made_by_calendly(text: str, *, links: tuple[str, ...]) -> bool:
    """Whether one of `links` (already read as https URLs) or the body `text` carries a CALENDLY_MARKERS marker."""
    hosts = CALENDLY_MARKERS["link_hosts"]
    for link in links:
        host = (urlsplit(link).hostname or "").lower() if link else ""
        if any(host == allowed or host.endswith(f".{allowed}") for allowed in hosts):
            return True
    folded = text.casefold()
    return any(marker.casefold() in folded for marker in CALENDLY_MARKERS["body_texts"])


def _reject_non_patient_event(event: Mapping[str, Any]) -> None:
    if event.get("isAllDay") is True:
        raise EventNotABookingError("an all-day event")
    if event.get("sensitivity") in SENSITIVITY_NOT_A_BOOKING:
        raise EventNotABookingError(f"a {event['sensitivity']} event")
    if event.get("showAs") in SHOW_AS_NOT_A_BOOKING:
        raise EventNotABookingError(f"an event shown as {event['showAs']}")
    if event.get("type") == "seriesMaster":
        # Calendly books single events; a series is the practitioner's own (its
        # occurrences, when they have a patient attendee, are judged one by one).
        raise EventNotABookingError("a recurring series")


def _patient_attendee(event: Mapping[str, Any], *, mailbox: str) -> dict[str, str] | None:
    """The first person invited who is neither the practitioner nor the organizer."""
    organizer = _email_address(event.get("organizer"))
    not_patients = {address for address in (mailbox.strip().lower(), organizer.get("address", "")) if "@" in address}
    for attendee in event.get("attendees") or []:
        if not isinstance(attendee, dict) or attendee.get("type") == "resource":
            continue
        person = _email_address(attendee)
        if "@" in person.get("address", "") and person["address"] not in not_patients:
            return person
    return None


def _email_address(party: Any) -> dict[str, str]:
    """A party's `emailAddress` as {"name", "address"}, address lower-cased; {} if absent."""
    if not isinstance(party, dict) or not isinstance(party.get("emailAddress"), dict):
        return {}
    email_address = party["emailAddress"]
    name, address = email_address.get("name"), email_address.get("address")
    return {
        "name": name.strip() if isinstance(name, str) else "",
        "address": address.strip().lower() if isinstance(address, str) else "",
    }


def _attendee_name(attendee: Mapping[str, str], *, email: str) -> str:
    """The attendee's name; Graph repeats the address there when it knows no name."""
    name = attendee.get("name", "")
    return "" if name.lower() == email else name


def _event_text(event: Mapping[str, Any]) -> str:
    """The event body as text. `bodyPreview` is only a fallback: Graph cuts it at 255 characters."""
    preview = event.get("bodyPreview")
    preview = preview if isinstance(preview, str) else ""
    body = event.get("body")
    if isinstance(body, dict) and isinstance(body.get("content"), str) and body["content"].strip():
        content: str = body["content"]
        if str(body.get("contentType", "")).lower() != "html":
            return content
        try:
            return html_to_text(content)
        except UnreadableBodyError:
            return preview
    return preview


def _answer_read(
    answers: Mapping[str, str], field_name: str, read: Callable[[str], T], warnings: list[str]
) -> T | None:
    """The answer to `field_name` read by `read`; None when absent, or unreadable (noted in `warnings`)."""
    raw = answers.get(field_name)
    if raw is None:
        return None
    try:
        return read(raw)
    except UnreadableAnswerError as unreadable:
        warnings.append(str(unreadable))
        return None


# --- Answers -------------------------------------------------------------------------


def calendly_answers_read(text: str) -> dict[str, str]:
    """The answers to the questions in CALENDLY_QUESTION_LABELS, by field; the first answer wins.

    An answer is the rest of the question's line or, when that is empty, the next non-empty
    line that is not itself a question.
    """
    patterns = _label_patterns()
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    answers: dict[str, str] = {}
    for position, line in enumerate(lines):
        for field_name, pattern in patterns:
            match = pattern.match(line)
            if match is None:
                continue
            answer = match["answer"] or _next_line_answer(lines[position + 1 :], patterns)
            if answer and field_name not in answers:
                answers[field_name] = answer
            break
    return answers


def _next_line_answer(lines: list[str], patterns: list[tuple[str, re.Pattern[str]]]) -> str:
    for line in lines:
        if not line:
            continue
        return "" if any(pattern.match(line) for _, pattern in patterns) else line
    return ""


def _label_patterns() -> list[tuple[str, re.Pattern[str]]]:
    # The colon must follow the whole question, so "Mobile" never claims "Mobile number: ...".
    return [
        (field_name, re.compile(rf"^\s*{re.escape(label)}\s*:\s*(?P<answer>.*?)\s*$", re.IGNORECASE))
        for field_name, labels in CALENDLY_QUESTION_LABELS.items()
        for label in labels
    ]


def name_split(name: str) -> tuple[str, str]:
    """(first name, last name): the last word is the last name, the words before it the first.

    A single name is a last name (MediRecords requires one); no name gives two empty strings.
    """
    words = name.split()
    if not words:
        return "", ""
    return " ".join(words[:-1]), words[-1]


def mobile_normalise(raw: str, *, region: str = "AU") -> str:
    """A mobile number in E.164 form (`+61412345678`), read as Australian unless it says otherwise.

    Only mobile numbers are accepted: the number feeds SMS reminders, which a landline
    cannot receive. Raises UnreadableAnswerError with `mobile_invalid` or `mobile_not_a_mobile`.
    """
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as error:
        raise UnreadableAnswerError("mobile_invalid") from error
    if not phonenumbers.is_valid_number(number):
        raise UnreadableAnswerError("mobile_invalid")
    if phonenumbers.number_type(number) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise UnreadableAnswerError("mobile_not_a_mobile")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_AUSTRALIAN_DATE = re.compile(r"^(?P<day>\d{1,2})[/.-](?P<month>\d{1,2})[/.-](?P<year>\d{4})$")
_ISO_DATE = re.compile(r"^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})$")


def date_of_birth_parse(raw: str, *, today: date) -> date:
    """A date of birth written day first (`29/02/1980`, as Australians do) or as ISO `1980-02-29`.

    Raises UnreadableAnswerError(`date_of_birth_invalid`) for anything else, an impossible date,
    or a date in the future or before 1900.
    """
    text = raw.strip()
    match = _ISO_DATE.match(text) or _AUSTRALIAN_DATE.match(text)
    if match is None:
        raise UnreadableAnswerError("date_of_birth_invalid")
    try:
        born = date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError as error:
        raise UnreadableAnswerError("date_of_birth_invalid") from error
    if not OLDEST_DATE_OF_BIRTH <= born <= today:
        raise UnreadableAnswerError("date_of_birth_invalid")
    return born


def _url_read(raw: str) -> str:
    url = raw.strip()
    try:
        URLValidator(schemes=["https"])(url)
    except ValidationError as error:
        raise UnreadableAnswerError("calendly_url_invalid") from error
    if len(url) > URL_MAX_LENGTH:
        raise UnreadableAnswerError("calendly_url_invalid")
    return url


# --- Times and text ------------------------------------------------------------------


def graph_time_parse(value: Any) -> datetime:
    """An aware UTC datetime from Graph's `{"dateTime": "2026-12-03T23:30:00.0000000", "timeZone": "UTC"}`.

    We ask Graph for UTC; an IANA zone name is understood too. Windows zone names are not.
    """
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise EventNotABookingError("the event has no start or end time")
    zone_name = value.get("timeZone") or GRAPH_TIME_ZONE_UTC
    try:
        zone = UTC if zone_name == GRAPH_TIME_ZONE_UTC else ZoneInfo(zone_name)
        moment = datetime.fromisoformat(value["dateTime"])
    except (ValueError, ZoneInfoNotFoundError) as error:
        raise EventNotABookingError("the event's time cannot be read") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def _timestamp_parse(value: str) -> datetime | None:
    """Graph's `lastModifiedDateTime` (`2026-11-24T22:14:05.1139040Z`) as aware UTC, or None."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


class _TextExtractor(HTMLParser):
    """Collects an HTML body's text, one line per paragraph, break or list item."""

    LINE_BREAKING = frozenset({"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"})
    INVISIBLE = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.INVISIBLE:
            self._hidden_depth += 1
        elif tag in self.LINE_BREAKING:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.INVISIBLE:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in self.LINE_BREAKING:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


class UnreadableBodyError(Office365Error, ValueError):
    """A failure: an HTML body the parser cannot read; the message never quotes it."""


def html_to_text(html: str) -> str:
    """The text of an HTML body, or UnreadableBodyError (which quotes none of it)."""
    extractor = _TextExtractor()
    try:
        extractor.feed(html)
        extractor.close()
        readable = True
    except Exception:  # noqa: BLE001 - HTMLParser's errors (AssertionError among them) quote the markup
        readable = False
    if not readable:
        # Raised outside the handler so the parser's error, and the text it quotes, is not chained.
        raise UnreadableBodyError("the event body is not readable HTML")
    text = "".join(extractor.parts).replace("\xa0", " ")
    return "\n".join(line.strip() for line in text.split("\n"))
