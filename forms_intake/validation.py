"""Checking intake answers, so that only sound values reach MediRecords.

Each check returns the cleaned value or a `Problem` naming the field and why; a problem never
carries the value itself, so it may be shown to any staff member and logged.
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError

from bookings.models import Sex
from bookings.untrusted_input import bidi_controls_strip, email_or_none, text_bounded
from forms_intake.parsing import JSON, answer_text

MEDICARE_WEIGHTS = (1, 3, 7, 9, 1, 3, 7, 9)
EARLIEST_BIRTH = date(1900, 1, 1)

# Australian postcode ranges by state (Australia Post), inclusive.
POSTCODE_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "NSW": ((1000, 2599), (2619, 2899), (2921, 2999)),
    "ACT": ((200, 299), (2600, 2618), (2900, 2920)),
    "VIC": ((3000, 3999), (8000, 8999)),
    "QLD": ((4000, 4999), (9000, 9999)),
    "SA": ((5000, 5999),),
    "WA": ((6000, 6999),),
    "TAS": ((7000, 7999),),
    "NT": ((800, 999),),
}
_STATE_NAMES = {
    "NEW SOUTH WALES": "NSW",
    "AUSTRALIAN CAPITAL TERRITORY": "ACT",
    "VICTORIA": "VIC",
    "QUEENSLAND": "QLD",
    "SOUTH AUSTRALIA": "SA",
    "WESTERN AUSTRALIA": "WA",
    "TASMANIA": "TAS",
    "NORTHERN TERRITORY": "NT",
}
_SEXES = {"female": Sex.FEMALE, "f": Sex.FEMALE, "male": Sex.MALE, "m": Sex.MALE}

# Names go to the patient's record as they are: one too long to store is refused, never cut.
NAME_FIELDS = ("first_name", "last_name")
# Other free text keeps its first TEXT_MAX_LENGTH characters, and the cut is named as a problem.
TEXT_MAX_LENGTH = 500
TEXT_FIELDS = (
    "dva_number",
    "emergency_contact_name",
    "emergency_contact_relationship",
    "medications",
    "allergies",
    "reason",
    "booking_reference",
)


@dataclass(frozen=True)
class Problem:
    field: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


@dataclass(frozen=True)
class AddressValue:
    line1: str
    line2: str
    suburb: str
    state: str
    postcode: str


@dataclass
class CleanIntake:
    """The values that passed their checks (absent ones are None), and the problems found."""

    values: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def get(self, name: str) -> Any:
        return self.values.get(name)


def intake_validate(*, values: JSON, today: date | None = None) -> CleanIntake:
    """Check every mapped answer; valid ones are kept, invalid ones become problems."""
    today = today or datetime.now(tz=ZoneInfo(settings.PRACTICE_TIME_ZONE)).date()
    clean = CleanIntake()

    def check(name: str, checker: Any, *args: Any) -> None:
        if name not in values or not answer_text(values[name]):
            return
        try:
            clean.values[name] = checker(values[name], *args)
        except ValidationError as error:
            clean.problems.append(Problem(name, error.messages[0]))

    for name in NAME_FIELDS:
        check(name, name_clean)
    for name in TEXT_FIELDS:
        if name in values and answer_text(values[name]):
            bounded = text_bounded(answer_text(values[name]), max_length=TEXT_MAX_LENGTH)
            clean.values[name] = bounded.text
            if bounded.truncated:
                clean.problems.append(
                    Problem(
                        name, f"is longer than {TEXT_MAX_LENGTH} characters: only the first {TEXT_MAX_LENGTH} were kept"
                    )
                )
    check("email", email_clean)
    check("mobile", mobile_clean)
    check("emergency_contact_mobile", mobile_clean)
    check("date_of_birth", date_of_birth_clean, today)
    check("sex", sex_clean)
    check("address", address_clean)
    check("medicare_number", medicare_number_clean)
    check("medicare_irn", medicare_irn_clean)
    check("medicare_expiry", medicare_expiry_clean, today)
    for name, value in values.items():
        if name.startswith("triage_") and answer_text(value):
            clean.values[name] = answer_text(value)
    return clean


def name_clean(value: Any) -> str:
    """A name without bidirectional or other control characters, refused (so that staff see it)
    when longer than MediRecords takes: an intake's names go to MediRecords as they are."""
    max_length: int = settings.MEDIRECORDS_NAME_MAX_LENGTH
    name = text_bounded(bidi_controls_strip(answer_text(value)), max_length=max_length)
    if name.truncated:
        raise ValidationError(f"is longer than {max_length} characters")
    return name.text


