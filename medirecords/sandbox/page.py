"""The read-only HTML page at `GET /`: the sandbox's patients and appointments, for a person to look at.

Every value is escaped: patient names are whatever a client sent.
"""

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; }
table { border-collapse: collapse; margin-bottom: 2rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; }
th { background: #f3f3f3; }
"""


def render(
    patients: Sequence[Mapping[str, Any]],
    appointments: Sequence[Mapping[str, Any]],
    provider_names: Mapping[str, str],
) -> str:
    patient_rows = (
        (patient["id"], patient["fullName"], patient["dob"], patient["mobilePhone"]) for patient in patients
    )
    appointment_rows = (
        (
            provider_names.get(appointment["providerId"], appointment["providerId"]),
            appointment["scheduleTime"],
            appointment["appointmentStatus"],
            appointment["patientId"],
        )
        for appointment in sorted(
            appointments, key=lambda appointment: (appointment["scheduleTime"], appointment["id"])
        )
    )
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            '<head><meta charset="utf-8"><title>MediRecords sandbox</title>',
            f"<style>{_STYLE}</style></head>",
            "<body>",
            "<h1>MediRecords sandbox</h1>",
            f"<h2>Patients ({len(patients)})</h2>",
            _table(("Id", "Name", "Date of birth", "Mobile"), patient_rows),
            f"<h2>Appointments ({len(appointments)})</h2>",
            _table(("Provider", "Time", "Status", "Patient id"), appointment_rows),
            "</body>",
            "</html>",
        ]
    )


def _table(headings: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = "".join(f"<th>{escape(heading)}</th>" for heading in headings)
    body = "".join("<tr>" + "".join(f"<td>{_cell(value)}</td>" for value in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    return "" if value is None else escape(str(value))
