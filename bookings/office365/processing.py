"""An Office 365 change notification, from the inbox to our booking: fetch the event, apply it.

A notification only says that something changed, and Graph sends several for one change,
late and in any order. So the notification's own content is never trusted beyond its ids:
the event is fetched again and its current state applied, which makes every repeat and
every reordering land on the same booking.

`booking_upsert_from_event` makes our booking agree with an Office 365 event's current
state, however often, late or out of order that state reaches us:

- the booking is found by the event id, or by the iCalUId when Graph gave the same event a
  new id, and its row is locked while it changes, so two workers cannot interleave;
- a cancelled booking stays cancelled: cancellation is final, a late `created` or `updated`
  cannot bring it back;
- an event version older than the one already applied (`lastModifiedDateTime`) changes
  nothing, so a slow worker cannot undo a newer change;
- every change that MediRecords and the patient should hear about goes to `booking_changed`,
  once, after commit; a repeat that changes nothing requests nothing.

`graph_change_delivery_handle` is the inbox's handler for Graph change deliveries (registered
from `BookingsConfig.ready`); it uses the process's configured Graph client.
"""

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from bookings.changes import booking_changed
from bookings.descriptions import normalised_name
from bookings.inbox.deliveries import DeliveryIgnoredError
from bookings.models import Booking, BookingKind, BookingStatus, InboundDelivery, Patient, PaymentStatus
from bookings.office365.events import (
    BookingDetails,
    EventIdentity,
    EventNotABookingError,
    PatientDetails,
    event_booking_read,
    event_identity_read,
)
from bookings.selectors import booking_for_event
from practitioners import clients
from practitioners.graph.client import GraphClient, GraphNotFoundError, events_resource_parse, is_item_gone
from practitioners.models import BookingType, GraphSubscription, Practitioner
from practitioners.selectors import graph_subscription_get

logger = logging.getLogger("clinic.graph")


class BookingChange(StrEnum):
    CREATED = "created"
    RESCHEDULED = "rescheduled"
    UPDATED = "updated"
    CANCELLED = "cancelled"
    UNCHANGED = "unchanged"
    ALREADY_CANCELLED = "already_cancelled"
    STALE = "stale"


@dataclass(frozen=True)
class BookingResult:
    booking: Booking
    change: BookingChange


# Patient fields a booking may fill in; it never clears or overwrites one (the intake forms
# and staff correct them, and a later event update must not undo that).
PATIENT_FIELDS = ("first_name", "last_name", "email", "mobile", "date_of_birth")


def graph_change_delivery_handle(delivery: InboundDelivery) -> None:
    graph_notification_process(notification=delivery_notification(delivery), client=clients.graph_client())


def delivery_notification(delivery: InboundDelivery) -> dict[str, Any]:
    """The Graph notification a delivery stored, as Graph sent it."""
    notification: dict[str, Any] = json.loads(bytes(delivery.body))
    return notification


IGNORED_OUTCOMES = {
    BookingChange.ALREADY_CANCELLED: "the booking is cancelled, and cancellation is final",
    BookingChange.STALE: "a newer version of the event has already been applied",
}


def graph_notification_process(
    *, notification: Mapping[str, Any], client: GraphClient, now: datetime | None = None
) -> BookingResult:
    """Apply the change a stored notification announces to the practitioner's booking.

    Raises DeliveryIgnoredError, saying why, when there is nothing to do; lets Graph's errors
    through (the inbox marks the delivery failed and the sweep tries again later).
    """
    subscription = subscription_of(notification)
    practitioner = subscription.practitioner
    event_id = str(notification["resourceData"]["id"])
    if notification.get("changeType") == "deleted":
        return _booking_cancel(practitioner=practitioner, event_id=event_id, now=now)
    reason_not_to_fetch = _reason_not_to_fetch(
        practitioner=practitioner, event_id=event_id, etag=str(notification["resourceData"].get("@odata.etag", ""))
    )
    if reason_not_to_fetch:
        raise DeliveryIgnoredError(reason_not_to_fetch)

    try:
        result = graph_event_apply(subscription=subscription, event_id=event_id, client=client, now=now)
    except EventNotABookingError as reason:
        raise DeliveryIgnoredError(f"not a patient's booking: {reason}") from None
    if result is None:
        raise DeliveryIgnoredError("no booking for this event")
    return _result_check(result)


