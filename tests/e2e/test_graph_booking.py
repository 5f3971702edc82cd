"""A Calendly booking written into Office 365 arrives as a booking, end to end.

The fake Graph and its identity provider run over real HTTP (TLS for the identity provider);
msal takes a token from it; our server (live_server) answers the subscription handshake and
receives the notification; a real worker process fetches the event and makes the booking.
"""

from datetime import UTC, date, datetime, timedelta

import pytest

from bookings.models import Booking, BookingKind, InboundDelivery
from practitioners import clients
from practitioners.fake_graph import FAKE_MAILBOXES
from practitioners.graph.subscriptions import graph_subscriptions_sync
from practitioners.models import GraphSubscription
from practitioners.services import external_id_variable, practice_load
from tests.e2e.conftest import requires_distributed_setup, wait_for
from tests.fake_graph.conftest import paid_booking

pytestmark = [requires_distributed_setup, pytest.mark.django_db(transaction=True)]

# The worker is another process on the real clock, so the booking is always a week ahead of it.
STARTS = (datetime.now(UTC) + timedelta(days=7)).replace(hour=23, minute=30, second=0, microsecond=0)


def test_a_calendly_booking_in_office_365_becomes_a_booking(fake_graph, graph_settings, start_worker):
    practice_load(
        environ={
            external_id_variable(slug=slug, field_name="o365_mailbox"): mailbox["id"]
            for slug, mailbox in FAKE_MAILBOXES.items()
        }
    )

    # Subscriptions are created through the real handshake against our running server,
    # with a token msal obtained from the identity provider over TLS.
    report = graph_subscriptions_sync(client=clients.graph_client())
    assert report.failed == []
    assert GraphSubscription.objects.count() == 5
    assert len(fake_graph.subscriptions()) == 5
    assert fake_graph.tokens_issued() == 1

    start_worker(extra_environment={name: str(value) for name, value in graph_settings.items()})

    dr_dia = FAKE_MAILBOXES["dr-dia"]
    event = fake_graph.create_event(dr_dia["id"], paid_booking(start=STARTS, invitee_uuid=None))

    booking = wait_for(
        lambda: Booking.objects.select_related("patient", "practitioner").filter(o365_event_id=event["id"]).first()
    )
    assert booking.practitioner.slug == "dr-dia"
    assert booking.kind == BookingKind.PAID
    assert (booking.starts_at, booking.ends_at.astimezone(UTC)) == (STARTS, STARTS + timedelta(minutes=45))
    assert (booking.patient.first_name, booking.patient.last_name) == ("Jane", "Citizen")
    assert booking.patient.mobile == "+61412345678"
    assert booking.patient.date_of_birth == date(1980, 2, 29)
    # The booking is visible before the worker marks the delivery done: wait for that too.
    assert wait_for(lambda: InboundDelivery.objects.filter(source="graph", status="processed").exists())
    assert InboundDelivery.objects.filter(source="graph").count() == 1
