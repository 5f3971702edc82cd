from datetime import UTC, date, datetime, timedelta

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

# Made-up names that are no English word, so that the suite-wide log check cannot mistake an
# ordinary log line ("… the form field …") for a patient's name; two coprime lists give 437
# different people before one repeats, the same in every run.
PATIENT_FIRST_NAMES = (
    "Alinta",
    "Briony",
    "Carys",
    "Delphine",
    "Elowen",
    "Fenella",
    "Gwenllian",
    "Hesper",
    "Isolde",
    "Jessamy",
    "Kerensa",
    "Linnea",
    "Morwenna",
    "Nerys",
    "Oriel",
    "Perpetua",
    "Quenby",
    "Rhiannon",
    "Saoirse",
)
PATIENT_LAST_NAMES = (
    "Abernethy",
    "Blackadder",
    "Cholmondeley",
    "Dunstaple",
    "Ellerby",
    "Fotheringay",
    "Garrowby",
    "Halesworth",
    "Inchbald",
    "Jervoise",
    "Kittredge",
    "Llewellin",
    "Marchbanks",
    "Nettlefold",
    "Ormesher",
    "Pendarves",
    "Quarrington",
    "Rainsford",
    "Sackerson",
    "Thistlewood",
    "Umfreville",
    "Vavasour",
    "Wolstenholme",
)


class PatientFactory(factory.django.DjangoModelFactory[Patient]):
    class Meta:
        model = Patient

    first_name = factory.Sequence(lambda n: PATIENT_FIRST_NAMES[n % len(PATIENT_FIRST_NAMES)])
    last_name = factory.Sequence(lambda n: PATIENT_LAST_NAMES[n % len(PATIENT_LAST_NAMES)])
    # Fixed dates of birth (adults whatever the clock says), not drawn from today's date.
    date_of_birth = factory.Sequence(lambda n: date(1950, 1, 1) + timedelta(days=(n * 97) % 15000))
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
