"""The Office 365 event Calendly writes into a practitioner's calendar when a patient books.

Shaped after tests/fixtures/graph-event-calendly-paid.json: the subject names the event type, the
practitioner and the patient; the body carries the answers to the booking questions (mobile, date
of birth, reason) and Calendly's cancel and reschedule links; the patient is the one attendee.
"""

import html
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from practitioners.fake_graph.formats import graph_wall_time

TEAMS_LOCATION = "Microsoft Teams Meeting"
PRACTICE_WINDOWS_TIME_ZONE = "AUS Eastern Standard Time"
_UTC = ZoneInfo("UTC")


def calendly_event(
    *,
    practitioner_name: str,
    first_name: str,
    last_name: str,
    email: str,
    mobile: str,
    date_of_birth: date,
    reason: str,
    start: datetime,
    minutes: int,
    event_name: str | None = None,
    organizer_email: str | None = None,
    invitee_uuid: str | None = None,
    original_time_zone: str = PRACTICE_WINDOWS_TIME_ZONE,
) -> dict[str, Any]:
    """A Graph-shaped event body for `FakeGraph.create_event` or `POST /_fake/mailboxes/{user}/events`.

    `start` must be aware; times are written in UTC. Without `organizer_email` the fake makes the
    mailbox's owner the organizer, as Outlook does for an event Calendly writes into that calendar.
    """
    if start.tzinfo is None:
        raise ValueError("start must be an aware datetime")
    if minutes < 1:
        raise ValueError("minutes must be at least 1")
    start_utc = start.astimezone(_UTC)
    name = event_name or f"Follow-up Consultation ({minutes} min)"
    patient = f"{first_name} {last_name}"
    links = _links(invitee_uuid or str(uuid.uuid4()))
    answers = [
        ("Mobile number", mobile),
        ("Date of birth", date_of_birth.strftime("%d/%m/%Y")),
        ("What would you like to discuss?", reason),
    ]
    event: dict[str, Any] = {
        "subject": f"{name} between {practitioner_name} and {patient}",
        "body": {"contentType": "html", "content": _body_html(name, answers, links)},
        "bodyPreview": _body_preview(name, answers, links),
        "start": {"dateTime": graph_wall_time(start_utc, _UTC), "timeZone": "UTC"},
        # Added in UTC: across a daylight-saving change, wall-clock arithmetic would be an hour out.
        "end": {"dateTime": graph_wall_time(start_utc + timedelta(minutes=minutes), _UTC), "timeZone": "UTC"},
        "originalStartTimeZone": original_time_zone,
        "originalEndTimeZone": original_time_zone,
        "location": {"displayName": TEAMS_LOCATION},
        "showAs": "busy",
        "sensitivity": "normal",
        "attendees": [
            {
                "type": "required",
                "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                "emailAddress": {"name": patient, "address": email},
            }
        ],
    }
    if organizer_email is not None:
        event["organizer"] = {"emailAddress": {"name": practitioner_name, "address": organizer_email}}
    return event


def _links(invitee_uuid: str) -> tuple[str, str]:
    return (
        f"https://calendly.com/cancellations/{invitee_uuid}",
        f"https://calendly.com/reschedulings/{invitee_uuid}",
    )


def _body_html(name: str, answers: list[tuple[str, str]], links: tuple[str, str]) -> str:
    def paragraph(text: str) -> str:
        return f"<p>{html.escape(text, quote=False)}</p>"

    cancel, reschedule = links
    return (
        "<html><body>"
        + paragraph(f"Event Name: {name}")
        + "".join(paragraph(f"{question}: {answer}") for question, answer in answers)
        + f"<p>Need to make changes to this event?<br>Cancel: {cancel}<br>Reschedule: {reschedule}</p>"
        + "<p>Powered by Calendly.com</p></body></html>"
    )


def _body_preview(name: str, answers: list[tuple[str, str]], links: tuple[str, str]) -> str:
    # Calendly's preview also names the Teams meeting, which its HTML body leaves to the invitation.
    cancel, reschedule = links
    paragraphs = [
        f"Event Name: {name}",
        "Location: This is a Microsoft Teams web conference.",
        *(f"{question}: {answer}" for question, answer in answers),
        f"Need to make changes to this event?\r\nCancel: {cancel}\r\nReschedule: {reschedule}",
        "Powered by Calendly.com",
    ]
    return "\r\n\r\n".join(paragraphs)
