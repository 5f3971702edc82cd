"""Keeping every active practitioner's calendar subscribed to Graph change notifications.

Outlook subscriptions live at most a week and Graph deletes one that is not renewed in time,
so beat renews them well before they expire; a failure is counted on the row and shown in
admin, and a subscription Graph no longer has is created again. Every function takes the
Graph client and, where time matters, `now`, so tests can hand in a fake and a frozen clock.
"""

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from practitioners.graph import GraphClient, GraphError, GraphNotFound, is_transient
from practitioners.models import BookingType, GraphSubscription, Practitioner, SubscriptionReceiver

logger = logging.getLogger("clinic.graph.subscriptions")

# 48 random bytes: 64 URL-safe characters, within Graph's 128-character limit for clientState.
CLIENT_STATE_BYTES = 48
LAST_ERROR_MAX = 500


class RenewOutcome(StrEnum):
    RENEWED = "renewed"
    REAUTHORIZED = "reauthorized"
    # Graph no longer had the subscription; a new one replaced it.
    RECREATED = "recreated"
    # May succeed if tried again later (throttling, Graph or network trouble).
    FAILED_TRANSIENT = "failed_transient"
    # Will fail the same way until someone changes the configuration or permissions.
    FAILED = "failed"


@dataclass(frozen=True)
class SubscriptionTarget:
    """What a practitioner's subscription watches and where Graph sends the notifications."""

    resource: str
    receiver: SubscriptionReceiver
    notification_url: str
    lifecycle_notification_url: str


@dataclass
class SyncReport:
    """What a pass over the subscriptions did, by practitioner slug (or Graph id for strays)."""

    created: list[str] = field(default_factory=list)
    renewed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    # Some failure may go away if the pass is run again soon.
    retry_later: bool = False

    def failure_add(self, label: str, error: GraphError) -> None:
        self.failed.append((label, _error_text(error)))
        self.retry_later = self.retry_later or is_transient(error)

    def counts(self) -> dict[str, int]:
        return {
            "created": len(self.created),
            "renewed": len(self.renewed),
            "deleted": len(self.deleted),
            "failed": len(self.failed),
        }


# --- Where a subscription points ------------------------------------------------------


def graph_subscription_target(*, practitioner: Practitioner) -> SubscriptionTarget | None:
    """The subscription the practitioner should have, or None without an Office 365 mailbox.

    Free initial consultations arrive at the consultant's URL, paid bookings at the
    practitioners' URL; lifecycle notifications for both at one URL.
    """
    if not practitioner.o365_mailbox:
        return None
    resource = f"users/{practitioner.o365_mailbox}"
    if practitioner.o365_calendar_id:
        resource += f"/calendars/{practitioner.o365_calendar_id}"
    receiver = (
        SubscriptionReceiver.CONSULTANT
        if practitioner.booking_type == BookingType.FREE_INITIAL
        else SubscriptionReceiver.PRACTITIONER
    )
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return SubscriptionTarget(
        resource=f"{resource}/events",
        receiver=receiver,
        notification_url=f"{base}/booking/{receiver.value}",
        lifecycle_notification_url=f"{base}/booking/lifecycle",
    )


# --- One subscription -----------------------------------------------------------------


def graph_subscription_create(
    *, practitioner: Practitioner, client: GraphClient, now: datetime | None = None, delta_link: str = ""
) -> GraphSubscription:
    """Subscribe to the practitioner's calendar and keep the subscription and its secret.

    `delta_link` carries a calendar resync's position over to the new subscription.
    """
    opened = _subscription_open(practitioner=practitioner, client=client, now=now or timezone.now())
    return _subscription_store(opened, delta_link=delta_link)


def graph_subscription_renew(
    *, subscription: GraphSubscription, client: GraphClient, now: datetime | None = None
) -> RenewOutcome:
    """Push the subscription's expiry a full lifetime ahead.

    A subscription Graph no longer has is replaced by a new one. Any other failure is
    counted on the row (shown unhealthy after GRAPH_SUBSCRIPTION_UNHEALTHY_AFTER_FAILURES in a
    row, or at once if it has already expired) and returned as an outcome rather than raised,
    so one failure does not stop a pass over the others; the caller decides on retrying.
    """
    now = now or timezone.now()
    wanted_expiry = now + _lifetime()
    try:
        answer = client.subscription_renew(subscription_id=subscription.graph_id, expires_at=wanted_expiry)
    except GraphNotFound:
        return _recreated(subscription=subscription, client=client, now=now)
    except GraphError as error:
        _failure_record(subscription, error=error, now=now)
        return _failed(error)
    subscription.expires_at = _expiry(answer, default=wanted_expiry)
    _health_restore(subscription, now=now)
    subscription.save(
        update_fields=["expires_at", "last_renewed_at", "renewal_failures", "last_error", "is_healthy", "updated_at"]
    )
    return RenewOutcome.RENEWED