def graph_event_apply(
    *, subscription: GraphSubscription, event_id: str, client: GraphClient, now: datetime | None = None
) -> BookingResult | None:
    """Make the booking for event `event_id` agree with the event as Graph has it now.

    The event is fetched from the calendar the subscription watches. Only Graph saying the
    event itself does not exist cancels its booking (None when it had none); a 404 about the
    mailbox or user goes through with Graph's other errors, so the delivery fails where
    staff can see it instead of cancelling bookings. Raises EventNotABookingError for an event
    that is not a patient's booking.
    """
    practitioner = subscription.practitioner
    mailbox, calendar_id = subscription_calendar(subscription)
    try:
        event = client.event_get(mailbox=mailbox, event_id=event_id, calendar_id=calendar_id)
    except GraphNotFoundError as error:
        if not is_item_gone(error):
            raise
        # Deleted since the change was announced: the deletion is the current state.
        return booking_cancel_for_event(practitioner=practitioner, event_id=event_id, now=now)
    return booking_upsert_from_event(practitioner=practitioner, event=event, now=now)


def subscription_calendar(subscription: GraphSubscription) -> tuple[str, str]:
    """(mailbox, calendar id or "") of the calendar the subscription watches.

    Read from the subscription's resource, which names the calendar Graph tells us about even
    after the practitioner's mailbox or calendar is changed; the practitioner's fields serve
    only when the resource is not one we recognise.
    """
    parsed = events_resource_parse(subscription.resource)
    if parsed is not None:
        return parsed
    practitioner = subscription.practitioner
    if not practitioner.o365_mailbox:
        raise ValueError(f"practitioner #{practitioner.pk} has no Office 365 mailbox to read the event from")
    return practitioner.o365_mailbox, practitioner.o365_calendar_id


def subscription_of(notification: Mapping[str, Any]) -> GraphSubscription:
    """The subscription a stored notification came through, or DeliveryIgnoredError if it is gone."""
    subscription = graph_subscription_get(graph_id=str(notification.get("subscriptionId", "")))
    if subscription is None:
        raise DeliveryIgnoredError("the subscription is no longer known")
    return subscription


def _reason_not_to_fetch(*, practitioner: Practitioner, event_id: str, etag: str) -> str:
    """Why the event need not be fetched at all, or "" when it must be.

    A cancelled booking stays cancelled whatever the event says, and a booking that already
    shows this version of the event (Graph often announces one change as both `created` and
    `updated`, and replays repeat it) would not change. Each fetch spared counts against
    Graph's throttling.
    """
    booking = booking_for_event(practitioner=practitioner, event_id=event_id)
    if booking is None:
        return ""
    if booking.status == BookingStatus.CANCELLED:
        return IGNORED_OUTCOMES[BookingChange.ALREADY_CANCELLED]
    if etag and booking.o365_etag == etag:
        return "this version of the event is already applied"
    return ""


def _booking_cancel(*, practitioner: Practitioner, event_id: str, now: datetime | None) -> BookingResult:
    result = booking_cancel_for_event(practitioner=practitioner, event_id=event_id, now=now)
    if result is None:
        raise DeliveryIgnoredError("no booking for this event")
    return _result_check(result)


def _result_check(result: BookingResult) -> BookingResult:
    logger.info("booking applied", extra={"booking_id": result.booking.pk, "change": result.change.value})
    if result.change in IGNORED_OUTCOMES:
        raise DeliveryIgnoredError(IGNORED_OUTCOMES[result.change])
    return result


def booking_upsert_from_event(
    *, practitioner: Practitioner, event: Mapping[str, Any], now: datetime | None = None
) -> BookingResult:
    """Create, move, update or cancel the practitioner's booking for this event.

    `event` is the event as Graph returns it (UTC times). Raises EventNotABookingError, with the
    reason, for an event that is not a patient's booking and has none to cancel.
    """
    now = now or timezone.now()
    identity = event_identity_read(event)
    if identity.is_cancelled:
        result = booking_cancel_for_event(
            practitioner=practitioner, event_id=identity.event_id, ical_uid=identity.ical_uid, now=now
        )
        if result is None:
            raise EventNotABookingError("a cancelled event with no booking")
        return result

    today = timezone.localdate(now, ZoneInfo(settings.PRACTICE_TIME_ZONE))
    details = event_booking_read(event, mailbox=practitioner.o365_mailbox, today=today)
    with transaction.atomic():
        booking = _booking_lock(practitioner=practitioner, event_id=identity.event_id, ical_uid=identity.ical_uid)
        if booking is None:
            created = _booking_create(practitioner=practitioner, identity=identity, details=details)
            if created is not None:
                booking_changed(booking_id=created.pk)
                return BookingResult(created, BookingChange.CREATED)
            # Another worker created it a moment ago; its row is committed and ours to update.
            booking = _booking_lock(practitioner=practitioner, event_id=identity.event_id, ical_uid=identity.ical_uid)
            if booking is None:
                raise RuntimeError("the booking for this event was neither created nor found")
        return _booking_update(booking, identity=identity, details=details, now=now)