def email_clean(value: Any) -> str:
    email = email_or_none(answer_text(value))
    if email is None:
        raise ValidationError("is not an email address")
    return email


def mobile_clean(value: Any) -> str:
    """An Australian mobile number in E.164 (+614XXXXXXXX)."""
    text = answer_text(value)
    try:
        number = phonenumbers.parse(text, "AU")
    except phonenumbers.NumberParseException:
        raise ValidationError("is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError("is not a valid phone number")
    if number.country_code != 61 or phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE:
        raise ValidationError("is not an Australian mobile number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def date_of_birth_clean(value: Any, today: date) -> date:
    born = _date_of(value)
    if born is None:
        raise ValidationError("is not a date")
    if born >= today:
        raise ValidationError("is not in the past")
    if born <= EARLIEST_BIRTH:
        raise ValidationError("is before 1900")
    return born


def sex_clean(value: Any) -> str:
    return str(_SEXES.get(answer_text(value).lower(), Sex.OTHER))


def address_clean(value: Any) -> AddressValue:
    """A street address whose postcode lies in its state."""
    if not isinstance(value, dict):
        raise ValidationError("is not an address with separate lines, suburb, state and postcode")
    line1 = str(value.get("addr_line1") or "").strip()
    state = _state_code(str(value.get("state") or ""))
    postcode = re.sub(r"\s", "", str(value.get("postal") or ""))
    if not line1:
        raise ValidationError("has no street line")
    if state is None:
        raise ValidationError("has no Australian state or territory")
    if not re.fullmatch(r"\d{4}", postcode):
        raise ValidationError("has a postcode that is not 4 digits")
    if not postcode_in_state(postcode=postcode, state=state):
        raise ValidationError(f"has a postcode outside {state}")
    return AddressValue(
        line1=line1,
        line2=str(value.get("addr_line2") or "").strip(),
        suburb=str(value.get("city") or "").strip(),
        state=state,
        postcode=postcode,
    )


def postcode_in_state(*, postcode: str, state: str) -> bool:
    number = int(postcode)
    return any(low <= number <= high for low, high in POSTCODE_RANGES.get(state, ()))


def medicare_number_clean(value: Any) -> str:
    """A 10-digit Medicare card number (with its issue number) whose check digit agrees."""
    digits = re.sub(r"[\s-]", "", answer_text(value))
    if not re.fullmatch(r"\d{10}", digits):
        raise ValidationError("is not 10 digits")
    if digits[0] not in "23456":
        raise ValidationError("does not start with 2 to 6")
    check = sum(int(digit) * weight for digit, weight in zip(digits[:8], MEDICARE_WEIGHTS, strict=True)) % 10
    if check != int(digits[8]):
        raise ValidationError("has a check digit that does not match")
    return digits


def medicare_irn_clean(value: Any) -> str:
    irn = answer_text(value)
    if not re.fullmatch(r"[1-9]", irn):
        raise ValidationError("is not a digit from 1 to 9")
    return irn


def medicare_expiry_clean(value: Any, today: date) -> str:
    """The card's expiry as YYYY-MM; this month or later."""
    if isinstance(value, dict):
        month, year = str(value.get("month") or ""), str(value.get("year") or "")
    else:
        parts = re.split(r"[/\-. ]+", answer_text(value))
        month, year = [*parts, "", ""][:2]
        if len(month) == 4:
            month, year = year, month
    if not (month.isdigit() and year.isdigit() and 1 <= int(month) <= 12 and len(year) == 4):
        raise ValidationError("is not a month and year")
    if (int(year), int(month)) < (today.year, today.month):
        raise ValidationError("has passed")
    return f"{int(year):04d}-{int(month):02d}"


def _date_of(value: Any) -> date | None:
    try:
        if isinstance(value, dict):
            return date(int(value["year"]), int(value["month"]), int(value["day"]))
        text = answer_text(value)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
        match = re.fullmatch(r"(\d{1,2})[/\-.](\d{1,2})[/\-.](\d{4})", text)
        if match:
            day, month, year = (int(part) for part in match.groups())
            return date(year, month, day)
    except (KeyError, TypeError, ValueError):
        return None
    return None


def _state_code(text: str) -> str | None:
    upper = " ".join(text.upper().split())
    if upper in POSTCODE_RANGES:
        return upper
    return _STATE_NAMES.get(upper)
