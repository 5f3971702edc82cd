"""A form opened from the booking email comes back, through JotForm's webhook, to that booking."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from bookings.notifications.messages import patient_email
from forms_intake.models import FormSubmission, SubmissionStatus
from practitioners.models import BookingType, PractitionerKind
from tests.bookings.factories import BookingFactory
from tests.forms_intake.conftest import FULL_FORM_ID, MINI_FORM_ID, SUBMISSION_ID, TRIAGE_FORM_ID, full_intake_with
from tests.forms_intake.test_matching_and_triage import webhook

pytestmark = pytest.mark.django_db(transaction=False)

RECEIVERS = {FULL_FORM_ID: "/forms/full", MINI_FORM_ID: "/forms/mini", TRIAGE_FORM_ID: "/forms/triage"}


@pytest.fixture(autouse=True)
def _form_links(settings):
    settings.FORMS_FULL_URL = f"https://form.jotform.com/{FULL_FORM_ID}"
    settings.FORMS_MINI_URL = f"https://form.jotform.com/{MINI_FORM_ID}"
    settings.FORMS_TRIAGE_URL = f"https://form.jotform.com/{TRIAGE_FORM_ID}"


@pytest.fixture
def earlier_booking(jane_booking):
    """Jane's booking moved to next fortnight, and another of hers sooner: by name and email alone
    a submission would go to the sooner one."""
    jane_booking.starts_at = timezone.now() + timedelta(days=14)
    jane_booking.ends_at = jane_booking.starts_at + timedelta(minutes=30)
    jane_booking.save()
    return BookingFactory(
        patient=jane_booking.patient,
        practitioner=jane_booking.practitioner,
        starts_at=timezone.now() + timedelta(days=3),
    )


def emailed_links(booking) -> list[tuple[str, dict[str, str]]]:
    """The form links in the booking's confirmation email: (form id, pre-filled values)."""
    body = str(patient_email(booking=booking, kind="confirmation", sequence=0).body)
    links = []
    for url in re.findall(r"https://form\.jotform\.com/\S+", body):
        parts = urlsplit(url)
        links.append((parts.path.strip("/"), {name: value for name, [value] in parse_qs(parts.query).items()}))
    return links


def test_the_full_intake_from_the_email_finds_its_booking(
    post_form, jane_booking, earlier_booking, django_capture_on_commit_callbacks
):
    [(form_id, prefilled)] = emailed_links(jane_booking)
    assert form_id == FULL_FORM_ID
    reference = prefilled["bookingReference"]
    assert reference == jane_booking.intake_reference
    body, content_type = full_intake_with(
        q3_fullName={"first": prefilled["fullName[first]"], "last": prefilled["fullName[last]"]},
        q4_email=prefilled["email"],
        q18_bookingReference=reference,
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert post_form(RECEIVERS[form_id], body, content_type).status_code == 200

    submission = FormSubmission.objects.get(submission_id=SUBMISSION_ID)
    assert submission.status == SubmissionStatus.PROCESSED
    assert submission.booking == jane_booking
    # Without the reference the same answers go to the sooner booking: the link decided.
    body, content_type = full_intake_with(q18_bookingReference="")
    body = body.replace(SUBMISSION_ID.encode(), b"6312345678900000000")
    with django_capture_on_commit_callbacks(execute=True):
        post_form(RECEIVERS[form_id], body, content_type)
    assert FormSubmission.objects.get(submission_id="6312345678900000000").booking == earlier_booking


def test_the_consultants_mini_intake_and_triage_from_the_email_find_their_booking(
    post_form, jane_booking, earlier_booking, sandbox_practitioner, django_capture_on_commit_callbacks
):
    jane_booking.practitioner = sandbox_practitioner(
        "consultant", kind=PractitionerKind.CONSULTANT, booking_type=BookingType.FREE_INITIAL, fee=None
    )
    jane_booking.save()

    links = emailed_links(jane_booking)

    assert [form_id for form_id, _ in links] == [MINI_FORM_ID, TRIAGE_FORM_ID]
    for number, (form_id, prefilled) in enumerate(links, start=1):
        answers = {
            "q3_fullName": {"first": prefilled["fullName[first]"], "last": prefilled["fullName[last]"]},
            "q4_email": prefilled["email"],
            "q5_mainConcern": "Fatigue",
            "q9_bookingReference": prefilled["bookingReference"],
        }
        body, content_type = webhook(form_id, f"710000000000000000{number}", answers)
        with django_capture_on_commit_callbacks(execute=True):
            assert post_form(RECEIVERS[form_id], body, content_type).status_code == 200

    submissions = FormSubmission.objects.order_by("submission_id")
    assert [(s.form_type, s.booking) for s in submissions] == [("mini", jane_booking), ("triage", jane_booking)]