@transaction.atomic
def booking_cancel_for_event(
    *, practitioner: Practitioner, event_id: str, ical_uid: str = "", now: datetime | None = None
) -> BookingResult | None:
    """Cancel the practitioner's booking for this event; None when there is no such booking.

    Only the practitioner's own bookings are looked at, so a notification from one calendar
    can never cancel another's booking. An empty event id cancels nothing.
    """
    if not event_id:
        return None
    booking = _booking_lock(practitioner=practitioner, event_id=event_id, ical_uid=ical_uid)
    if booking is None:
        return None
    if booking.status == BookingStatus.CANCELLED:
        return BookingResult(booking, BookingChange.ALREADY_CANCELLED)
    booking.status = BookingStatus.CANCELLED
    booking.cancelled_at = now or timezone.now()
    booking.save(update_fields=["status", "cancelled_at", "updated_at"])
    booking_changed(booking_id=booking.pk)
    return BookingResult(booking, BookingChange.CANCELLED)


def patient_find_or_create(*, details: PatientDetails) -> tuple[Patient, bool]:
    """The patient these details describe, or a new one; and whether it changed.

    Family members often share one email address, so the email is not enough: the first and
    last names must agree too (ignoring case, spacing and accents) and, when both sides know
    it, the date of birth. When in doubt a new patient is made: two records of one person are
    merged by staff, but one record of two people mixes their health data. An existing
    patient only gains the details it lacks. Matching to MediRecords' record is the sync's
    job, not this one's.
    """
    # No email (none given, or one refused as invalid): a name alone may be anyone's.
    candidates = Patient.objects.filter(email__iexact=details.email).order_by("pk") if details.email else []
    patient = next((candidate for candidate in candidates if patient_is_described(candidate, details)), None)
    if patient is None:
        patient = Patient.objects.create(**{name: getattr(details, name) for name in PATIENT_FIELDS})
        return patient, True
    return patient, patient_blanks_fill(patient=patient, details=details)


def patient_is_described(patient: Patient, details: PatientDetails) -> bool:
    """Whether `details` describe this patient: same email, names and, when both have one, date of birth."""
    if patient.email.strip().casefold() != details.email.strip().casefold():
        return False
    if normalised_name(patient.first_name) != normalised_name(details.first_name):
        return False
    if normalised_name(patient.last_name) != normalised_name(details.last_name):
        return False
    return (
        patient.date_of_birth is None or details.date_of_birth is None or patient.date_of_birth == details.date_of_birth
    )


def patient_blanks_fill(*, patient: Patient, details: PatientDetails) -> bool:
    """Fill the patient's empty fields from `details`; returns whether any was filled."""
    filled = [
        name
        for name in PATIENT_FIELDS
        if getattr(details, name) not in ("", None) and getattr(patient, name) in ("", None)
    ]
    for name in filled:
        setattr(patient, name, getattr(details, name))
    if filled:
        patient.save(update_fields=[*filled, "updated_at"])
    return bool(filled)


def _booking_lock(*, practitioner: Practitioner, event_id: str, ical_uid: str) -> Booking | None:
    """The practitioner's booking for this event, its row locked until the transaction ends.

    The event id decides; the iCalUId finds the booking when Graph gave the event a new id.
    An empty event id finds nothing: every booking without an event shares it.
    """
    if not event_id:
        return None
    matches = Q(o365_event_id=event_id)
    if ical_uid:
        matches |= Q(o365_ical_uid=ical_uid)
    candidates = list(
        Booking.objects.select_for_update(of=("self",))
        .select_related("patient")
        .filter(matches, practitioner=practitioner)
        .order_by("pk")
    )
    by_event_id = [booking for booking in candidates if booking.o365_event_id == event_id]
    return next(iter(by_event_id or candidates), None)


