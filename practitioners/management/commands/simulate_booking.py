"""`manage.py simulate_booking --practitioner dr-dia`: a patient books through Calendly, as far as
Office 365 can tell. Writes the event Calendly would write into the practitioner's calendar on the
fake Graph, which then notifies the subscriptions as Graph would."""

from argparse import ArgumentTypeError
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from practitioners.fake_graph.calendly import calendly_event
from practitioners.fake_graph.control_client import (
    FakeGraphControlError,
    control_url_for,
    event_create,
)
from practitioners.models import BookingType, Practitioner


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
        try:
            created = event_create(control_url=control_url, mailbox=practitioner.o365_mailbox, event=event)
        except FakeGraphControlError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(created["id"])


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
