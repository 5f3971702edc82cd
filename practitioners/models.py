"""Who sees patients, and where each practitioner's calendars live in the other systems."""

from django.db import models


class PractitionerKind(models.TextChoices):
    CONSULTANT = "consultant", "Consultant"
    DOCTOR = "doctor", "Doctor"
    NURSE_PRACTITIONER = "nurse_practitioner", "Nurse practitioner"
    GAPS_COACH = "gaps_coach", "GAPS coach"


class BookingType(models.TextChoices):
    FREE_INITIAL = "free_initial", "Free initial consultation"
    PAID = "paid", "Paid appointment"


class Practitioner(models.Model):
    slug = models.SlugField(unique=True)
    display_name = models.CharField(max_length=100)
    kind = models.CharField(max_length=32, choices=PractitionerKind.choices)
    booking_type = models.CharField(
        max_length=32,
        choices=BookingType.choices,
        help_text="Free initial consultations are booked without payment; paid ones through Stripe.",
    )
    fee = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, help_text="Fee in AUD; empty for free bookings."
    )
    is_active = models.BooleanField(default=True)
    display_order = models.PositiveSmallIntegerField(default=0)
    default_duration_minutes = models.PositiveSmallIntegerField(default=30)

    o365_mailbox = models.CharField(
        "Office 365 mailbox",
        max_length=254,
        blank=True,
        help_text="The mailbox's user id or principal name in Microsoft Graph.",
    )
    o365_calendar_id = models.CharField(
        "Office 365 calendar id", max_length=255, blank=True, help_text="Empty for the mailbox's default calendar."
    )
    calendly_event_type_uri = models.URLField("Calendly event type URI", max_length=255, blank=True)
    calendly_scheduling_url = models.URLField("Calendly scheduling URL", max_length=255, blank=True)
    medirecords_provider_id = models.CharField("MediRecords provider id", max_length=64, blank=True)
    medirecords_appointment_type_id = models.CharField("MediRecords appointment type id", max_length=64, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["display_order", "display_name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=PractitionerKind.values), name="practitioner_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(booking_type__in=BookingType.values), name="practitioner_booking_type_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(default_duration_minutes__gt=0), name="practitioner_duration_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def takes_payment(self) -> bool:
        return self.booking_type == BookingType.PAID
