"""A calendar is never left unwatched or unimported: the first subscription asks for an import,
a subscription Graph forgot is found and recreated with its gap recorded, and one calendar
never gets two subscriptions."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from practitioners.graph import subscriptions
from practitioners.graph.client import GraphServerError
from practitioners.graph.subscriptions import (
    UPKEEP_LEASE_NAME,
    CalendarAlreadySubscribedError,
    SyncReport,
    graph_subscription_create,
    graph_subscriptions_check,
    graph_subscriptions_renew_due,
    graph_subscriptions_sync,
    subscription_upkeep_lease,
)
from practitioners.models import GraphSubscription, SubscriptionGap, SubscriptionUpkeepLease
from tests.bookings.conftest import FakeGraph
from tests.conftest import requires_postgresql
from tests.practitioners.factories import GraphSubscriptionFactory, PractitionerFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(hours=5)


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.PUBLIC_BASE_URL = "https://ops.clinic.example.com.au"
    settings.GRAPH_SUBSCRIPTION_LIFETIME_MINUTES = 10_000
    settings.GRAPH_SUBSCRIPTION_RENEWAL_MARGIN_MINUTES = 24 * 60


@pytest.fixture
def graph():
    return FakeGraph()


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


class TestFirstSubscription:
    def test_a_calendar_subscribed_for_the_first_time_asks_for_its_events_to_be_imported(self, graph, clock):
        practitioner = PractitionerFactory()

        subscription = graph_subscription_create(practitioner=practitioner, client=graph, now=NOW)

        subscription.refresh_from_db()
        assert subscription.resync_requested_at == NOW
        assert subscription.calendar_imported_at is None

    def test_one_carrying_a_resync_position_asks_for_nothing(self, graph, clock):
        subscription = graph_subscription_create(
            practitioner=PractitionerFactory(), client=graph, now=NOW, delta_link="https://graph/delta?t=1"
        )

        subscription.refresh_from_db()
        assert subscription.resync_requested_at is None

    def test_practitioners_subscribed_by_the_renewal_pass_ask_for_an_import(self, graph, clock):
        added_later = PractitionerFactory(slug="added-later")

        report = graph_subscriptions_renew_due(client=graph, now=NOW)

        assert report.created == ["added-later"]
        assert GraphSubscription.objects.get(practitioner=added_later).resync_requested_at == NOW


class TestOneSubscriptionPerCalendar:
    def test_losing_the_race_deletes_the_new_subscription_in_graph(self, graph, clock):
        practitioner = PractitionerFactory()
        theirs = GraphSubscriptionFactory(practitioner=practitioner)

        with pytest.raises(CalendarAlreadySubscribedError):
            graph_subscription_create(practitioner=practitioner, client=graph, now=NOW)

        assert graph.deleted == ["new-subscription-1"]
        assert list(GraphSubscription.objects.values_list("graph_id", flat=True)) == [theirs.graph_id]

    def test_a_pass_while_another_holds_the_lease_does_nothing(self, graph, clock):
        PractitionerFactory(slug="nurse")
        holder = SyncReport()

        with subscription_upkeep_lease(report=holder) as held:
            assert held
            report = graph_subscriptions_sync(client=graph, now=NOW)

        assert report.busy
        assert report.retry_later
        assert graph.created == []
        assert not GraphSubscription.objects.exists()
        # Released at the end of the block: the next pass runs.
        assert graph_subscriptions_sync(client=graph, now=NOW).created == ["nurse"]
        assert SubscriptionUpkeepLease.objects.get(name=UPKEEP_LEASE_NAME).held_until is None

    def test_a_lease_left_by_a_dead_process_runs_out(self, graph, clock):
        PractitionerFactory(slug="nurse")
        SubscriptionUpkeepLease.objects.create(name=UPKEEP_LEASE_NAME, held_until=NOW - timedelta(seconds=1))

        assert graph_subscriptions_sync(client=graph, now=NOW).created == ["nurse"]


class TestExistenceCheck:
    def test_subscriptions_graph_lists_are_marked_seen_and_left_alone(self, graph, clock):
        subscription = GraphSubscriptionFactory(practitioner=PractitionerFactory())
        graph.held = [subscription.graph_id]

        report = graph_subscriptions_check(client=graph, now=NOW)

        assert report.counts() == {"created": 0, "renewed": 0, "deleted": 0, "failed": 0}
        subscription.refresh_from_db()
        assert subscription.last_seen_on_graph_at == NOW
        assert graph.created == []
        assert graph.deleted == []
        assert not SubscriptionGap.objects.exists()

    def test_one_graph_forgot_is_recreated_resynced_and_its_gap_recorded(self, graph, clock):
        nurse = PractitionerFactory(slug="nurse")
        with time_machine.travel(EARLIER - timedelta(hours=1), tick=False):
            lost = GraphSubscriptionFactory(practitioner=nurse, last_seen_on_graph_at=EARLIER)
        fine = GraphSubscriptionFactory(practitioner=PractitionerFactory(slug="dr-dia"))
        graph.held = [fine.graph_id]

        report = graph_subscriptions_check(client=graph, now=NOW)

        assert report.created == ["nurse"]
        replacement = GraphSubscription.objects.get(practitioner=nurse)
        assert replacement.graph_id == "new-subscription-1"
        assert replacement.resync_requested_at == NOW
        gap = SubscriptionGap.objects.get()
        assert (gap.practitioner, gap.lost_graph_id) == (nurse, lost.graph_id)
        assert (gap.deaf_since, gap.detected_at, gap.recovered_at) == (EARLIER, NOW, None)

    def test_a_subscription_never_listed_is_deaf_since_it_was_last_renewed(self, graph, clock):
        lost = GraphSubscriptionFactory(practitioner=PractitionerFactory(), last_renewed_at=EARLIER)
        lost.created_at = EARLIER - timedelta(days=2)
        lost.save()

        graph_subscriptions_check(client=graph, now=NOW)

        assert SubscriptionGap.objects.get().deaf_since == EARLIER

    def test_when_graph_cannot_be_listed_nothing_is_taken_for_missing(self, graph, clock):
        subscription = GraphSubscriptionFactory(practitioner=PractitionerFactory())
        graph.held = GraphServerError("GET /subscriptions: 500", status=500)

        report = graph_subscriptions_check(client=graph, now=NOW)

        assert report.retry_later
        assert list(GraphSubscription.objects.values_list("graph_id", flat=True)) == [subscription.graph_id]
        assert graph.created == []
        assert not SubscriptionGap.objects.exists()

    def test_an_inactive_practitioners_missing_subscription_is_dropped_not_recreated(self, graph, clock):
        GraphSubscriptionFactory(practitioner=PractitionerFactory(slug="gone", is_active=False))

        report = graph_subscriptions_check(client=graph, now=NOW)

        assert report.deleted == ["gone"]
        assert graph.created == []
        assert not GraphSubscription.objects.exists()

    def test_a_calendar_without_any_subscription_gets_one(self, graph, clock):
        PractitionerFactory(slug="nurse")

        assert graph_subscriptions_check(client=graph, now=NOW).created == ["nurse"]


class ThreadSafeGraph(FakeGraph):
    """FakeGraph whose new subscription ids stay unique when two threads create at once."""

    def __init__(self, *, creating_together: threading.Barrier | None = None) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._creating_together = creating_together

    def subscription_create(self, **request):
        if self._creating_together is not None:
            # The first creation of each pass waits for the other's: both are past their reads.
            self._creating_together.wait(timeout=10)
        with self._lock:
            return super().subscription_create(**request)


@requires_postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("lease", ["held", "bypassed"])
def test_two_passes_at_once_leave_one_subscription_per_calendar(lease, monkeypatch):
    """`graph_subscriptions sync` and beat's renewal started together, on two connections.

    With the lease the second pass waits or stands aside; with the lease bypassed, both
    create at once and the database's uniqueness makes the loser undo its subscription.
    """
    if lease == "bypassed":
        monkeypatch.setattr(subscriptions, "_lease_take", lambda: datetime.now(UTC) + timedelta(minutes=5))
    practitioners = [PractitionerFactory(slug=f"p{index}") for index in range(5)]
    graph = ThreadSafeGraph(creating_together=threading.Barrier(2) if lease == "bypassed" else None)
    both_started = threading.Barrier(2)
    listing = graph.subscriptions_list

    def listed_together():
        # Both passes have started before either creates anything.
        both_started.wait(timeout=10)
        return listing()

    graph.subscriptions_list = listed_together
    errors: list[BaseException] = []

    def run(pass_):
        try:
            if pass_ == "sync":
                graph_subscriptions_sync(client=graph, wait_seconds=30)
            else:
                both_started.wait(timeout=10)
                graph_subscriptions_renew_due(client=graph)
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("sync", "renew")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sorted(GraphSubscription.objects.values_list("practitioner__slug", flat=True)) == [
        practitioner.slug for practitioner in practitioners
    ]
    kept = set(GraphSubscription.objects.values_list("graph_id", flat=True))
    made = {f"new-subscription-{index}" for index in range(1, len(graph.created) + 1)}
    # Whatever was created in Graph and not kept was deleted there again.
    assert made - kept == set(graph.deleted)
    if lease == "bypassed":
        assert graph.deleted  # the race did happen
