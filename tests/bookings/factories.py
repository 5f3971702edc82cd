from datetime import UTC, datetime, timedelta

import factory

from bookings.models import (
    Booking,
    BookingKind,
    DeliverySource,
    InboundDelivery,
    Patient,
    PaymentStatus,
    Sex,
)
from tests.practitioners.factories import PractitionerFactory


class PatientFactory(factory.django.DjangoModelFactory[Patient]):
    class Meta:
        model = Patient

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = factory.Faker("date_of_birth", minimum_age=18, maximum_age=90)
    sex = Sex.FEMALE
    email = factory.Sequence(lambda n: f"patient{n}@example.com.au")
    mobile = factory.Sequence(lambda n: f"+614{n:08d}")


class BookingFactory(factory.django.DjangoModelFactory[Booking]):
    class Meta:
        model = Booking

    practitioner = factory.SubFactory(PractitionerFactory)
    patient = factory.SubFactory(PatientFactory)
    kind = BookingKind.PAID
    starts_at = factory.Sequence(lambda n: datetime(2026, 12, 3, 23, 30, tzinfo=UTC) + timedelta(hours=n))
    ends_at = factory.LazyAttribute(lambda booking: booking.starts_at + timedelta(minutes=45))
    payment_status = PaymentStatus.PAID
    o365_event_id = factory.Sequence(lambda n: f"AAMkEvent{n}=")


class InboundDeliveryFactory(factory.django.DjangoModelFactory[InboundDelivery]):
    class Meta:
        model = InboundDelivery

    source = DeliverySource.STRIPE
    delivery_key = factory.Sequence(lambda n: f"evt_{n:024d}")
    body = b'{"id": "evt_test"}'
    headers = factory.LazyFunction(lambda: {"Content-Type": "application/json"})


class PhoneBookingFactory(BookingFactory):
    """A booking staff made by phone: no calendar event behind it, paid at the clinic."""

    kind = BookingKind.PHONE
    payment_status = PaymentStatus.PAY_AT_CLINIC
    o365_event_id = factory.Sequence(lambda n: "")