def _booking_create(*, practitioner: Practitioner, identity: EventIdentity, details: BookingDetails) -> Booking | None:
    """A new booking for the event, or None if another worker's booking for it got there first."""
    free = practitioner.booking_type == BookingType.FREE_INITIAL
    try:
        with transaction.atomic():
            patient, _ = patient_find_or_create(details=details.patient)
            return Booking.objects.create(
                practitioner=practitioner,
                patient=patient,
                kind=BookingKind.FREE_INITIAL if free else BookingKind.PAID,
                payment_status=PaymentStatus.NOT_REQUIRED if free else PaymentStatus.PENDING,
                starts_at=details.starts_at,
                ends_at=details.ends_at,
                reason=details.reason,
                o365_event_id=identity.event_id,
                o365_ical_uid=_ical_uid_if_free(identity.ical_uid, practitioner=practitioner),
                o365_etag=identity.etag,
                o365_modified_at=identity.modified_at,
                calendly_cancel_url=details.cancel_url,
                calendly_reschedule_url=details.reschedule_url,
                intake_warnings=list(details.warnings),
            )
    except IntegrityError:
        return None


def _booking_update(
    booking: Booking, *, identity: EventIdentity, details: BookingDetails, now: datetime
) -> BookingResult:
    if booking.status == BookingStatus.CANCELLED:
        return BookingResult(booking, BookingChange.ALREADY_CANCELLED)
    if identity.modified_at and booking.o365_modified_at and identity.modified_at < booking.o365_modified_at:
        return BookingResult(booking, BookingChange.STALE)

    patient, patient_changed = _booking_patient(booking, details=details.patient)
    moved = (booking.starts_at, booking.ends_at) != (details.starts_at, details.ends_at)
    wanted: dict[str, Any] = {
        # What MediRecords hears about.
        "patient": patient,
        "starts_at": details.starts_at,
        "ends_at": details.ends_at,
        "reason": details.reason or booking.reason,
        # Our own bookkeeping.
        "o365_event_id": identity.event_id,
        "o365_etag": identity.etag or booking.o365_etag,
        "o365_modified_at": identity.modified_at or booking.o365_modified_at,
        "calendly_cancel_url": details.cancel_url or booking.calendly_cancel_url,
        "calendly_reschedule_url": details.reschedule_url or booking.calendly_reschedule_url,
        "intake_warnings": list(details.warnings),
    }
    if not booking.o365_ical_uid:
        wanted["o365_ical_uid"] = _ical_uid_if_free(identity.ical_uid, practitioner=booking.practitioner)
    changed = [name for name, value in wanted.items() if getattr(booking, name) != value]
    for name in changed:
        setattr(booking, name, wanted[name])
    if moved:
        booking.rescheduled_at = now
        booking.reschedule_count += 1
        changed += ["rescheduled_at", "reschedule_count"]
    if changed:
        booking.save(update_fields=[*changed, "updated_at"])

    if moved:
        change = BookingChange.RESCHEDULED
    elif patient_changed or {"patient", "reason"} & set(changed):
        change = BookingChange.UPDATED
    else:
        return BookingResult(booking, BookingChange.UNCHANGED)
    booking_changed(booking_id=booking.pk)
    return BookingResult(booking, change)


def _booking_patient(booking: Booking, *, details: PatientDetails) -> tuple[Patient, bool]:
    """The booking's patient while the event's attendee is still them, else the attendee's patient.

    A patient whose record staff have corrected stays on the booking while the email still
    matches, but only gains details when the event still describes the same person: a
    relative sharing the address must not fill in their blanks.
    """
    current = booking.patient
    if current is not None and current.email.strip().casefold() == details.email.strip().casefold():
        filled = (
            patient_blanks_fill(patient=current, details=details) if patient_is_described(current, details) else False
        )
        return current, filled
    return patient_find_or_create(details=details)


def _ical_uid_if_free(ical_uid: str, *, practitioner: Practitioner) -> str:
    """The iCalUId, unless another practitioner's booking holds it (the same meeting seen
    from two practitioners' calendars); then the event id alone identifies this booking."""
    if ical_uid and Booking.objects.filter(o365_ical_uid=ical_uid).exclude(practitioner=practitioner).exists():
        return ""
    return ical_uid
