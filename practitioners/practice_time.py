"""The practice's time zone: what staff and patients read times in, and MediRecords' wall clock."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings


def practice_zone() -> ZoneInfo:
    """PRACTICE_TIME_ZONE, read at each call so settings overridden in tests apply."""
    return ZoneInfo(settings.PRACTICE_TIME_ZONE)


def practice_local(moment: datetime) -> datetime:
    """`moment` on the practice's wall clock, as staff and patients read it."""
    return moment.astimezone(practice_zone())
