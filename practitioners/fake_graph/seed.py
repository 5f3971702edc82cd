"""The fake's well-known tenant, application and mailboxes.

The ids of Dr Dia's and the nurse's mailboxes, and the tenant, are the ones in the recorded payloads
(tests/fixtures/graph-*.json), so a recorded notification and the fake agree. config/fake-graph.env
repeats these values for a Django process that talks to the fake started from the command line.
"""

from typing import Final, TypedDict


class MailboxSeed(TypedDict):
    id: str
    principal_name: str
    display_name: str


DEFAULT_TENANT_ID: Final = "84bd8158-6d4d-4958-8b9f-9d6445542f95"
DEFAULT_CLIENT_ID: Final = "2197e74b-9822-4259-aa68-b020eaffa77c"
DEFAULT_CLIENT_SECRET: Final = "fake-graph-client-secret"  # noqa: S105 -- a well-known value for a local fake.

# One mailbox per practitioner of the practice, keyed by the practitioner's slug.
FAKE_MAILBOXES: Final[dict[str, MailboxSeed]] = {
    "consultant": {
        "id": "81ef13c2-eb97-4a02-8ee3-b42749db1d47",
        "principal_name": "consultant@clinic.example.com.au",
        "display_name": "Consultant",
    },
    "dr-dia": {
        "id": "5f1c2e4b-7a0d-4c55-9d3e-2b8a1f6c9e10",
        "principal_name": "dr.dia@clinic.example.com.au",
        "display_name": "Dr Dia",
    },
    "doctor-2": {
        "id": "62d0231b-9e46-468a-b485-4f08eb6b6188",
        "principal_name": "doctor.2@clinic.example.com.au",
        "display_name": "Doctor 2",
    },
    "nurse": {
        "id": "9a8b7c6d-0000-4e1f-a2b3-c4d5e6f7a8b9",
        "principal_name": "nurse@clinic.example.com.au",
        "display_name": "Nurse",
    },
    "ramona": {
        "id": "0fca0f92-8df0-4509-9ba3-781d3b7ba175",
        "principal_name": "ramona@clinic.example.com.au",
        "display_name": "Ramona",
    },
}
