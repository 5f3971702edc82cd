"""Keeping every active practitioner's calendar subscribed to Graph change notifications.

Outlook subscriptions live at most a week and Graph deletes one that is not renewed in time,
so beat renews them well before they expire; a failure is counted on the row and shown in
admin, and a subscription Graph no longer has is created again. Graph can also forget a
subscription without telling us (an admin deleted it, a lost `subscriptionRemoved`, a
restarted fake), so `graph_subscriptions_check` lists Graph's subscriptions at start and every
hour, recreates what is missing and records the gap (`SubscriptionGap`).

A calendar subscribed for the first time asks for a resync (`resync_requested_at`), which
imports the events already in it; a recreated one asks for one too, to fill the gap.

One calendar has one subscription: each pass over the practice holds
`SubscriptionUpkeepLease`, and the database refuses a second row for a practitioner. Every
function takes the Graph client and, where time matters, `now`, so tests can hand in a fake
and a frozen clock.
"""

import logging
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from practitioners.graph.client import GraphClient, GraphError, GraphNotFoundError, is_transient
from practitioners.models import (
    BookingType,
    GraphSubscription,
    Practitioner,
    SubscriptionGap,
    SubscriptionReceiver,
    SubscriptionUpkeepLease,
)

logger = logging.getLogger("clinic.graph.subscriptions")

# 48 random bytes: 64 URL-safe characters, within Graph's 128-character limit for clientState.
CLIENT_STATE_BYTES = 48
LAST_ERROR_MAX = 500
UPKEEP_LEASE_NAME = "graph-subscriptions"
# Longer than any pass (a creation waits at most 10 s for Graph's handshake with our server,
# five calendars) yet short: a pass killed with its process keeps the others out this long.
UPKEEP_LEASE_SECONDS = 5 * 60
UPKEEP_LEASE_POLL_SECONDS = 0.5


class CalendarAlreadySubscribedError(Exception):
    """An outcome, not a failure: another process subscribed the calendar first; the message is
    the practitioner's slug. Not a GraphError, which callers record as Graph failing."""


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
    # Another pass held the upkeep lease: this one did nothing.
    busy: bool = False

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

    `delta_link` carries a calendar resync's position over to the new subscription; without
    one the calendar is subscribed for the first time, and a resync is asked for that imports
    the events already in it (booked before anything was watching). Raises
    CalendarAlreadySubscribedError, having deleted the new subscription in Graph again, when another
    process subscribed the calendar meanwhile.
    """
    now = now or timezone.now()
    opened = _subscription_open(practitioner=practitioner, client=client, now=now)
    try:
        with transaction.atomic():
            return _subscription_store(opened, delta_link=delta_link, resync_requested_at=None if delta_link else now)
    except IntegrityError:
        _duplicate_undo(opened, client=client)
        raise CalendarAlreadySubscribedError(practitioner.slug) from None


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
    except GraphNotFoundError:
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
    except GraphNotFoundError:
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
    *,
    subscription: GraphSubscription,
    client: GraphClient,
    now: datetime | None = None,
    deaf_since: datetime | None = None,
) -> GraphSubscription:
    """A new subscription for the same practitioner in place of `subscription`.

    For a `subscriptionRemoved` lifecycle notification, for the admin's "recreate", and for a
    subscription Graph no longer has (then `deaf_since`, the last time Graph was known to hold
    it, opens a `SubscriptionGap`). The new one is created before the old one goes, so the
    calendar is never unwatched; the old delta link moves to the new row so the resync
    continues where it was. A failure is recorded on the old row and raised.
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
    try:
        with transaction.atomic():
            subscription.delete()
            # Whatever changed while no subscription was watching was never notified: ask for a
            # resync of the calendar (the bookings app does it and clears the mark).
            replacement = _subscription_store(opened, delta_link=subscription.delta_link, resync_requested_at=now)
            if deaf_since is not None:
                SubscriptionGap.objects.create(
                    practitioner=practitioner, lost_graph_id=old_graph_id, deaf_since=deaf_since, detected_at=now
                )
    except IntegrityError:
        # Replaced by another process at the same moment: its subscription stays, ours goes.
        _duplicate_undo(opened, client=client)
        return GraphSubscription.objects.get(practitioner=practitioner)
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


