from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from medirecords.schedule_time import (
    AmbiguousLocalTimeError,
    NonexistentLocalTimeError,
    from_schedule_time,
    local_wall_time,
    to_schedule_time,
)

SYDNEY = ZoneInfo("Australia/Sydney")


@pytest.mark.parametrize(
    ("utc", "wall"),
    [
        # Daylight saving (AEDT, +11): the shared fixture's booking.
        (datetime(2026, 12, 3, 23, 30, tzinfo=UTC), "2026-12-04T10:30"),
        # Standard time (AEST, +10).
        (datetime(2026, 7, 1, 0, 0, tzinfo=UTC), "2026-07-01T10:00"),
        # Either side of the October 2026 change (Sunday 4 October, 02:00 -> 03:00).
        (datetime(2026, 10, 2, 23, 0, tzinfo=UTC), "2026-10-03T09:00"),
        (datetime(2026, 10, 4, 22, 0, tzinfo=UTC), "2026-10-05T09:00"),
        # Either side of the April 2027 change (Sunday 4 April, 03:00 -> 02:00).
        (datetime(2027, 4, 2, 22, 0, tzinfo=UTC), "2027-04-03T09:00"),
        (datetime(2027, 4, 4, 23, 0, tzinfo=UTC), "2027-04-05T09:00"),
    ],
)
def test_round_trip_through_wall_time(utc, wall):
    assert to_schedule_time(utc, time_zone=SYDNEY) == wall
    assert from_schedule_time(wall, time_zone=SYDNEY) == utc


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="naive"):
        to_schedule_time(datetime(2026, 12, 4, 10, 30), time_zone=SYDNEY)  # noqa: DTZ001


def test_a_skipped_wall_time_is_refused_for_a_person_to_correct():
    with pytest.raises(NonexistentLocalTimeError, match="skip"):
        local_wall_time(datetime(2026, 10, 4, 2, 30), time_zone=SYDNEY)  # noqa: DTZ001


def test_a_repeated_wall_time_is_refused_for_a_person_to_choose():
    with pytest.raises(AmbiguousLocalTimeError, match="twice"):
        local_wall_time(datetime(2027, 4, 4, 2, 30), time_zone=SYDNEY)  # noqa: DTZ001


def test_an_ordinary_wall_time_is_made_aware():
    moment = local_wall_time(datetime(2026, 12, 4, 10, 30), time_zone=SYDNEY)  # noqa: DTZ001
    assert moment.astimezone(UTC) == datetime(2026, 12, 3, 23, 30, tzinfo=UTC)
