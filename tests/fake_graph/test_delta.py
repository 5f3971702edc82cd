"""Calendar-view delta: pages linked by nextLink to a deltaLink, then only what changed since."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fake_graph.conftest import DIA, NURSE, fixture, paid_booking

WINDOW = {"startDateTime": "2026-12-01T00:00:00Z", "endDateTime": "2026-12-31T00:00:00Z"}
FIRST_DAY = datetime(2026, 12, 1, 9, tzinfo=UTC)


def book(fake, day: int, mailbox=DIA):
    return fake.create_event(mailbox["id"], paid_booking(start=FIRST_DAY + timedelta(days=day)))


def follow(graph, url, **kwargs):
    """Every page from `url` to the deltaLink: (items, pages, deltaLink)."""
    items, pages = [], []
    while True:
        response = graph.get(url, **kwargs)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        items.extend(page["value"])
        if "@odata.deltaLink" in page:
            return items, pages, page["@odata.deltaLink"]
        url = page["@odata.nextLink"]


def first_round(graph, user=DIA["id"], **kwargs):
    return follow(graph, f"/users/{user}/calendarView/delta", params=WINDOW, **kwargs)


def test_the_first_round_pages_every_event_of_the_window(fake, graph):
    fake.set_options(delta_page_size=2)
    booked = [book(fake, day) for day in range(5)]
    book(fake, 40)  # outside the window
    book(fake, 1, mailbox=NURSE)  # another mailbox

    items, pages, delta_link = first_round(graph)

    assert [len(page["value"]) for page in pages] == [2, 2, 1]
    assert [item["id"] for item in items] == [event["id"] for event in booked]
    assert all("@odata.nextLink" in page and "@odata.deltaLink" not in page for page in pages[:-1])
    assert "@odata.nextLink" not in pages[-1]
    next_link = urlsplit(pages[0]["@odata.nextLink"])
    assert f"{next_link.scheme}://{next_link.netloc}{next_link.path}" == (
        f"{fake.graph_url}/users/{DIA['id']}/calendarView/delta"
    )
    assert set(parse_qs(next_link.query)) == {"$skiptoken"}
    assert set(parse_qs(urlsplit(delta_link).query)) == {"$deltatoken"}


def test_pages_are_shaped_like_the_recorded_ones(fake, graph):
    book(fake, 2)

    _, [page], _ = first_round(graph)

    recorded = fixture("graph-calendar-delta-page-1.json")
    assert page["@odata.context"] == f"{fake.graph_url}/$metadata#Collection(event)"
    assert set(recorded["value"][0]) <= set(page["value"][0])
    assert page["value"][0]["@odata.type"] == "#microsoft.graph.event"


def test_the_next_round_returns_changes_creations_and_removals_only(fake, graph):
    kept, moved, cancelled, deleted, moved_out = (book(fake, day) for day in range(5))
    _, _, delta_link = first_round(graph)

    fake.update_event(
        DIA["id"],
        moved["id"],
        {
            "start": {"dateTime": "2026-12-20T00:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-12-20T00:45:00", "timeZone": "UTC"},
        },
    )
    fake.update_event(DIA["id"], cancelled["id"], {"isCancelled": True})
    fake.delete_event(DIA["id"], deleted["id"])
    fake.update_event(
        DIA["id"],
        moved_out["id"],
        {
            "start": {"dateTime": "2027-02-01T00:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2027-02-01T00:45:00", "timeZone": "UTC"},
        },
    )
    created = book(fake, 9)
    created_and_deleted = book(fake, 10)
    fake.delete_event(DIA["id"], created_and_deleted["id"])
    items, _, next_delta_link = follow(graph, delta_link)

    by_id = {item["id"]: item for item in items}
    assert kept["id"] not in by_id
    assert by_id[moved["id"]]["start"]["dateTime"] == "2026-12-20T00:00:00.0000000"
    assert by_id[cancelled["id"]]["isCancelled"] is True
    assert by_id[deleted["id"]] == {
        "@odata.type": "#microsoft.graph.event",
        "id": deleted["id"],
        "@removed": {"reason": "deleted"},
    }
    assert by_id[moved_out["id"]]["@removed"] == {"reason": "deleted"}
    assert by_id[created["id"]]["subject"] == created["subject"]
    assert created_and_deleted["id"] not in by_id
    assert len(items) == 5
    assert follow(graph, next_delta_link)[0] == []


def test_a_page_size_can_be_asked_for(fake, graph):
    for day in range(3):
        book(fake, day)

    _, pages, _ = first_round(graph, headers={"Prefer": "odata.maxpagesize=1"})

    assert [len(page["value"]) for page in pages] == [1, 1, 1]


def test_the_round_may_name_the_mailbox_by_principal_name(fake, graph):
    book(fake, 1)

    items, _, delta_link = first_round(graph, user=DIA["principal_name"])

    assert len(items) == 1
    assert f"/users/{DIA['principal_name']}/calendarView/delta" in delta_link


def test_forgotten_tokens_answer_410(fake, graph):
    _, _, delta_link = first_round(graph)

    fake.expire_delta_tokens()
    response = graph.get(delta_link)

    assert response.status_code == 410
    assert response.json()["error"]["code"] == "SyncStateNotFound"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"startDateTime": "2026-12-01T00:00:00Z"},
        {"startDateTime": "2026-12-02T00:00:00Z", "endDateTime": "2026-12-01T00:00:00Z"},
    ],
)
def test_the_first_round_needs_a_window(graph, params):
    response = graph.get(f"/users/{DIA['id']}/calendarView/delta", params=params)

    assert response.status_code == 400


def test_a_token_of_another_mailbox_is_refused(fake, graph):
    _, _, delta_link = first_round(graph)

    response = graph.get(delta_link.replace(DIA["id"], NURSE["id"]))

    assert response.status_code == 410
