"""The intake form links a patient is sent for a booking, pre-filled so a submission finds it.

Each link is the form's public JotForm URL with the patient's name and email and the
booking's `intake_reference` in the query string. JotForm fills a question from the query
parameter named after the question's unique name (`fullName[first]` for a Full Name field);
the names below are the questions the forms are matched on (forms_intake/definitions.py).
"""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings

from bookings.models import Booking
from practitioners.models import BookingType, PractitionerKind

# JotForm question names: the booking reference is a hidden field the submission is matched on.
PREFILL_FIRST_NAME = "fullName[first]"
PREFILL_LAST_NAME = "fullName[last]"
PREFILL_EMAIL = "email"
PREFILL_BOOKING_REFERENCE = "bookingReference"


@dataclass(frozen=True)
class IntakeLink:
    title: str
    url: str


def intake_links(*, booking: Booking) -> list[IntakeLink]:
    """The forms to fill in before the appointment, in the order to fill them in.

    A free initial consultation asks for the mini intake, a paid appointment for the full
    one; the consultant's appointment asks for the triage questionnaire as well.
    """
    practitioner = booking.practitioner
    if practitioner.booking_type == BookingType.FREE_INITIAL:
        forms = [("Mini patient intake form", settings.FORMS_MINI_URL)]
    else:
        forms = [("Full patient intake form", settings.FORMS_FULL_URL)]
    if practitioner.kind == PractitionerKind.CONSULTANT:
        forms.append(("Triage questionnaire", settings.FORMS_TRIAGE_URL))
    query = urlencode(_prefill(booking))
    return [IntakeLink(title=title, url=_with_query(url, query)) for title, url in forms]


def _prefill(booking: Booking) -> dict[str, str]:
    patient = booking.patient
    values = {
        PREFILL_FIRST_NAME: patient.first_name if patient else "",
        PREFILL_LAST_NAME: patient.last_name if patient else "",
        PREFILL_EMAIL: patient.email if patient else "",
        PREFILL_BOOKING_REFERENCE: booking.intake_reference,
    }
    # What we do not know is left out, for the patient to type.
    return {name: value for name, value in values.items() if value}


def _with_query(url: str, query: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{query}"
