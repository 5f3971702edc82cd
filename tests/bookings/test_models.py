from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from bookings.models import Booking, InboundDelivery
from tests.bookings.factories import BookingFactory, InboundDeliveryFactory, PatientFactory
from tests.practitioners.factories import PractitionerFactory

pytestmark = pytest.mark.django_db

BOOKING_EXTERNAL_IDS = [
    ("o365_event_id", "AAMkAGI1AAAt9AHjAAA="),
    ("o365_ical_uid", "040000008200E00074C5B7101A82E008"),
    ("calendly_invitee_uri", "https://api.calendly.com/scheduled_events/GBGB/invitees/AAAA"),
    ("stripe_payment_id", "ch_3QxYzAbCdEfGhIjK1aBcDeFg"),
    ("medirecords_appointment_id", "4c1f7e9a-0000-4000-8000-000000000001"),
]


def test_every_factory_makes_a_valid_saved_row():
    for factory in (PractitionerFactory, PatientFactory, BookingFactory, InboundDeliveryFactory):
        instance = factory()
        instance.full_clean()
        assert instance.pk is not None


@pytest.mark.parametrize(("field_name", "value"), BOOKING_EXTERNAL_IDS)
def test_a_booking_external_id_is_unique_when_set(field_name, value):
    BookingFactory(**{field_name: value})
    with pytest.raises(IntegrityError), transaction.atomic():
        BookingFactory(**{field_name: value})


@pytest.mark.parametrize(("field_name", "value"), BOOKING_EXTERNAL_IDS)
def test_many_bookings_may_leave_an_external_id_empty(field_name, value):
    defaults = {"o365_event_id": ""} if field_name != "o365_event_id" else {}
    first = BookingFactory(**{field_name: ""}, **defaults)
    second = BookingFactory(**{field_name: ""}, **defaults)

    assert set(Booking.objects.filter(**{field_name: ""}).values_list("pk", flat=True)) == {first.pk, second.pk}


def test_a_medirecords_patient_id_belongs_to_one_patient():
    PatientFactory(medirecords_patient_id="0b9d2b6e-1111-4000-8000-000000000001")
    PatientFactory(medirecords_patient_id="")
    PatientFactory(medirecords_patient_id="")
    with pytest.raises(IntegrityError), transaction.atomic():
        PatientFactory(medirecords_patient_id="0b9d2b6e-1111-4000-8000-000000000001")


def test_a_delivery_key_is_unique_per_source():
    InboundDeliveryFactory(source="stripe", delivery_key="evt_1")
    InboundDeliveryFactory(source="calendly", delivery_key="evt_1")
    with pytest.raises(IntegrityError), transaction.atomic():
        InboundDelivery.objects.create(source="stripe", delivery_key="evt_1", body=b"")


def test_a_booking_cannot_end_before_it_starts():
    booking = BookingFactory.build()
    booking.ends_at = booking.starts_at - timedelta(minutes=1)
    booking.practitioner.save()
    booking.patient.save()
    with pytest.raises(IntegrityError), transaction.atomic():
        booking.save()


def test_a_mobile_must_be_e164():
    patient = PatientFactory.build(mobile="0412 345 678")
    with pytest.raises(ValidationError) as raised:
        patient.full_clean()
    assert "mobile" in raised.value.message_dict
