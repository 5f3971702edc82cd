import pytest

from practitioners import selectors
from tests.practitioners.factories import GraphSubscriptionFactory

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(selectors.time, "monotonic", clock)
    return clock


def test_credentials_are_read_once_then_kept_for_the_configured_time(settings, clock, django_assert_num_queries):
    settings.GRAPH_SUBSCRIPTION_CACHE_SECONDS = 30
    subscription = GraphSubscriptionFactory()

    with django_assert_num_queries(1):
        first = selectors.graph_subscription_credentials(graph_id=subscription.graph_id)
        again = selectors.graph_subscription_credentials(graph_id=subscription.graph_id)
    assert first == again
    assert (first.client_state, first.receiver) == (subscription.client_state, subscription.receiver)

    subscription.client_state = "rotated-secret"
    subscription.save()
    clock.now += 31
    with django_assert_num_queries(1):
        assert selectors.graph_subscription_credentials(graph_id=subscription.graph_id).client_state == "rotated-secret"


def test_an_unknown_subscription_is_not_remembered(clock, django_assert_num_queries):
    # Graph may notify through a subscription between its 201 and our row's insert; remembering
    # the miss would reject those notifications for the whole cache period.
    with django_assert_num_queries(2):
        assert selectors.graph_subscription_credentials(graph_id="new-subscription") is None
        assert selectors.graph_subscription_credentials(graph_id="new-subscription") is None

    subscription = GraphSubscriptionFactory(graph_id="new-subscription")
    assert selectors.graph_subscription_credentials(graph_id="new-subscription").client_state == (
        subscription.client_state
    )


def test_the_cache_keeps_a_bounded_number_of_entries(monkeypatch, clock):
    monkeypatch.setattr(selectors, "CREDENTIALS_CACHE_MAX_ENTRIES", 3)
    subscriptions = [GraphSubscriptionFactory() for _ in range(5)]

    for subscription in subscriptions:
        selectors.graph_subscription_credentials(graph_id=subscription.graph_id)

    assert list(selectors._credentials_cache) == [subscription.graph_id for subscription in subscriptions[2:]]
