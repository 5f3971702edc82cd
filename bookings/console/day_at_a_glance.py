"""The day at a glance on the console's index: today's and tomorrow's bookings, and what needs a person.

The index is the page staff open most, so it shows the least health data that does the job
(booking numbers, times, kinds and sync states; no patients) and costs a fixed number of
queries however many rows there are.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Case, Count, F, Model, Q, QuerySet, Value, When, Window
from django.db.models.expressions import BaseExpression
from django.db.models.functions import RowNumber
from django.urls import reverse
from django.utils import timezone

from bookings.descriptions import booking_local_times
from bookings.models import (
    Booking,
    BookingStatus,
    DeliveryStatus,
    InboundDelivery,
    Notification,
    NotificationStatus,
    SyncState,
)
from bookings.push.outage import medirecords_unreachable_since
from bookings.selectors import bookings_visible_to
from practitioners.models import GraphSubscription, SubscriptionGap
from practitioners.practice_time import practice_local, practice_zone

# A practitioner's day is far shorter than this; a longer list is a sign of something odd,
# and the rest is one click away on the changelist.
ROWS_PER_PRACTITIONER_DAY = 50

DAY_KEYS = ("today", "tomorrow")
# Calendar gaps shown: those still open, and those recovered within this long.
CALENDAR_GAPS_RECENT = timedelta(hours=24)
CALENDAR_GAPS_SHOWN = 10


@dataclass(frozen=True)
class GlanceBooking:
    label: str
    time_range: str
    kind: str
    sync_state: str
    sync_state_label: str
    url: str


@dataclass(frozen=True)
class PractitionerDay:
    slug: str
    name: str
    count: int
    bookings: tuple[GlanceBooking, ...]
    more: int
    more_url: str


@dataclass(frozen=True)
class GlanceDay:
    key: str
    label: str
    date: date
    practitioners: tuple[PractitionerDay, ...]


@dataclass(frozen=True)
class GlanceCount:
    element_id: str
    label: str
    count: int
    url: str


@dataclass(frozen=True)
class GlanceBlock:
    key: str
    title: str
    counts: tuple[GlanceCount, ...]


@dataclass(frozen=True)
class CalendarGap:
    """A time a practitioner's calendar was deaf: Graph had forgotten its subscription."""

    practitioner: str
    deaf_since: str
    recovered_at: str
    url: str


