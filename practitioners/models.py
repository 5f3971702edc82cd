"""Who sees patients, and where each practitioner's calendars live in the other systems."""

from django.conf import settings
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


class SubscriptionReceiver(models.TextChoices):
    """Which of our notification URLs a subscription points at."""

    CONSULTANT = "consultant", "Consultant (free initial consultations)"
    PRACTITIONER = "practitioner", "Practitioners (paid bookings)"


class GraphSubscription(models.Model):
    """A Microsoft Graph change-notification subscription on one practitioner's calendar.

    `client_state` is the secret Graph echoes in every notification; a notification whose
    subscription or secret we do not recognise is discarded unread.
    """

    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="graph_subscriptions")
    graph_id = models.CharField("Graph subscription id", max_length=64, unique=True)
    resource = models.CharField(max_length=255)
    client_state = models.CharField(max_length=128)
    receiver = models.CharField(max_length=16, choices=SubscriptionReceiver.choices)
    expires_at = models.DateTimeField()
    last_renewed_at = models.DateTimeField(null=True, blank=True)
    renewal_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    is_healthy = models.BooleanField(default=True)
    delta_link = models.TextField(blank=True, help_text="Where the next calendar resync continues from.")
    resync_requested_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when notifications may have been missed (the subscription had to be recreated); "
        "the calendar is read again and this is cleared.",
    )
    calendar_imported_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the calendar's events up to the resync horizon were last read in full and applied: "
        "done once a calendar is first subscribed, and again whenever a resync has to start over.",
    )
    last_seen_on_graph_at = models.DateTimeField(
        "last seen on Graph",
        null=True,
        blank=True,
        help_text="When Graph last listed this subscription (checked at start and every hour).",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["expires_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(receiver__in=SubscriptionReceiver.values), name="graph_subscription_receiver_valid"
            ),
            # One calendar, one subscription: two would deliver every change twice and leave
            # one of them unrenewed. Upkeep passes also take `SubscriptionUpkeepLease` first.
            models.UniqueConstraint(fields=["practitioner"], name="graph_subscription_one_per_practitioner"),
        ]

    def __str__(self) -> str:
        return f"Graph subscription for {self.practitioner}"


class SubscriptionGap(models.Model):
    """A time a calendar was deaf: Graph no longer had its subscription and nothing was notified.

    Opened when the upkeep finds the subscription gone from Graph; closed once a new
    subscription watches the calendar and a resync has applied what changed meanwhile.
    """

    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="subscription_gaps")
    lost_graph_id = models.CharField("lost Graph subscription id", max_length=64)
    deaf_since = models.DateTimeField(help_text="The last time Graph was known to hold the subscription.")
    detected_at = models.DateTimeField(help_text="When the upkeep found it gone and subscribed again.")
    recovered_at = models.DateTimeField(
        null=True, blank=True, help_text="When the calendar's changes since were read and applied."
    )

    class Meta:
        ordering = ["-detected_at"]
        indexes = [models.Index(fields=["-detected_at"], name="subscription_gap_detected")]

    def __str__(self) -> str:
        return f"Calendar of {self.practitioner} deaf since {self.deaf_since:%Y-%m-%d %H:%M}"


class SubscriptionUpkeepLease(models.Model):
    """Who may create, renew or delete subscriptions now: one upkeep pass at a time.

    A lease is a time taken by one atomic UPDATE (no transaction held across Graph calls);
    a process that dies leaves a lease that simply runs out.
    """

    name = models.CharField(max_length=32, unique=True)
    held_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Upkeep lease {self.name}"


class StaffProfile(models.Model):
    """What a staff login is beyond its user: at most one practitioner whose rows it may see.

    A login with the Practitioner or Consultant role sees only its practitioner's bookings
    and patients; without a practitioner it sees none.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile")
    practitioner = models.ForeignKey(
        Practitioner,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff_profiles",
        help_text="The practitioner this login belongs to, if it is a practitioner's own login.",
    )

    class Meta:
        verbose_name = "staff profile"

    def __str__(self) -> str:
        return f"Staff profile of {self.user}"