def graph_subscription_reauthorize(
    *, subscription: GraphSubscription, client: GraphClient, now: datetime | None = None
) -> RenewOutcome:
    """Answer a `reauthorizationRequired` lifecycle notification.

    Reauthorizing is the direct answer; a renewal also reauthorizes, so it is the fallback
    when reauthorizing fails. A subscription Graph no longer has is replaced.
    """
    now = now or timezone.now()
    try:
        client.subscription_reauthorize(subscription_id=subscription.graph_id)
    except GraphNotFound:
        return _recreated(subscription=subscription, client=client, now=now)
    except GraphError as error:
        logger.warning(
            "graph subscription reauthorize failed; renewing instead",
            extra={"subscription_id": subscription.graph_id, "error": _error_text(error)},
        )
        return graph_subscription_renew(subscription=subscription, client=client, now=now)
    _health_restore(subscription, now=now)
    subscription.save(update_fields=["last_renewed_at", "renewal_failures", "last_error", "is_healthy", "updated_at"])
    return RenewOutcome.REAUTHORIZED


def graph_subscription_replace(
    *, subscription: GraphSubscription, client: GraphClient, now: datetime | None = None
) -> GraphSubscription:
    """A new subscription for the same practitioner in place of `subscription`.

    For a `subscriptionRemoved` lifecycle notification and for the admin's "recreate". The
    new one is created before the old one goes, so the calendar is never unwatched; the old
    delta link moves to the new row so the resync continues where it was. A failure is
    recorded on the old row and raised.
    """
    now = now or timezone.now()
    practitioner = subscription.practitioner
    old_graph_id = subscription.graph_id
    try:
        opened = _subscription_open(practitioner=practitioner, client=client, now=now)
    except GraphError as error:
        _failure_record(subscription, error=error, now=now, gone=True)
        raise
    # Graph is called outside the transaction: a write lock is never held across a network call.
    with transaction.atomic():
        subscription.delete()
        replacement = _subscription_store(opened, delta_link=subscription.delta_link)
        # Whatever changed while no subscription was watching was never notified: ask for a
        # resync of the calendar (the bookings app does it and clears the mark).
        replacement.resync_requested_at = now
        replacement.save(update_fields=["resync_requested_at"])
    try:
        client.subscription_delete(subscription_id=old_graph_id)
    except GraphError as error:
        # Nothing points at it any more; the next sync deletes it as a stray.
        logger.warning(
            "graph subscription replaced but the old one was not deleted",
            extra={"subscription_id": old_graph_id, "error": _error_text(error)},
        )
    logger.info(
        "graph subscription replaced",
        extra={"practitioner": practitioner.slug, "subscription_id": replacement.graph_id},
    )
    return replacement


def graph_subscription_delete(*, subscription: GraphSubscription, client: GraphClient) -> None:
    """Delete the subscription in Graph (one Graph no longer has is fine), then our row."""
    client.subscription_delete(subscription_id=subscription.graph_id)
    subscription.delete()
    logger.info("graph subscription deleted", extra={"subscription_id": subscription.graph_id})


# --- The whole practice ---------------------------------------------------------------


def graph_subscriptions_sync(*, client: GraphClient, now: datetime | None = None) -> SyncReport:
    """Make the subscriptions in Graph and in the database match the practice.

    Each active practitioner with a mailbox gets exactly one subscription, renewed now;
    subscriptions of inactive practitioners, of a changed mailbox, calendar, booking type or
    public URL are deleted (and created afresh where still wanted); subscriptions in Graph
    that point at our URLs but that we have no row for are deleted. A failure for one
    practitioner is reported and the others carry on.
    """
    now = now or timezone.now()
    report = SyncReport()
    live: dict[str, dict[str, Any]] | None = None
    try:
        live = {str(item.get("id")): item for item in client.subscriptions_list()}
    except GraphError as error:
        report.failure_add("subscriptions list", error)
    _practice_reconcile(client=client, now=now, report=report, renew_all=True, live=live)
    if live is not None:
        _strays_delete(client=client, live=live, report=report)
    return report


