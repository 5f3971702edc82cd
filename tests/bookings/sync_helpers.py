"""Shared makings of the sync tests: bookings at Sydney wall times, patients seeded in the sandbox."""

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from medirecords import Gender, NewPatient
from tests.bookings.factories import BookingFactory, PatientFactory

SYDNEY = ZoneInfo("Australia/Sydney")


def sydney(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SYDNEY)


def booking_at(practitioner, starts_at: datetime, *, minutes: int = 45, **fields):
    return BookingFactory(
        practitioner=practitioner, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes), **fields
    )


def new_person(**fields):
    """A patient as a booking leaves them: a name, an email and a mobile, nothing else."""
    values = {
        "first_name": "Jane",
        "last_name": "Citizen",
        "date_of_birth": None,
        "sex": "",
        "email": "jane.citizen@example.com.au",
        "mobile": "+61412345678",
    }
    values.update(fields)
    return PatientFactory(**values)


def seed_medirecords_patient(client, *, first_name="Jane", last_name="Citizen", dob=date(1980, 2, 29), **fields):
    return client.patient_create(
        NewPatient(last_name=last_name, first_name=first_name, dob=dob, gender=Gender.FEMALE, **fields)
    )


def requests_of(sandbox, method: str, path_prefix: str = "/v1/") -> list[dict[str, Any]]:
    return [
        request
        for request in sandbox.requests
        if request["method"] == method and request["path"].startswith(path_prefix)
    ]
