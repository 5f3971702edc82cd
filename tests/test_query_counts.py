"""The console's busiest pages cost the same number of queries with 10 rows as with 1,000.

A page that runs a query per row (a related object read in a list column) is fast on a test
database and slow on the practice's. Each page is measured with 10 rows of everything, then
again after 990 more: the counts must match, and stay under a ceiling so a page that quietly
grows several constant queries shows too.
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bookings.models import (
    AuditAction,
    AuditEntry,
    Booking,
    BookingKind,
    BookingStatus,
    DeliverySource,
    DeliveryStatus,
    InboundDelivery,
    Patient,
    SyncAttempt,
    SyncOperation,
    SyncOutcome,
    SyncState,
)
from forms_intake.models import FormSubmission, FormType, SubmissionStatus
from practitioners.models import StaffProfile, SubscriptionGap
from tests.practitioners.factories import GraphSubscriptionFactory, PractitionerFactory

pytestmark = pytest.mark.django_db

FEW, MANY = 10, 1000
QUERY_CEILING = 20

PAGES = {
    "index": "admin:index",
    "bookings": "admin:bookings_booking_changelist",
    "patients": "admin:bookings_patient_changelist",
    "form submissions": "admin:forms_intake_formsubmission_changelist",
    "inbound deliveries": "admin:bookings_inbounddelivery_changelist",
    "sync attempts": "admin:bookings_syncattempt_changelist",
    "audit entries": "admin:bookings_auditentry_changelist",
}

# What a practitioner's own login may open of the pages above.
PRACTITIONER_PAGES = ("index", "bookings", "patients", "form submissions", "sync attempts")


@pytest.fixture
def practitioners():
    chosen = [PractitionerFactory(display_order=order) for order in range(4)]
    for practitioner in chosen:
        GraphSubscriptionFactory(practitioner=practitioner, is_healthy=practitioner.display_order != 0)
    return chosen


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(username="root")


@pytest.fixture
def practitioner_login(django_user_model, practitioners):
    user = django_user_model.objects.create_user(username="dr", is_staff=True)
    user.groups.add(Group.objects.get(name="Practitioner"))
    StaffProfile.objects.create(user=user, practitioner=practitioners[0])
    return user


def rows_add(count: int, *, start: int, practitioners, actor) -> None:
    """`count` rows of each listed model, numbered from `start`, over several days and practitioners.

    Bookings fall on four of the practice's days (two days ago, today, tomorrow, in three
    days), so the index's lists grow with them, well past their cut at 1,000 rows. Each has a
    slot of its own: phone bookings may not overlap on PostgreSQL.
    """
    today = timezone.localdate(timezone.now(), ZoneInfo(settings.PRACTICE_TIME_ZONE))
    midnight = datetime.combine(today, time(), tzinfo=ZoneInfo(settings.PRACTICE_TIME_ZONE))
    day_offsets = (-2, 0, 1, 3)

    def slot(number: int) -> datetime:
        return midnight + timedelta(days=day_offsets[number % len(day_offsets)], minutes=5 * (number // 4))

    numbers = range(start, start + count)
    patients = Patient.objects.bulk_create(
        [Patient(first_name="Test", last_name=f"Quantock {number}") for number in numbers]
    )
    sync_states = list(SyncState)
    bookings = Booking.objects.bulk_create(
        [
            Booking(
                practitioner=practitioners[(number // 4) % len(practitioners)],
                patient=patient,
                kind=list(BookingKind)[number % len(BookingKind)],
                starts_at=slot(number),
                ends_at=slot(number) + timedelta(minutes=4),
                status=BookingStatus.CANCELLED if number % 10 == 0 else BookingStatus.BOOKED,
                sync_state=sync_states[number % len(sync_states)],
            )
            for number, patient in zip(numbers, patients, strict=True)
        ]
    )
    submission_states = list(SubmissionStatus)
    FormSubmission.objects.bulk_create(
        [
            FormSubmission(
                submission_id=f"6{number:018d}",
                form_type=list(FormType)[number % len(FormType)],
                jotform_form_id="251234567890123",
                status=submission_states[number % len(submission_states)],
                booking=None if number % 5 == 0 else booking,
                patient=None if number % 5 == 0 else booking.patient,
            )
            for number, booking in zip(numbers, bookings, strict=True)
        ]
    )
    delivery_states = list(DeliveryStatus)
    InboundDelivery.objects.bulk_create(
        [
            InboundDelivery(
                source=list(DeliverySource)[number % len(DeliverySource)],
                delivery_key=f"delivery-{number}",
                body=b"{}",
                status=delivery_states[number % len(delivery_states)],
            )
            for number in numbers
        ]
    )
    SyncAttempt.objects.bulk_create(
        [
            SyncAttempt(
                booking=booking,
                operation=list(SyncOperation)[number % len(SyncOperation)],
                outcome=list(SyncOutcome)[number % len(SyncOutcome)],
                http_status=(200, 201, 422, 503)[number % 4],
            )
            for number, booking in zip(numbers, bookings, strict=True)
        ]
    )
    now = timezone.now()
    SubscriptionGap.objects.bulk_create(
        [
            SubscriptionGap(
                practitioner=practitioners[number % len(practitioners)],
                lost_graph_id=f"lost-{number}",
                deaf_since=now - timedelta(hours=2),
                detected_at=now - timedelta(hours=1),
                recovered_at=None if number % 2 else now,
            )
            for number in numbers
        ]
    )
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(
                actor=actor,
                actor_username=actor.username,
                action=list(AuditAction)[number % len(AuditAction)],
                booking=booking,
                subject=str(booking),
            )
            for number, booking in zip(numbers, bookings, strict=True)
        ]
    )


def queries_per_page(client, pages) -> dict[str, int]:
    counts = {}
    for page in pages:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse(PAGES[page]))
        assert response.status_code == 200, page
        counts[page] = len(queries)
    return counts


@pytest.mark.parametrize(("login", "pages"), [("superuser", tuple(PAGES)), ("practitioner_login", PRACTITIONER_PAGES)])
def test_pages_make_as_many_queries_for_1000_rows_as_for_10(request, client, practitioners, superuser, login, pages):
    user = request.getfixturevalue(login)
    client.force_login(user)
    rows_add(FEW, start=0, practitioners=practitioners, actor=superuser)
    # Process-wide caches (content types, for one) fill on the first visit; measure after it.
    queries_per_page(client, pages)

    few = queries_per_page(client, pages)
    rows_add(MANY - FEW, start=FEW, practitioners=practitioners, actor=superuser)
    many = queries_per_page(client, pages)

    assert many == few
    assert max(many.values()) <= QUERY_CEILING, many
