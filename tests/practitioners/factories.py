import secrets
from datetime import timedelta

import factory
from django.utils import timezone

from practitioners.models import BookingType, GraphSubscription, Practitioner, PractitionerKind, SubscriptionReceiver


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


class GraphSubscriptionFactory(factory.django.DjangoModelFactory[GraphSubscription]):
    """A healthy subscription on the practitioner's default calendar, six days from expiring."""

    class Meta:
        model = GraphSubscription

    practitioner = factory.SubFactory(PractitionerFactory)
    graph_id = factory.Faker("uuid4")
    resource = factory.LazyAttribute(lambda subscription: f"users/{subscription.practitioner.o365_mailbox}/events")
    client_state = factory.LazyFunction(lambda: secrets.token_urlsafe(48))
    receiver = factory.LazyAttribute(
        lambda subscription: (
            SubscriptionReceiver.CONSULTANT
            if subscription.practitioner.booking_type == BookingType.FREE_INITIAL
            else SubscriptionReceiver.PRACTITIONER
        )
    )
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=6))