def graph_subscriptions_renew_due(*, client: GraphClient, now: datetime | None = None) -> SyncReport:
    """Renew the subscriptions that expire within GRAPH_SUBSCRIPTION_RENEWAL_MARGIN_MINUTES.

    Also retries those whose last renewal failed, creates one for each active practitioner
    who has none, and deletes ours that no active practitioner wants any more. Graph is not
    listed (that is `graph_subscriptions_sync`), so this stays a few calls per run.
    """
    now = now or timezone.now()
    report = SyncReport()
    _practice_reconcile(client=client, now=now, report=report, renew_all=False, live=None)
    return report


def graph_subscriptions_delete(*, client: GraphClient, practitioner: Practitioner | None = None) -> SyncReport:
    """Delete our subscriptions (all, or one practitioner's) in Graph and in the database."""
    report = SyncReport()
    subscriptions = GraphSubscription.objects.select_related("practitioner")
    if practitioner is not None:
        subscriptions = subscriptions.filter(practitioner=practitioner)
    for subscription in subscriptions:
        try:
            graph_subscription_delete(subscription=subscription, client=client)
        except GraphError as error:
            report.failure_add(subscription.practitioner.slug, error)
        else:
            report.deleted.append(subscription.practitioner.slug)
    return report


def _practice_reconcile(
    *,
    client: GraphClient,
    now: datetime,
    report: SyncReport,
    renew_all: bool,
    live: dict[str, dict[str, Any]] | None,
) -> None:
    """Delete unwanted rows, then renew (all, or the due ones) or create one per practitioner."""
    practitioners = Practitioner.objects.filter(is_active=True).exclude(o365_mailbox="")
    targets = {
        practitioner.pk: (practitioner, target)
        for practitioner in practitioners
        if (target := graph_subscription_target(practitioner=practitioner)) is not None
    }
    kept: dict[int, GraphSubscription] = {}
    # The latest-expiring row of a practitioner is the one kept should there be several.
    for subscription in GraphSubscription.objects.select_related("practitioner").order_by("-expires_at"):
        wanted = targets.get(subscription.practitioner_id)
        target = wanted[1] if wanted else None
        if target is not None and subscription.practitioner_id not in kept and _matches(subscription, target, live):
            kept[subscription.practitioner_id] = subscription
            continue
        try:
            graph_subscription_delete(subscription=subscription, client=client)
        except GraphError as error:
            _failure_record(subscription, error=error, now=now)
            report.failure_add(subscription.practitioner.slug, error)
        else:
            report.deleted.append(subscription.practitioner.slug)

    margin = now + timedelta(minutes=settings.GRAPH_SUBSCRIPTION_RENEWAL_MARGIN_MINUTES)
    for practitioner_id, (practitioner, _target) in targets.items():
        current = kept.get(practitioner_id)
        if current is None:
            try:
                graph_subscription_create(practitioner=practitioner, client=client, now=now)
            except GraphError as error:
                report.failure_add(practitioner.slug, error)
            else:
                report.created.append(practitioner.slug)
            continue
        due = current.expires_at <= margin or current.renewal_failures > 0 or not current.is_healthy
        if not (renew_all or due):
            continue
        outcome = graph_subscription_renew(subscription=current, client=client, now=now)
        if outcome is RenewOutcome.RENEWED:
            report.renewed.append(practitioner.slug)
        elif outcome is RenewOutcome.RECREATED:
            report.created.append(practitioner.slug)
        else:
            report.failed.append((practitioner.slug, current.last_error))
            report.retry_later = report.retry_later or outcome is RenewOutcome.FAILED_TRANSIENT


def _matches(
    subscription: GraphSubscription, target: SubscriptionTarget, live: dict[str, dict[str, Any]] | None
) -> bool:
    """Whether the row watches what the practitioner wants, at the URL we serve now."""
    if subscription.resource != target.resource or subscription.receiver != target.receiver:
        return False
    if live is None or subscription.graph_id not in live:
        # Not listed: unknown here, and a renewal finds out whether Graph still has it.
        return True
    return live[subscription.graph_id].get("notificationUrl") == target.notification_url


def _strays_delete(*, client: GraphClient, live: dict[str, dict[str, Any]], report: SyncReport) -> None:
    """Delete Graph's subscriptions to our URLs that no row of ours knows."""
    ours = f"{settings.PUBLIC_BASE_URL.rstrip('/')}/booking/"
    for graph_id, item in live.items():
        if not str(item.get("notificationUrl", "")).startswith(ours):
            continue
        # Looked up one by one: a subscription created since the listing has its row by now.
        if GraphSubscription.objects.filter(graph_id=graph_id).exists():
            continue
        try:
            client.subscription_delete(subscription_id=graph_id)
        except GraphError as error:
            report.failure_add(graph_id, error)
        else:
            report.deleted.append(graph_id)