@dataclass(frozen=True)
class DayAtAGlance:
    time_zone: str
    days: tuple[GlanceDay, ...]
    blocks: tuple[GlanceBlock, ...]
    # While MediRecords fails: since when, in practice time ("09:42 on Tuesday 1 December").
    medirecords_unreachable_since: str = ""
    calendar_gaps: tuple[CalendarGap, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.days and not self.blocks and not self.medirecords_unreachable_since and not self.calendar_gaps


def day_at_a_glance(*, user: User | AnonymousUser, now: datetime | None = None) -> DayAtAGlance:
    """What the login may see of the practice's today and tomorrow, and of the work waiting for staff."""
    zone = practice_zone()
    now = now or timezone.now()
    today = timezone.localdate(now, zone)
    days = bookings_by_day(user=user, first_day=today, zone=zone) if _may_view(user, Booking) else ()
    gaps = calendar_gaps(now=now) if _may_view(user, SubscriptionGap) else ()
    return DayAtAGlance(
        time_zone=settings.PRACTICE_TIME_ZONE,
        days=days,
        blocks=needs_a_person(user=user),
        medirecords_unreachable_since=medirecords_outage_shown(user=user),
        calendar_gaps=gaps,
    )


def medirecords_outage_shown(*, user: User | AnonymousUser) -> str:
    """Since when MediRecords has been failing, in practice time, for a login that sees
    bookings (theirs are the ones waiting); empty while it answers. One query."""
    if not _may_view(user, Booking):
        return ""
    since = medirecords_unreachable_since()
    if since is None:
        return ""
    local = practice_local(since)
    return f"{local:%H:%M} on {local:%A} {local.day} {local:%B}"


def calendar_gaps(*, now: datetime) -> tuple[CalendarGap, ...]:
    """Calendars that were deaf (open gaps, and those recovered lately), newest first; one query."""
    rows = (
        SubscriptionGap.objects.select_related("practitioner")
        .filter(Q(recovered_at__isnull=True) | Q(recovered_at__gte=now - CALENDAR_GAPS_RECENT))
        .order_by("-detected_at", "-pk")[:CALENDAR_GAPS_SHOWN]
    )
    return tuple(
        CalendarGap(
            practitioner=gap.practitioner.display_name,
            deaf_since=_local_moment(gap.deaf_since),
            recovered_at=_local_moment(gap.recovered_at) if gap.recovered_at else "",
            url=reverse("admin:practitioners_subscriptiongap_change", args=[gap.pk]),
        )
        for gap in rows
    )


def _local_moment(moment: datetime) -> str:
    local = practice_local(moment)
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def bookings_by_day(*, user: User | AnonymousUser, first_day: date, zone: ZoneInfo) -> tuple[GlanceDay, ...]:
    """The booked (not cancelled) bookings of `first_day` and the day after, per practitioner.

    One query: each practitioner's day is cut at ROWS_PER_PRACTITIONER_DAY in the database,
    and its full count comes along in the same rows.
    """
    starts = [_midnight(first_day + timedelta(days=offset), zone) for offset in range(len(DAY_KEYS) + 1)]
    rows = _bookings_for_days(user=user, starts=starts)
    grouped: list[dict[int, list[Booking]]] = [{} for _ in DAY_KEYS]
    for booking in rows:
        grouped[booking.day_index].setdefault(booking.practitioner_id, []).append(booking)  # type: ignore[attr-defined]
    return tuple(
        GlanceDay(
            key=key,
            label=key.capitalize(),
            date=first_day + timedelta(days=index),
            practitioners=tuple(
                _practitioner_day(bookings, day_start=starts[index], day_end=starts[index + 1])
                for bookings in grouped[index].values()
            ),
        )
        for index, key in enumerate(DAY_KEYS)
    )


def needs_a_person(*, user: User | AnonymousUser) -> tuple[GlanceBlock, ...]:
    """Counts of rows waiting for staff, one query per model, for the models the login may view."""
    return tuple(
        _count_block(key=source.key, title=source.title, queryset=source.rows(user), counted=source.counted)
        for source in sorted(_count_sources, key=lambda source: source.position)
        if _may_view(user, source.model)
    )


@dataclass(frozen=True)
class Counted:
    """One count of a block: its element id and label, and the field value it counts."""

    element_id: str
    label: str
    field: str
    value: str | bool


@dataclass(frozen=True)
class CountSource:
    """Rows of one model that may need a person, shown as a block of counts on the index.

    `rows` gives the rows the login may see; `position` orders the blocks.
    """

    position: int
    key: str
    title: str
    model: type[Model]
    rows: Callable[[User | AnonymousUser], QuerySet[Any]]
    counted: tuple[Counted, ...]


_count_sources: list[CountSource] = []


def count_source_register(source: CountSource) -> None:
    """Show `source` on the index. Apps above bookings (the intake forms) call this from
    `AppConfig.ready`, so the console counts their rows without importing them."""
    _count_sources[:] = [known for known in _count_sources if known.key != source.key] + [source]


for _source in (
    CountSource(
        position=10,
        key="bookings",
        title="Bookings",
        model=Booking,
        rows=lambda user: bookings_visible_to(user=user),
        counted=(
            Counted("glance-needs-review", "Needing review", "sync_state", SyncState.NEEDS_REVIEW),
            Counted("glance-needs-attention", "Needing attention", "sync_state", SyncState.NEEDS_ATTENTION),
        ),
    ),
    CountSource(
        position=20,
        key="notifications",
        title="Notifications",
        model=Notification,
        rows=lambda user: Notification.objects.filter(booking__in=bookings_visible_to(user=user)),
        counted=(Counted("glance-notifications-failed", "Failed", "status", NotificationStatus.FAILED),),
    ),
    CountSource(
        position=40,
        key="subscriptions",
        title="Calendar subscriptions",
        model=GraphSubscription,
        rows=lambda user: GraphSubscription.objects.all(),
        counted=(Counted("glance-subscriptions-unhealthy", "Unhealthy", "is_healthy", False),),
    ),
    CountSource(
        position=50,
        key="inbox",
        title="Inbox",
        model=InboundDelivery,
        rows=lambda user: InboundDelivery.objects.all(),
        counted=(
            Counted("glance-deliveries-failed", "Failed", "status", DeliveryStatus.FAILED),
            Counted("glance-deliveries-waiting", "Waiting", "status", DeliveryStatus.RECEIVED),
        ),
    ),
):
    count_source_register(_source)


def _bookings_for_days(*, user: User | AnonymousUser, starts: list[datetime]) -> list[Booking]:
    day_index = Case(
        *(When(starts_at__lt=start, then=Value(index)) for index, start in enumerate(starts[1:-1])),
        default=Value(len(starts) - 2),
    )
    practitioner_day: list[BaseExpression | F] = [F("practitioner_id"), day_index]
    return list(
        bookings_visible_to(user=user)
        .filter(status=BookingStatus.BOOKED, starts_at__gte=starts[0], starts_at__lt=starts[-1])
        .select_related("practitioner")
        # Only what the page shows: a booking's reason for the visit is health data.
        .only("pk", "kind", "starts_at", "ends_at", "sync_state", "practitioner__slug", "practitioner__display_name")
        .annotate(
            day_index=day_index,
            position=Window(RowNumber(), partition_by=practitioner_day, order_by=[F("starts_at"), F("pk")]),
            day_count=Window(Count("pk"), partition_by=practitioner_day),
        )
        .filter(position__lte=ROWS_PER_PRACTITIONER_DAY)
        .order_by("practitioner__display_order", "practitioner__display_name", "practitioner_id", "starts_at", "pk")
    )


def _practitioner_day(bookings: list[Booking], *, day_start: datetime, day_end: datetime) -> PractitionerDay:
    practitioner = bookings[0].practitioner
    count: int = bookings[0].day_count  # type: ignore[attr-defined]
    more_url = _changelist_url(
        "admin:bookings_booking_changelist",
        practitioner__id__exact=str(practitioner.pk),
        status__exact=BookingStatus.BOOKED,
        starts_at__gte=day_start.astimezone(UTC).isoformat(),
        starts_at__lt=day_end.astimezone(UTC).isoformat(),
    )
    return PractitionerDay(
        slug=practitioner.slug,
        name=practitioner.display_name,
        count=count,
        bookings=tuple(_glance_booking(booking) for booking in bookings),
        more=count - len(bookings),
        more_url=more_url,
    )


def _glance_booking(booking: Booking) -> GlanceBooking:
    starts, ends = booking_local_times(booking)
    return GlanceBooking(
        label=str(booking),
        time_range=f"{starts:%H:%M}\N{EN DASH}{ends:%H:%M}",
        kind=booking.get_kind_display(),
        sync_state=booking.sync_state,
        sync_state_label=booking.get_sync_state_display(),
        url=reverse("admin:bookings_booking_change", args=[booking.pk]),
    )


def _count_block(*, key: str, title: str, queryset: QuerySet[Model], counted: tuple[Counted, ...]) -> GlanceBlock:
    opts = queryset.model._meta
    totals = queryset.aggregate(
        **{f"count_{index}": Count("pk", filter=Q(**{item.field: item.value})) for index, item in enumerate(counted)}
    )
    return GlanceBlock(
        key=key,
        title=title,
        counts=tuple(
            GlanceCount(
                element_id=item.element_id,
                label=item.label,
                count=totals[f"count_{index}"],
                url=_changelist_url(
                    f"admin:{opts.app_label}_{opts.model_name}_changelist",
                    # The admin's boolean filter spells its values 0 and 1.
                    **{f"{item.field}__exact": str(int(item.value)) if isinstance(item.value, bool) else item.value},
                ),
            )
            for index, item in enumerate(counted)
        ),
    )


def _changelist_url(name: str, **query: str) -> str:
    return f"{reverse(name)}?{urlencode(query)}"


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


def _may_view(user: User | AnonymousUser, model: type[Model]) -> bool:
    """As the admin decides it: viewing or changing a model lets a login see its rows."""
    opts = model._meta
    return any(user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}") for action in ("view", "change"))
