"""Request bodies the MediRecords sandbox accepts, for tests that post to it directly."""

from medirecords.sandbox import PRACTICE_ID

# A field's value that leaves the field out of the body altogether.
MISSING = object()


def patient_body(**changes):
    """Jane Citizen as a new patient of the sandbox's practice, with `changes` applied."""
    body = {
        "defaultPracticeId": PRACTICE_ID,
        "firstName": "Jane",
        "lastName": "Citizen",
        "gender": 1,
        "dob": "1980-02-29",
        "patientStatusCode": 1,
    }
    body.update(changes)
    return {name: value for name, value in body.items() if value is not MISSING}
