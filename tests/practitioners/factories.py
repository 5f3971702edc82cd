import factory

from practitioners.models import BookingType, Practitioner, PractitionerKind


class PractitionerFactory(factory.django.DjangoModelFactory[Practitioner]):
    class Meta:
        model = Practitioner
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"practitioner-{n}")
    display_name = factory.Sequence(lambda n: f"Practitioner {n}")
    kind = PractitionerKind.DOCTOR
    booking_type = BookingType.PAID
    fee = factory.Faker("pydecimal", left_digits=3, right_digits=2, positive=True)
    default_duration_minutes = 45
    o365_mailbox = factory.Sequence(lambda n: f"practitioner{n}@clinic.example.com.au")
    medirecords_provider_id = factory.Faker("uuid4")
    medirecords_appointment_type_id = factory.Faker("uuid4")