def graph_subscriptions_sync(
    *, client: GraphClient, now: datetime | None = None, wait_seconds: float = 0.0
) -> SyncReport:
    """Make the subscriptions in Graph and in the database match the practice.

    Each active practitioner with a mailbox gets exactly one subscription, renewed now;
    subscriptions of inactive practitioners, of a changed mailbox, calendar, booking type or
    public URL are deleted (and created afresh where still wanted); subscriptions in Graph
    that point at our URLs but that we have no row for are deleted. A failure for one
    practitioner is reported and the others carry on. While another pass holds the upkeep
    lease this waits for it up to `wait_seconds`, then reports itself `busy` and does nothing.
    """
    now = now or timezone.now()
    report = SyncReport()
    with subscription_upkeep_lease(report=report, wait_seconds=wait_seconds) as held:
        if not held:
            return report
        live: dict[str, dict[str, Any]] | None = None
        try:
            live = {str(item.get("id")): item for item in client.subscriptions_list()}
        except GraphError as error:
            report.failure_add("subscriptions list", error)
        _practice_reconcile(client=client, now=now, report=report, renew_all=True, live=live)
        if live is not None:
            _strays_delete(client=client, live=live, report=report)
    return report


def graph_subscriptions_check(*, client: GraphClient, now: datetime | None = None) -> SyncReport:
    """Make sure Graph still holds every subscription of ours; then the renewals that are due.

    Graph may forget a subscription without a lifecycle notification reaching us; until it
    is recreated the calendar is deaf. Each of ours that `GET /subscriptions` does not list
    is replaced (the replacement asks for a resync of its calendar) and the gap is recorded,
    from the last time Graph was known to hold it; each listed one is marked seen. If Graph
    cannot be listed nothing is taken for missing.
    """
    now = now or timezone.now()
    report = SyncReport()
    with subscription_upkeep_lease(report=report) as held:
        if not held:
            return report
        listed_at = timezone.now()
        try:
            live = {str(item.get("id")) for item in client.subscriptions_list()}
        except GraphError as error:
            report.failure_add("subscriptions list", error)
            return report
        # A row made after the listing began (a lifecycle replacement) cannot be in it.
        ours = list(GraphSubscription.objects.select_related("practitioner").filter(created_at__lte=listed_at))
        GraphSubscription.objects.filter(pk__in=[row.pk for row in ours if row.graph_id in live]).update(
            last_seen_on_graph_at=now
        )
        for subscription in ours:
            if subscription.graph_id not in live and _still_wanted(subscription.practitioner):
                _lost_replace(subscription=subscription, client=client, now=now, report=report)
        # Then as every renewal pass: unwanted rows go, calendars without one get one.
        _practice_reconcile(client=client, now=now, report=report, renew_all=False, live=None)
    return report


def graph_subscriptions_renew_due(*, client: GraphClient, now: datetime | None = None) -> SyncReport:
    """Renew the subscriptions that expire within GRAPH_SUBSCRIPTION_RENEWAL_MARGIN_MINUTES.

    Also retries those whose last renewal failed, creates one for each active practitioner
    who has none, and deletes ours that no active practitioner wants any more. Graph is not
    listed (that is `graph_subscriptions_sync`), so this stays a few calls per run.
    """
    now = now or timezone.now()
    report = SyncReport()
    with subscription_upkeep_lease(report=report) as held:
        if held:
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
    kept = _unwanted_delete(client=client, now=now, report=report, targets=targets, live=live)
    margin = now + timedelta(minutes=settings.GRAPH_SUBSCRIPTION_RENEWAL_MARGIN_MINUTES)
    for practitioner_id, (practitioner, _target) in targets.items():
        current = kept.get(practitioner_id)
        if current is None:
            _missing_create(practitioner=practitioner, client=client, now=now, report=report)
            continue
        due = current.expires_at <= margin or current.renewal_failures > 0 or not current.is_healthy
        if renew_all or due:
            _kept_renew(practitioner=practitioner, subscription=current, client=client, now=now, report=report)


def _unwanted_delete(
    *,
    client: GraphClient,
    now: datetime,
    report: SyncReport,
    targets: dict[int, tuple[Practitioner, SubscriptionTarget]],
    live: dict[str, dict[str, Any]] | None,
) -> dict[int, GraphSubscription]:
    """Delete every row no practitioner wants as it is; the rows kept, by practitioner."""
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
    return kept


def _missing_create(*, practitioner: Practitioner, client: GraphClient, now: datetime, report: SyncReport) -> None:
    """Subscribe to the calendar of a practitioner who has no subscription kept."""
    try:
        graph_subscription_create(practitioner=practitioner, client=client, now=now)
    except GraphError as error:
        report.failure_add(practitioner.slug, error)
    except CalendarAlreadySubscribedError:
        pass  # subscribed by a lifecycle replacement meanwhile: nothing more to do
    else:
        report.created.append(practitioner.slug)


