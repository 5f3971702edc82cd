"""A local fake of Microsoft Graph (calendar events, change-notification subscriptions, delta) and
of the Microsoft identity platform that issues its tokens, for `make run` and for tests.

It speaks the protocols over real sockets: msal obtains tokens from it over TLS, subscriptions are
validated with the real handshake, notifications are POSTed to the subscriber. Control routes and
Python methods play the part of Outlook (events created, changed, deleted) and make it misbehave
(throttling, lifecycle notifications, expired tokens). Framework-free: standard library,
`cryptography` and `requests` only.
"""

from practitioners.fake_graph.calendly import calendly_event
from practitioners.fake_graph.control_client import (
    FakeGraphControlError,
    FakeGraphUnreachableError,
    UnknownMailboxError,
    control_url_for,
    event_create,
)
from practitioners.fake_graph.core import FakeGraph
from practitioners.fake_graph.formats import GraphError
from practitioners.fake_graph.notifications import Delivery
from practitioners.fake_graph.seed import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, FAKE_MAILBOXES
from practitioners.fake_graph.server import FakeGraphServer

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_TENANT_ID",
    "FAKE_MAILBOXES",
    "Delivery",
    "FakeGraph",
    "FakeGraphControlError",
    "FakeGraphServer",
    "FakeGraphUnreachableError",
    "GraphError",
    "UnknownMailboxError",
    "calendly_event",
    "control_url_for",
    "event_create",
]
