"""`manage.py simulate_booking --practitioner dr-dia`: a patient books through Calendly, as far as
Office 365 can tell. Writes the event Calendly would write into the practitioner's calendar on the
fake Graph, which then notifies the subscriptions as Graph would, and says which booking it became.

Beside a `make run` that has just started, the calendar may not be subscribed yet: the command
waits for the subscription (up to `--wait` seconds), then for the booking the worker makes.
"""

import time as clock
from argparse import ArgumentTypeError
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from bookings.models import Booking
from bookings.selectors import booking_for_event
from practitioners.fake_graph.calendly import calendly_event
from practitioners.fake_graph.control_client import (
    FakeGraphControlError,
    control_url_for,
    event_create,
    subscription_ids,
)
from practitioners.models import BookingType, GraphSubscription, Practitioner
from practitioners.practice_time import practice_local

_T = TypeVar("_T")

WAIT_DEFAULT_SECONDS = 60
POLL_SECONDS = 0.5


class Command(BaseCommand):
    help = "Write a Calendly-style booking into a practitioner's calendar on the fake Microsoft Graph."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--practitioner", required=True, help="Practitioner slug, e.g. dr-dia.")
        parser.add_argument("--first-name", default="Jane")
        parser.add_argument("--last-name", default="Citizen")
        parser.add_argument("--email", default="jane.citizen@example.com.au")
        parser.add_argument("--mobile", default="+61 412 345 678")
        parser.add_argument("--dob", type=_date_of_birth, default=date(1980, 2, 29), help="dd/mm/yyyy")
        parser.add_argument("--reason", default="Review of blood results")
        parser.add_argument(
            "--start", type=_local_time, help='"YYYY-MM-DD HH:MM" in the practice time zone; default tomorrow 10:30.'
        )
        parser.add_argument("--minutes", type=_minutes, help="Default: the practitioner's default duration.")
        parser.add_argument(
            "--fake-graph-control",
            help="The fake's root URL; default: scheme, host and port of settings.GRAPH_API_URL.",
        )
        parser.add_argument(
            "--wait",
            type=_seconds,
            default=WAIT_DEFAULT_SECONDS,
            help=f"Seconds to wait for the calendar's subscription, then for the booking (default "
            f"{WAIT_DEFAULT_SECONDS}; 0 looks once).",
        )
        parser.add_argument(
            "--no-wait-for-booking",
            action="store_true",
            help="Write the event and print its Graph id without waiting for the booking.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        practitioner = Practitioner.objects.filter(slug=options["practitioner"]).first()
        if practitioner is None:
            raise CommandError(f"No practitioner with slug {options['practitioner']!r}.")
        if not practitioner.o365_mailbox:
            raise CommandError(
                f"{practitioner.slug} has no Office 365 mailbox: set PRACTITIONER_{_env_name(practitioner.slug)}"
                "_O365_MAILBOX (config/fake-graph.env) and run load_practice, or fill it in admin."
            )
        zone = ZoneInfo(settings.PRACTICE_TIME_ZONE)
        start = options["start"].replace(tzinfo=zone) if options["start"] else _tomorrow_at_half_past_ten(zone)
        minutes = options["minutes"] or practitioner.default_duration_minutes
        kind = (
            "Initial Consultation"
            if practitioner.booking_type == BookingType.FREE_INITIAL
            else "Follow-up Consultation"
        )
        event = calendly_event(
            practitioner_name=practitioner.display_name,
            first_name=options["first_name"],
            last_name=options["last_name"],
            email=options["email"],
            mobile=options["mobile"],
            date_of_birth=options["dob"],
            reason=options["reason"],
            start=start,
            minutes=minutes,
            event_name=f"{kind} ({minutes} min)",
        )
        control_url = options["fake_graph_control"] or control_url_for(settings.GRAPH_API_URL)
        if "graph.microsoft.com" in control_url:
            raise CommandError(
                "GRAPH_API_URL points at Microsoft Graph; simulated bookings go to the local fake only. "
                "Run `make simulate-booking PRACTITIONER=dr-dia` beside `make run`, or pass --fake-graph-control."
            )
        wait = options["wait"]
        if not _within(wait, lambda: _subscribed_on_the_fake(practitioner, control_url=control_url)):
            raise CommandError(
                f"{practitioner.display_name}'s calendar is not subscribed to Graph yet (waited {wait:g} s), so "
                "nothing was written. Beat subscribes the calendars shortly after `make run` starts, and checks "
                "every hour that Graph still holds them: try again in a moment, or see "
                "`manage.py graph_subscriptions list`."
            )
        try:
            created = event_create(control_url=control_url, mailbox=practitioner.o365_mailbox, event=event)
        except FakeGraphControlError as error:
            raise CommandError(str(error)) from error
        if options["no_wait_for_booking"]:
            self.stdout.write(created["id"])
            return
        booking = _within(wait, lambda: booking_for_event(practitioner=practitioner, event_id=created["id"]))
        if booking is None:
            raise CommandError(
                f"The event is in {practitioner.display_name}'s calendar (Graph event id {created['id']}), but no "
                f"booking came of it within {wait:g} s. Is the worker running (`make run`)? Failed deliveries "
                "show under Inbound deliveries in the console."
            )
        self._booking_report(booking)

    def _booking_report(self, booking: Booking) -> None:
        starts = practice_local(booking.starts_at)
        console = f"{settings.PUBLIC_BASE_URL}{reverse('admin:bookings_booking_change', args=[booking.pk])}"
        self.stdout.write(
            f"{booking} for {booking.practitioner.display_name}, "
            f"{starts:%a} {starts.day} {starts:%b %Y %H:%M %Z} (practice time)"
        )
        self.stdout.write(f"In the console: {console}")
        sandbox = _sandbox_page()
        if sandbox:
            self.stdout.write(f"In the MediRecords sandbox, once synced: {sandbox}")


def _subscribed_on_the_fake(practitioner: Practitioner, *, control_url: str) -> bool:
    """Whether our subscription of the calendar is one the fake holds (a restarted fake holds none)."""
    ours = set(GraphSubscription.objects.filter(practitioner=practitioner).values_list("graph_id", flat=True))
    if not ours:
        return False
    try:
        return bool(ours & subscription_ids(control_url=control_url))
    except FakeGraphControlError as error:
        raise CommandError(str(error)) from error


def _within(seconds: float, found: Callable[[], _T]) -> _T | None:
    """What `found` returns once it is truthy, looking until `seconds` have passed (at least once)."""
    deadline = clock.monotonic() + seconds
    while True:
        result = found()
        if result or clock.monotonic() >= deadline:
            return result or None
        clock.sleep(POLL_SECONDS)


def _sandbox_page() -> str:
    """The local MediRecords sandbox's page, when MediRecords is the sandbox on this machine."""
    parts = urlsplit(settings.MEDIRECORDS_API_URL)
    if parts.hostname not in {"127.0.0.1", "localhost"}:
        return ""
    return f"{parts.scheme}://{parts.netloc}/"


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 3600:
        raise ArgumentTypeError("--wait is from 0 to 3600 seconds")
    return value


def _date_of_birth(text: str) -> date:
    try:
        return datetime.strptime(text, "%d/%m/%Y").date()  # noqa: DTZ007 -- a date, no time zone to hold.
    except ValueError:
        raise ArgumentTypeError(f"{text!r} is not a dd/mm/yyyy date") from None


def _local_time(text: str) -> datetime:
    try:
        # Practice time: handle() gives it the practice's zone.
        return datetime.strptime(text, "%Y-%m-%d %H:%M")  # noqa: DTZ007
    except ValueError:
        raise ArgumentTypeError(f'{text!r} is not "YYYY-MM-DD HH:MM"') from None


def _minutes(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ArgumentTypeError(f"{text!r} is not a whole number of minutes")
    return int(text)


def _tomorrow_at_half_past_ten(zone: ZoneInfo) -> datetime:
    return datetime.combine(datetime.now(zone).date() + timedelta(days=1), time(10, 30), tzinfo=zone)


def _env_name(slug: str) -> str:
    return slug.upper().replace("-", "_")
