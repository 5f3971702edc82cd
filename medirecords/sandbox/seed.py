"""The fixed reference data every sandbox starts with: the practice, its providers and the code tables.

The ids are constants so that configuration (a practitioner's provider id and appointment type) can
point at the sandbox without first asking it.
"""

from typing import Final, TypedDict


class Provider(TypedDict):
    id: str
    firstName: str
    lastName: str
    fullName: str
    status: str


class AppointmentType(TypedDict):
    id: str
    name: str
    # Minutes, or text such as "45 mins" or "1 hr" as public notes on the API show it: served
    # both ways so that clients read either.
    duration: int | str


class RegularSession(TypedDict):
    id: str
    userId: str
    dayOfWeek: int
    startTime: str
    endTime: str


class SandboxPractitioner(TypedDict):
    provider_id: str
    appointment_type_id: str


PRACTICE_ID: Final = "00000000-0000-4000-8000-000000000001"
PRACTICE_NAME: Final = "MediRecords Sandbox Practice"


def _provider_id(number: int) -> str:
    return f"10000000-0000-4000-8000-{number:012d}"


def _appointment_type_id(number: int) -> str:
    return f"20000000-0000-4000-8000-{number:012d}"


# Keyed by the practitioner slugs the service uses.
PROVIDERS: Final[dict[str, Provider]] = {
    "consultant": Provider(
        id=_provider_id(1), firstName="Clinic", lastName="Consultant", fullName="Consultant", status="Active"
    ),
    "dr-dia": Provider(id=_provider_id(2), firstName="Dia", lastName="Doctor", fullName="Dr Dia", status="Active"),
    "doctor-2": Provider(
        id=_provider_id(3), firstName="Second", lastName="Doctor", fullName="Doctor 2", status="Active"
    ),
    "nurse": Provider(id=_provider_id(4), firstName="Practice", lastName="Nurse", fullName="Nurse", status="Active"),
    "ramona": Provider(id=_provider_id(5), firstName="Ramona", lastName="Coach", fullName="Ramona", status="Active"),
}

APPOINTMENT_TYPES: Final[list[AppointmentType]] = [
    AppointmentType(id=_appointment_type_id(1), name="Initial consultation", duration=30),
    AppointmentType(id=_appointment_type_id(2), name="Follow-up consultation", duration="45 mins"),
    AppointmentType(id=_appointment_type_id(3), name="Nurse consultation", duration=30),
    AppointmentType(id=_appointment_type_id(4), name="GAPS coaching session", duration="1 hr"),
]

SANDBOX_PRACTITIONERS: Final[dict[str, SandboxPractitioner]] = {
    "consultant": SandboxPractitioner(provider_id=_provider_id(1), appointment_type_id=_appointment_type_id(1)),
    "dr-dia": SandboxPractitioner(provider_id=_provider_id(2), appointment_type_id=_appointment_type_id(2)),
    "doctor-2": SandboxPractitioner(provider_id=_provider_id(3), appointment_type_id=_appointment_type_id(2)),
    "nurse": SandboxPractitioner(provider_id=_provider_id(4), appointment_type_id=_appointment_type_id(3)),
    "ramona": SandboxPractitioner(provider_id=_provider_id(5), appointment_type_id=_appointment_type_id(4)),
}

# Minutes -> code. 5, 10, 15 and 20 minutes are the codes seen in public code; the rest are the sandbox's own.
INTERVAL_CODES: Final[dict[int, str]] = {
    5: "2",
    10: "4",
    15: "6",
    20: "7",
    25: "8",
    30: "9",
    40: "10",
    45: "11",
    60: "12",
    90: "13",
    120: "14",
}

# Patient title codes, as documented for patient create.
TITLE_CODES: Final[dict[str, int]] = {
    "Mr": 315890000,
    "Mrs": 315890001,
    "Ms": 315890002,
    "Miss": 315890003,
    "Dr": 315890004,
    "Prof": 315890005,
    "Mx": 315890012,
}


def _regular_sessions() -> list[RegularSession]:
    """Every provider works Monday (1) to Friday (5), 09:00 to 17:00."""
    sessions: list[RegularSession] = []
    for provider in PROVIDERS.values():
        for day in range(1, 6):
            sessions.append(
                RegularSession(
                    id=f"30000000-0000-4000-8000-{len(sessions) + 1:012d}",
                    userId=provider["id"],
                    dayOfWeek=day,
                    startTime="09:00",
                    endTime="17:00",
                )
            )
    return sessions


REGULAR_SESSIONS: Final[list[RegularSession]] = _regular_sessions()
