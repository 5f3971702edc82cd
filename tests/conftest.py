import uuid
from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.db import connection

from bookings.inbox import deliveries
from config.celery import app as celery_app
from practitioners.selectors import graph_subscription_credentials_forget

# No test reaches a port it did not open; `--days-ahead` moves the clock; and no test's log lines
# (at DEBUG, every logger, worker processes too) carry patient data (see the modules).
pytest_plugins = ["tests.plugins.network_guard", "tests.plugins.clock_ahead", "tests.plugins.log_privacy"]

requires_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): SQLite serialises every writer, so there is no race to provoke",
)


@pytest.fixture(autouse=True)
def _eager_celery():
    """Unit tests run tasks in-process; end-to-end tests use a real worker instead."""
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _forget_cached_subscription_credentials():
    """Each test makes its own subscriptions, often under the fixtures' ids."""
    graph_subscription_credentials_forget()
    yield
    graph_subscription_credentials_forget()


@pytest.fixture(autouse=True)
def _rate_limit_counts_of_its_own(settings):
    """Each test counts requests afresh: the suite posts from one address for minutes on end."""
    settings.RATELIMIT_CACHE_PREFIX = f"rl:{uuid.uuid4().hex}:"


@pytest.fixture
def one_rate_limit_window():
    """The clock held still, so a test's requests are counted in one window: the limiter's
    windows each end at a moment of their own in the minute, which requests a second apart
    would otherwise straddle now and then."""
    with time_machine.travel(datetime.now(UTC), tick=False):
        yield


@pytest.fixture
def recording_handler():
    """Registers a handler for Stripe deliveries that records what it was given.

    Set `.outcome` to an exception instance to make the handler raise it.
    """

    class Recorder:
        def __init__(self) -> None:
            self.seen: list[int] = []
            self.outcome: Exception | None = None

        def __call__(self, delivery) -> None:
            self.seen.append(delivery.pk)
            if self.outcome is not None:
                raise self.outcome

    recorder = Recorder()
    deliveries.delivery_handler_register(source="stripe", handler=recorder)
    yield recorder
    deliveries.delivery_handler_unregister(source="stripe")


@pytest.fixture
def staff_user(django_user_model):
    """A staff login that may view every model, but not raw bodies that carry health data."""
    user = django_user_model.objects.create_user(username="frontdesk", password="a-long-test-password", is_staff=True)
    model_views = Permission.objects.filter(codename__startswith="view_").exclude(codename="view_delivery_body")
    user.user_permissions.set(model_views)
    return user


@pytest.fixture
def staff_actor(staff_user):
    """The front-desk login acting from the console, as the audit trail records it."""
    from bookings.audit import AuditActor

    return AuditActor(user=staff_user, ip_address="192.0.2.10")
