"""The FHIR Patient view of a stored patient, and reading a Patient resource back (README assumption 9).

Both directions work on the same stored patient as the REST API, so a change through one is seen
through the other.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from medirecords.sandbox.validation import birth_date_problem, email_problem, is_blank, mobile_problem

MEDICARE_SYSTEM = "http://ns.electronichealth.net.au/id/medicare-number"

GENDER_TO_FHIR = {1: "female", 2: "male", 3: "other"}
# "unknown" has no code of its own in MediRecords; it is stored as "other".
GENDER_FROM_FHIR = {"female": 1, "male": 2, "other": 3, "unknown": 3}


def patient_resource(patient: Mapping[str, Any], medicare_number: str | None) -> dict[str, Any]:
    given = [name for name in (patient.get("firstName"), patient.get("middleName")) if name]
    telecom: list[dict[str, str]] = []
    if patient.get("email"):
        telecom.append({"system": "email", "value": patient["email"]})
    if patient.get("mobilePhone"):
        telecom.append({"system": "phone", "value": patient["mobilePhone"], "use": "mobile"})
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient["id"],
        "meta": {"lastUpdated": patient["updatedDateTime"]},
    }
    if medicare_number:
        resource["identifier"] = [
            {
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MC"}]},
                "system": MEDICARE_SYSTEM,
                "value": medicare_number,
            }
        ]
    resource["name"] = [{"use": "official", "family": patient["lastName"], "given": given}]
    resource["gender"] = GENDER_TO_FHIR.get(patient["genderCode"], "unknown")
    resource["birthDate"] = patient["dob"]
    if telecom:
        resource["telecom"] = telecom
    return resource


@dataclass(frozen=True)
class PatientChanges:
    """What a PUT of a Patient resource replaces on the stored patient."""

    first_name: str | None
    middle_name: str | None
    last_name: str
    gender: int
    dob: str
    email: str | None
    mobile_phone: str | None
    medicare_number: str | None


def read_patient(resource: Any, patient_id: str) -> tuple[PatientChanges | None, list[str]]:
    """The changes `resource` asks for, or the problems with it (as OperationOutcome diagnostics)."""
    if not isinstance(resource, dict):
        return None, ["the body must be a Patient resource (a JSON object)"]
    problems: list[str] = []
    if resource.get("resourceType") != "Patient":
        problems.append(f"resourceType must be 'Patient', not {resource.get('resourceType')!r}")
    if resource.get("id") != patient_id:
        problems.append(f"id {resource.get('id')!r} does not match the id in the URL ({patient_id})")

    first_name, middle_name, last_name = _names(resource.get("name"), problems)

    raw_gender = resource.get("gender")
    gender = GENDER_FROM_FHIR.get(raw_gender, 0) if isinstance(raw_gender, str) else 0
    if not gender:
        problems.append("gender must be one of female, male, other, unknown")

    birth_date = resource.get("birthDate")
    birth_date_error = birth_date_problem(birth_date)
    if birth_date_error is not None:
        problems.append(f"birthDate {birth_date_error}")

    email, mobile = _telecom(resource.get("telecom"), problems)
    medicare_number = _medicare_number(resource.get("identifier"), problems)

    if problems or last_name is None:
        return None, problems
    return (
        PatientChanges(
            first_name=first_name,
            middle_name=middle_name,
            last_name=last_name,
            gender=gender,
            dob=str(birth_date),
            email=email,
            mobile_phone=mobile,
            medicare_number=medicare_number,
        ),
        problems,
    )


def _names(names: Any, problems: list[str]) -> tuple[str | None, str | None, str | None]:
    """First, middle and family name from `name[0]`."""
    if not isinstance(names, list) or not names or not isinstance(names[0], dict):
        problems.append("name[0] with a family name is required")
        return None, None, None
    name = names[0]
    family = name.get("family")
    if is_blank(family):
        problems.append("name[0].family is required")
        family = None
    given = name.get("given", [])
    if not isinstance(given, list) or not all(isinstance(part, str) for part in given):
        problems.append("name[0].given must be a list of strings")
        given = []
    first = given[0] if given else None
    middle = " ".join(given[1:]) or None
    return first, middle, family


def _telecom(telecom: Any, problems: list[str]) -> tuple[str | None, str | None]:
    """The email address and mobile number; other contact points are not kept."""
    if telecom is None:
        return None, None
    if not isinstance(telecom, list) or not all(isinstance(point, dict) for point in telecom):
        problems.append("telecom must be a list of ContactPoint")
        return None, None
    email = next((point.get("value") for point in telecom if point.get("system") == "email"), None)
    mobile = next(
        (point.get("value") for point in telecom if point.get("system") == "phone" and point.get("use") == "mobile"),
        None,
    )
    if email is not None and email_problem(email) is not None:
        problems.append(f"telecom email {email!r} is not a well-formed email address")
    if mobile is not None and mobile_problem(mobile) is not None:
        problems.append(f"telecom mobile phone {mobile!r} must match ^04\\d{{8}}$")
    return email, mobile


def _medicare_number(identifiers: Any, problems: list[str]) -> str | None:
    if identifiers is None:
        return None
    if not isinstance(identifiers, list) or not all(isinstance(item, dict) for item in identifiers):
        problems.append("identifier must be a list of Identifier")
        return None
    value = next((item.get("value") for item in identifiers if item.get("system") == MEDICARE_SYSTEM), None)
    if value is not None and not isinstance(value, str):
        problems.append("the Medicare identifier's value must be a string")
        return None
    return value
