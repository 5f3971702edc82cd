"""Tasks are enqueued by name (`bookings.dispatch`), so a name that no task carries would only
be logged when the change commits and left for the sweeps: every name used is registered."""

import pytest
from celery import current_app
from django.conf import settings

from bookings import dispatch
from config import celery as celery_config
from tests.test_settings import clean_environment, run_django

DISPATCH_NAMES = sorted(value for name, value in vars(dispatch).items() if name.isupper() and isinstance(value, str))


@pytest.mark.parametrize("name", DISPATCH_NAMES)
def test_each_name_services_enqueue_is_a_registered_task(name):
    assert name in current_app.tasks


@pytest.mark.parametrize("entry", sorted(settings.CELERY_BEAT_SCHEDULE))
def test_each_task_beat_sends_is_registered(entry):
    assert settings.CELERY_BEAT_SCHEDULE[entry]["task"] in current_app.tasks


def test_the_upkeep_asked_for_when_beat_starts_is_registered():
    assert celery_config.SUBSCRIPTION_UPKEEP_TASK == dispatch.GRAPH_SUBSCRIPTIONS_CHECK
    assert celery_config.SUBSCRIPTION_UPKEEP_TASK in current_app.tasks


def test_the_names_are_found_in_the_dispatch_module():
    """Guards the parametrised test above against finding no names at all."""
    assert {dispatch.DELIVERY_PROCESS, dispatch.BOOKING_SYNC, dispatch.BOOKING_NOTIFY} <= set(DISPATCH_NAMES)


def test_a_process_that_only_sets_django_up_can_enqueue_every_name(tmp_path):
    """As the web process and the management commands do: no test module has imported a
    `tasks` module for it."""
    code = (
        "import django; django.setup()\n"
        "from celery import current_app\n"
        "from bookings import dispatch\n"
        "names = [v for k, v in vars(dispatch).items() if k.isupper() and isinstance(v, str)]\n"
        "print(sorted(name for name in names if name not in current_app.tasks))\n"
    )
    result = run_django(code, clean_environment(tmp_path, DJANGO_DEBUG="true"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
