"""MediRecords' `scheduleTime`: the practice's wall-clock time, `YYYY-MM-DDTHH:mm`, no offset.

We keep aware datetimes; the conversion to and from wall time needs the practice's zone, and
across a daylight-saving change a fixed offset would put half the appointments an hour out.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

SCHEDULE_TIME_FORMAT = "%Y-%m-%dT%H:%M"


class LocalTimeError(ValueError):
    """A failure: a wall-clock time that does not name exactly one moment in the practice's zone."""


class NonexistentLocalTimeError(LocalTimeError):
    """The wall-clock time is skipped by a daylight-saving change (clocks go forward)."""


class AmbiguousLocalTimeError(LocalTimeError):
    """The wall-clock time happens twice (clocks go back)."""


def to_schedule_time(moment: datetime, *, time_zone: ZoneInfo) -> str:
    """An aware datetime as the practice's wall-clock time."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place in time; pass an aware one")
    return moment.astimezone(time_zone).strftime(SCHEDULE_TIME_FORMAT)


def from_schedule_time(value: str, *, time_zone: ZoneInfo) -> datetime:
    """The practice's wall-clock time as an aware datetime.

    A time in the hour that clocks repeat is read as its first occurrence (daylight time),
    the way a person reading the appointment book would take it.
    """
    naive = datetime.strptime(value, SCHEDULE_TIME_FORMAT)  # noqa: DTZ007 - zone attached below
    return naive.replace(tzinfo=time_zone, fold=0)


def local_wall_time(naive: datetime, *, time_zone: ZoneInfo) -> datetime:
    """A wall-clock time typed by a person, made aware, refusing times that do not exist once.

    Used where a person chooses the time (a phone booking): a time skipped by the clocks
    going forward, or repeated when they go back, is refused so the person can say which.
    """
    if naive.tzinfo is not None:
        raise ValueError("expected a wall-clock time without a zone")
    first = naive.replace(tzinfo=time_zone, fold=0)
    second = naive.replace(tzinfo=time_zone, fold=1)
    round_trip = first.astimezone(ZoneInfo("UTC")).astimezone(time_zone).replace(tzinfo=None)
    if round_trip != naive:
        raise NonexistentLocalTimeError(f"{naive:%Y-%m-%d %H:%M} does not exist in {time_zone.key}: the clocks skip it")
    if first.utcoffset() != second.utcoffset():
        raise AmbiguousLocalTimeError(f"{naive:%Y-%m-%d %H:%M} happens twice in {time_zone.key}: the clocks repeat it")
    return first


def minutes_between(start: datetime, end: datetime) -> int:
    return int((end - start) / timedelta(minutes=1))
