"""Clients for the external systems, built from settings once per process."""

from functools import cache

from django.conf import settings

from medirecords import MediRecordsClient


@cache
def medirecords_client() -> MediRecordsClient:
    """The MediRecords client configured by MEDIRECORDS_* settings (the sandbox by default)."""
    return MediRecordsClient(
        settings.MEDIRECORDS_API_URL,
        settings.MEDIRECORDS_API_TOKEN,
        settings.MEDIRECORDS_PRACTICE_ID,
        fhir_url=settings.MEDIRECORDS_FHIR_URL,
        fhir_token=settings.MEDIRECORDS_FHIR_TOKEN or None,
        time_zone=settings.PRACTICE_TIME_ZONE,
    )