def _kept_renew(
    *,
    practitioner: Practitioner,
    subscription: GraphSubscription,
    client: GraphClient,
    now: datetime,
    report: SyncReport,
) -> None:
    """Renew a kept subscription, and say in `report` how it went."""
    outcome = graph_subscription_renew(subscription=subscription, client=client, now=now)
    if outcome is RenewOutcome.RENEWED:
        report.renewed.append(practitioner.slug)
    elif outcome is RenewOutcome.RECREATED:
        report.created.append(practitioner.slug)
    else:
        report.failed.append((practitioner.slug, subscription.last_error))
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
        graph_subscription_replace(
            subscription=subscription, client=client, now=now, deaf_since=_last_known_alive(subscription)
        )
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


def _subscription_store(opened: _Opened, *, delta_link: str, resync_requested_at: datetime | None) -> GraphSubscription:
    subscription = GraphSubscription.objects.create(
        practitioner=opened.practitioner,
        graph_id=opened.graph_id,
        resource=opened.target.resource,
        client_state=opened.client_state,
        receiver=opened.target.receiver,
        expires_at=opened.expires_at,
        delta_link=delta_link,
        resync_requested_at=resync_requested_at,
    )
    logger.info(
        "graph subscription created",
        extra={"practitioner": opened.practitioner.slug, "subscription_id": subscription.graph_id},
    )
    return subscription


def _duplicate_undo(opened: _Opened, *, client: GraphClient) -> None:
    """Delete in Graph a subscription just made that lost the race to another process's."""
    logger.info(
        "graph subscription not kept: the calendar was subscribed meanwhile",
        extra={"practitioner": opened.practitioner.slug, "subscription_id": opened.graph_id},
    )
    try:
        client.subscription_delete(subscription_id=opened.graph_id)
    except GraphError as error:
        # No row points at it: the next sync deletes it as a stray.
        logger.warning(
            "graph subscription not kept and not deleted",
            extra={"subscription_id": opened.graph_id, "error": _error_text(error)},
        )


def _still_wanted(practitioner: Practitioner) -> bool:
    return practitioner.is_active and graph_subscription_target(practitioner=practitioner) is not None


def _last_known_alive(subscription: GraphSubscription) -> datetime:
    """The last time Graph was known to hold the subscription: listed, renewed or created."""
    known = [subscription.last_seen_on_graph_at, subscription.last_renewed_at, subscription.created_at]
    return max(moment for moment in known if moment is not None)


def _lost_replace(*, subscription: GraphSubscription, client: GraphClient, now: datetime, report: SyncReport) -> None:
    slug = subscription.practitioner.slug
    logger.warning(
        "graph subscription missing from Graph; subscribing the calendar again",
        extra={"practitioner": slug, "subscription_id": subscription.graph_id},
    )
    try:
        graph_subscription_replace(
            subscription=subscription, client=client, now=now, deaf_since=_last_known_alive(subscription)
        )
    except GraphError as error:
        report.failure_add(slug, error)
    else:
        report.created.append(slug)


# --- One pass at a time ---------------------------------------------------------------


@contextmanager
def subscription_upkeep_lease(*, report: SyncReport, wait_seconds: float = 0.0) -> Iterator[bool]:
    """Hold the upkeep lease for the block; yields False (and marks `report` busy) if another
    pass holds it for longer than `wait_seconds`.

    Two passes at once (`graph_subscriptions sync` beside beat's renewal) would each create
    a subscription for a calendar that has none. No transaction is held across Graph calls.
    """
    token = _lease_take()
    deadline = time.monotonic() + wait_seconds
    while token is None and time.monotonic() < deadline:
        time.sleep(UPKEEP_LEASE_POLL_SECONDS)
        token = _lease_take()
    if token is None:
        report.busy = report.retry_later = True
        logger.info("graph subscription upkeep skipped: another pass is running")
        yield False
        return
    try:
        yield True
    finally:
        SubscriptionUpkeepLease.objects.filter(name=UPKEEP_LEASE_NAME, held_until=token).update(held_until=None)


def _lease_take() -> datetime | None:
    # Real time, not a caller's `now`: the lease is about processes running now.
    now = timezone.now()
    # get_or_create copes with another process creating the row at the same moment.
    SubscriptionUpkeepLease.objects.get_or_create(name=UPKEEP_LEASE_NAME)
    token = now + timedelta(seconds=UPKEEP_LEASE_SECONDS)
    free = Q(held_until__isnull=True) | Q(held_until__lt=now)
    taken = SubscriptionUpkeepLease.objects.filter(free, name=UPKEEP_LEASE_NAME).update(held_until=token)
    return token if taken == 1 else None
