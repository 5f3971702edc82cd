"""The three JotForm forms as first configured: ids and question maps, editable in admin afterwards.

Question names are JotForm's (the part after `q<qid>_` in a webhook's rawRequest); the
full intake's come from its recorded submission. The mini intake and triage ids are
placeholders until the practice's forms are entered in admin.
"""

from typing import Any

# Our fields a question can feed. "name" is JotForm's {first, last} and fills both names.
OUR_FIELDS = frozenset(
    {
        "name",
        "first_name",
        "last_name",
        "email",
        "mobile",
        "date_of_birth",
        "sex",
        "address",
        "medicare_number",
        "medicare_irn",
        "medicare_expiry",
        "dva_number",
        "emergency_contact_name",
        "emergency_contact_mobile",
        "emergency_contact_relationship",
        "medications",
        "allergies",
        "reason",
        "booking_reference",
    }
)
# Triage questions map to "triage_<topic>"; their answers make the assessment's summary.
TRIAGE_PREFIX = "triage_"

_IDENTITY = {
    "fullName": "name",
    "email": "email",
    "dateOf": "date_of_birth",
    "bookingReference": "booking_reference",
}

DEFAULT_FORMS: list[dict[str, Any]] = [
    {
        "form_type": "mini",
        "jotform_form_id": "251234567890001",
        "title": "Mini Patient Intake",
        "field_map": {**_IDENTITY, "mobileNumber": "mobile", "gender": "sex", "reasonFor": "reason"},
    },
    {
        "form_type": "full",
        "jotform_form_id": "251234567890123",
        "title": "Full Patient Intake",
        "field_map": {
            **_IDENTITY,
            "mobileNumber": "mobile",
            "gender": "sex",
            "address": "address",
            "medicareNumber": "medicare_number",
            "medicareIrn": "medicare_irn",
            "medicareExpiry": "medicare_expiry",
            "dvaNumber": "dva_number",
            "emergencyContact": "emergency_contact_name",
            "emergencyContactPhone": "emergency_contact_mobile",
            "relationship": "emergency_contact_relationship",
            "currentMedications": "medications",
            "allergies": "allergies",
            "reasonFor": "reason",
        },
    },
    {
        "form_type": "triage",
        "jotform_form_id": "251234567890002",
        "title": "Dynamic Triage",
        "field_map": {
            **_IDENTITY,
            "mainConcern": "triage_main_concern",
            "symptomDuration": "triage_symptom_duration",
            "severity": "triage_severity",
            "redFlags": "triage_red_flags",
            "previousTreatment": "triage_previous_treatment",
            "goals": "triage_goals",
        },
    },
]