# --- Bookkeeping ----------------------------------------------------------------------


def _recreated(*, subscription: GraphSubscription, client: GraphClient, now: datetime) -> RenewOutcome:
    """Graph deleted the subscription (not renewed in time, or removed): make a new one."""
    try:
        graph_subscription_replace(subscription=subscription, client=client, now=now)
    except GraphError as error:
        return _failed(error)
    except ValueError as error:
        # The practitioner's mailbox was cleared since: nothing to subscribe to until it is set again.
        _failure_record(subscription, error=error, now=now, gone=True)
        return RenewOutcome.FAILED
    return RenewOutcome.RECREATED


def _failure_record(subscription: GraphSubscription, *, error: Exception, now: datetime, gone: bool = False) -> None:
    """Count a failed renewal; the row turns unhealthy once failures pile up or it cannot work."""
    subscription.renewal_failures += 1
    subscription.last_error = _error_text(error)
    if (
        gone
        or subscription.renewal_failures >= settings.GRAPH_SUBSCRIPTION_UNHEALTHY_AFTER_FAILURES
        or subscription.expires_at <= now
    ):
        subscription.is_healthy = False
    if subscription.pk is not None:
        subscription.save(update_fields=["renewal_failures", "last_error", "is_healthy", "updated_at"])
    logger.warning(
        "graph subscription upkeep failed",
        extra={
            "subscription_id": subscription.graph_id,
            "failures": subscription.renewal_failures,
            "error": subscription.last_error,
        },
    )


def _health_restore(subscription: GraphSubscription, *, now: datetime) -> None:
    subscription.last_renewed_at = now
    subscription.renewal_failures = 0
    subscription.last_error = ""
    subscription.is_healthy = True


def _failed(error: Exception) -> RenewOutcome:
    return RenewOutcome.FAILED_TRANSIENT if is_transient(error) else RenewOutcome.FAILED


def _error_text(error: Exception) -> str:
    """The error as shown in admin: its type and message (method, path template, Graph's reason)."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= LAST_ERROR_MAX else text[: LAST_ERROR_MAX - 1] + "…"


def _lifetime() -> timedelta:
    return timedelta(minutes=settings.GRAPH_SUBSCRIPTION_LIFETIME_MINUTES)


def _expiry(answer: dict[str, Any], *, default: datetime) -> datetime:
    """The expiry Graph answered with (it may shorten what we asked for), else what we asked."""
    value = parse_datetime(str(answer.get("expirationDateTime") or ""))
    if value is None or timezone.is_naive(value):
        return default
    return value


@dataclass(frozen=True)
class _Opened:
    """A subscription Graph has just created, not yet stored."""

    practitioner: Practitioner
    target: SubscriptionTarget
    graph_id: str
    client_state: str
    expires_at: datetime


def _subscription_open(*, practitioner: Practitioner, client: GraphClient, now: datetime) -> _Opened:
    target = graph_subscription_target(practitioner=practitioner)
    if target is None:
        raise ValueError(f"practitioner {practitioner.slug!r} has no Office 365 mailbox")
    client_state = secrets.token_urlsafe(CLIENT_STATE_BYTES)
    wanted_expiry = now + _lifetime()
    answer = client.subscription_create(
        resource=target.resource,
        notification_url=target.notification_url,
        lifecycle_notification_url=target.lifecycle_notification_url,
        client_state=client_state,
        expires_at=wanted_expiry,
    )
    if not answer.get("id"):
        raise GraphError("POST /subscriptions: the answer carries no subscription id")
    return _Opened(
        practitioner=practitioner,
        target=target,
        graph_id=str(answer["id"]),
        client_state=client_state,
        expires_at=_expiry(answer, default=wanted_expiry),
    )


def _subscription_store(opened: _Opened, *, delta_link: str) -> GraphSubscription:
    subscription = GraphSubscription.objects.create(
        practitioner=opened.practitioner,
        graph_id=opened.graph_id,
        resource=opened.target.resource,
        client_state=opened.client_state,
        receiver=opened.target.receiver,
        expires_at=opened.expires_at,
        delta_link=delta_link,
    )
    logger.info(
        "graph subscription created",
        extra={"practitioner": opened.practitioner.slug, "subscription_id": subscription.graph_id},
    )
    return subscription
