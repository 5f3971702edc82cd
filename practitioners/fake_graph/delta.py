"""Delta queries on a calendar view: rounds of pages, and the state kept between rounds.

The first round returns every event of the window; the `@odata.deltaLink` at its end remembers the
change sequence and which events were in the window, so that the next round returns what changed
since: new and changed events in the window in full, and events deleted (or moved out of the window)
as `{"@odata.type", "id", "@removed": {"reason": "deleted"}}`. A round's items are taken when it begins; changes
made while its pages are read come in the next round, as with Graph. Tokens are opaque; an unknown
or expired one is answered 410, as Graph answers a sync state it no longer holds.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from practitioners.fake_graph.calendar import Calendars, Mailbox, StoredEvent
from practitioners.fake_graph.formats import GraphError

Render = Callable[[StoredEvent], dict[str, Any]]


@dataclass(frozen=True)
class _Cursor:
    """Where a round ended: the window, the last change it saw, and the events then in the window."""

    mailbox_id: str
    start: datetime
    end: datetime
    sequence: int
    in_window: frozenset[str]


@dataclass(frozen=True)
class _Round:
    mailbox_id: str
    items: tuple[dict[str, Any], ...]
    cursor: _Cursor


@dataclass(frozen=True)
class DeltaPage:
    items: list[dict[str, Any]]
    skip_token: str | None
    """Set when more pages follow: the `$skiptoken` of the next page."""
    delta_token: str | None
    """Set on the last page: the `$deltatoken` of the next round."""


class DeltaTracker:
    """Rounds and their pages, by token. Not thread-safe on its own: `FakeGraph` holds its lock around it."""

    def __init__(self) -> None:
        self._pages: dict[str, tuple[_Round, int]] = {}
        self._cursors: dict[str, _Cursor] = {}

    def first_round(
        self, calendars: Calendars, mailbox: Mailbox, start: datetime, end: datetime, render: Render
    ) -> str:
        """Begins a round over every event of the window; returns the token of its first page."""
        events = [e for e in calendars.events_of(mailbox) if e.calendar_id == mailbox.calendar_id]
        in_window = [e for e in events if e.overlaps(start, end)]
        cursor = _Cursor(mailbox.id, start, end, calendars.sequence, frozenset(e.id for e in in_window))
        return self._begin(_Round(mailbox.id, tuple(render(e) for e in in_window), cursor))

    def next_round(self, calendars: Calendars, mailbox: Mailbox, delta_token: str, render: Render) -> str:
        """Begins the round after the one `delta_token` ended; returns the token of its first page."""
        previous = self._cursors.get(delta_token)
        if previous is None or previous.mailbox_id != mailbox.id:
            raise _sync_state_not_found()
        items: list[dict[str, Any]] = []
        for event in calendars.changed_since(mailbox, previous.sequence):
            if not event.deleted and event.overlaps(previous.start, previous.end):
                items.append(render(event))
            elif event.id in previous.in_window:
                items.append(
                    {"@odata.type": "#microsoft.graph.event", "id": event.id, "@removed": {"reason": "deleted"}}
                )
        in_window = frozenset(
            e.id
            for e in calendars.events_of(mailbox)
            if e.calendar_id == mailbox.calendar_id and e.overlaps(previous.start, previous.end)
        )
        cursor = _Cursor(mailbox.id, previous.start, previous.end, calendars.sequence, in_window)
        return self._begin(_Round(mailbox.id, tuple(items), cursor))

    def page(self, mailbox: Mailbox, skip_token: str, page_size: int) -> DeltaPage:
        found = self._pages.get(skip_token)
        if found is None or found[0].mailbox_id != mailbox.id:
            raise _sync_state_not_found()
        round_, offset = found
        items = list(round_.items[offset : offset + page_size])
        if offset + page_size < len(round_.items):
            next_token = secrets.token_urlsafe(24)
            self._pages[next_token] = (round_, offset + page_size)
            return DeltaPage(items, skip_token=next_token, delta_token=None)
        delta_token = secrets.token_urlsafe(24)
        self._cursors[delta_token] = round_.cursor
        return DeltaPage(items, skip_token=None, delta_token=delta_token)

    def forget(self) -> None:
        """Forgets every token, as when Graph's sync state expires: clients must start a new first round."""
        self._pages.clear()
        self._cursors.clear()

    def _begin(self, round_: _Round) -> str:
        token = secrets.token_urlsafe(24)
        self._pages[token] = (round_, 0)
        return token


def _sync_state_not_found() -> GraphError:
    return GraphError(410, "SyncStateNotFound", "The sync state generation is not found. Start a new sync.")
