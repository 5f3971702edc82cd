"""Events as Graph returns them."""

import re

import pytest

from practitioners.fake_graph import GraphError
from tests.fake_graph.conftest import DIA, NURSE, fixture, paid_booking

RECORDED_EVENT = fixture("graph-event-calendly-paid.json")


def same_shape(actual, recorded, where="event"):
    """Every key of the recording is there, with a value of the same JSON type (recursively)."""
    assert set(recorded) <= set(actual), f"{where}: missing {set(recorded) - set(actual)}"
    for key, value in recorded.items():
        assert type(actual[key]) is type(value), f"{where}.{key}: {type(actual[key])} is not {type(value)}"
        if isinstance(value, dict):
            same_shape(actual[key], value, f"{where}.{key}")
        elif isinstance(value, list) and value:
            for item in actual[key]:
                same_shape(item, value[0], f"{where}.{key}[]")


def test_a_created_event_reads_back_shaped_like_the_recording(fake, graph):
    created = fake.create_event(DIA["id"], paid_booking())

    response = graph.get(f"/users/{DIA['id']}/events/{created['id']}")

    assert response.status_code == 200
    event = response.json()
    same_shape(event, RECORDED_EVENT)
    assert event["@odata.context"] == f"{fake.graph_url}/$metadata#users('{DIA['id']}')/events/$entity"
    for key in ("subject", "bodyPreview", "body", "start", "end", "attendees", "organizer", "location"):
        assert event[key] == RECORDED_EVENT[key], key
    for key in ("isCancelled", "isOrganizer", "showAs", "type", "originalStartTimeZone", "originalEndTimeZone"):
        assert event[key] == RECORDED_EVENT[key], key
    assert event["sensitivity"] == "normal"
    assert len(event["iCalUId"]) == len(RECORDED_EVENT["iCalUId"])
    assert event["iCalUId"][:40] == RECORDED_EVENT["iCalUId"][:40]
    assert event["@odata.etag"].startswith('W/"DwAAABYAAA')
    assert len(event["@odata.etag"]) == len(RECORDED_EVENT["@odata.etag"])
    for key in ("createdDateTime", "lastModifiedDateTime"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", event[key]), key


def test_the_mailbox_may_be_named_by_principal_name_in_any_case(fake, graph):
    created = fake.create_event(DIA["principal_name"], paid_booking())

    by_name = graph.get(f"/users/{DIA['principal_name'].upper()}/events/{created['id']}")
    by_calendar = graph.get(f"/Users/{DIA['id']}/calendars/{fake.mailboxes()[1]['calendar_id']}/Events/{created['id']}")

    assert (by_name.status_code, by_calendar.status_code) == (200, 200)
    assert by_name.json()["id"] == created["id"]


def test_times_can_be_read_in_the_zone_asked_for(fake, graph):
    created = fake.create_event(DIA["id"], paid_booking())

    response = graph.get(
        f"/users/{DIA['id']}/events/{created['id']}", headers={"Prefer": 'outlook.timezone="Australia/Sydney"'}
    )

    assert response.json()["start"] == {"dateTime": "2026-12-04T10:30:00.0000000", "timeZone": "Australia/Sydney"}
    assert response.headers["Preference-Applied"] == 'outlook.timezone="Australia/Sydney"'


def test_an_update_changes_the_etag_and_the_event(fake, graph):
    created = fake.create_event(DIA["id"], paid_booking())

    updated = fake.update_event(
        DIA["id"],
        created["id"],
        {
            "start": {"dateTime": "2026-12-04T00:30:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-12-04T01:15:00", "timeZone": "UTC"},
            "sensitivity": "private",
        },
    )
    read = graph.get(f"/users/{DIA['id']}/events/{created['id']}").json()

    assert updated["@odata.etag"] != created["@odata.etag"]
    assert updated["changeKey"] != created["changeKey"]
    assert read["@odata.etag"] == updated["@odata.etag"]
    assert read["start"]["dateTime"] == "2026-12-04T00:30:00.0000000"
    assert read["sensitivity"] == "private"
    assert read["iCalUId"] == created["iCalUId"]
    assert read["lastModifiedDateTime"] >= created["lastModifiedDateTime"]


def test_a_deleted_event_is_404_item_not_found(fake, graph):
    created = fake.create_event(DIA["id"], paid_booking())

    fake.delete_event(DIA["id"], created["id"])
    response = graph.get(f"/users/{DIA['id']}/events/{created['id']}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ErrorItemNotFound"


def test_missing_events_and_users_are_404(fake, graph):
    created = fake.create_event(DIA["id"], paid_booking())

    missing = graph.get(f"/users/{DIA['id']}/events/AAMkAGI1AAAt9AHjAAA=")
    other_mailbox = graph.get(f"/users/{NURSE['id']}/events/{created['id']}")
    unknown_user = graph.get(f"/users/nobody@clinic.example.com.au/events/{created['id']}")

    assert (missing.status_code, other_mailbox.status_code, unknown_user.status_code) == (404, 404, 404)
    assert unknown_user.json()["error"]["code"] == "ErrorInvalidUser"


def test_an_event_may_keep_given_ids(fake, graph):
    created = fake.create_event(
        DIA["id"], paid_booking() | {"id": RECORDED_EVENT["id"], "iCalUId": RECORDED_EVENT["iCalUId"]}
    )

    assert created["id"] == RECORDED_EVENT["id"]
    assert graph.get(f"/users/{DIA['id']}/events/{RECORDED_EVENT['id']}").json()["iCalUId"] == RECORDED_EVENT["iCalUId"]


@pytest.mark.parametrize(
    "changes",
    [
        {"start": None},
        {"end": {"dateTime": "2026-12-03T22:00:00", "timeZone": "UTC"}},
        {"showAs": "maybe"},
        {"attendees": "jane"},
        {"webLink": "https://outlook.office365.com"},
    ],
)
def test_events_graph_could_not_hold_are_refused(fake, changes):
    body = {key: value for key, value in (paid_booking() | changes).items() if value is not None}

    with pytest.raises(GraphError) as refused:
        fake.create_event(DIA["id"], body)

    assert refused.value.status == 400


def test_a_body_preview_is_derived_from_the_body_when_not_given(fake):
    created = fake.create_event(
        DIA["id"],
        {
            "subject": "Lunch",
            "body": {"contentType": "html", "content": "<p>Fish &amp; chips</p><p>At one<br>sharp</p>"},
            "start": {"dateTime": "2026-12-03T01:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-12-03T02:00:00", "timeZone": "UTC"},
        },
    )

    assert created["bodyPreview"] == "Fish & chips\r\n\r\nAt one\r\nsharp"
    assert created["organizer"] == {"emailAddress": {"name": "Dr Dia", "address": DIA["principal_name"]}}
    assert created["isOrganizer"] is True


def test_events_in_a_second_calendar_are_read_through_it(fake, graph):
    calendar_id = fake.add_calendar(DIA["id"])
    created = fake.create_event(DIA["id"], paid_booking() | {"calendarId": calendar_id})

    through_it = graph.get(f"/users/{DIA['id']}/calendars/{calendar_id}/events/{created['id']}")
    through_default = graph.get(f"/users/{DIA['id']}/calendars/{fake.mailboxes()[1]['calendar_id']}/events/x")

    assert through_it.status_code == 200
    assert through_default.status_code == 404
