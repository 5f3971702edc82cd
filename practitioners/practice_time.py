"""The practice's time zone: what staff and patients read times in, and MediRecords' wall clock."""

from zoneinfo import ZoneInfo

from django.conf import settings


def practice_zone() -> ZoneInfo:
    """PRACTICE_TIME_ZONE, read at each call so settings overridden in tests apply."""
    return ZoneInfo(settings.PRACTICE_TIME_ZONE)
