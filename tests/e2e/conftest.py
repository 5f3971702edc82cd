"""End-to-end tests: the real server (live_server), a real Celery worker in its own process
against Redis, PostgreSQL, and the local fakes over real HTTP."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from medirecords.sandbox import SANDBOX_PRACTITIONERS
from practitioners import clients
from practitioners.fake_graph import FakeGraphServer
from practitioners.models import Practitioner
from practitioners.services import external_id_variable, practice_load

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# A worker that talks to its queue only: no heartbeats, mingling or gossip with other workers.
WORKER_COMMAND: tuple[str, ...] = (sys.executable, "-m", "celery", "-A", "config", "worker")
WORKER_COMMAND += ("--without-heartbeat", "--without-mingle", "--without-gossip")


def _redis_answers() -> bool:
    if not settings.REDIS_URL:
        return False
    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


requires_distributed_setup = pytest.mark.skipif(
    connection.vendor != "postgresql" or not _redis_answers(),
    reason="needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL): the worker runs in a process of its own",
)


@pytest.fixture
def worker_queue() -> Iterator[str]:
    """A queue of this test's own, so no other worker or leftover message interferes."""
    queue = f"e2e-{uuid.uuid4().hex[:12]}"
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    yield queue
    celery_app.conf.task_default_queue = settings.CELERY_TASK_DEFAULT_QUEUE


@pytest.fixture
def start_worker(worker_queue: str, process_log_file):
    """Start `celery worker` processes on the test database; they stop when the test ends.

    Each logs at DEBUG into a file that the log privacy check searches when the test ends.
    """
    started: list[subprocess.Popen[bytes]] = []

    def start(*, extra_environment: dict[str, str], concurrency: int = 1) -> None:
        database = connection.settings_dict
        environment = {
            **os.environ,
            "DATABASE_URL": (
                f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:{database['PORT']}/"
                f"{database['NAME']}"
            ),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_TASK_DEFAULT_QUEUE": worker_queue,
            "LOG_LEVEL": "DEBUG",
            "PYTHONUNBUFFERED": "1",
            **extra_environment,
        }
        log_file = process_log_file(f"worker-{len(started) + 1}")
        with log_file.open("wb") as output:  # the worker holds its own copy of the descriptor
            process = subprocess.Popen(
                [*WORKER_COMMAND, "--queues", worker_queue, "--concurrency", str(concurrency), "--loglevel", "DEBUG"],
                cwd=PROJECT_ROOT,
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        started.append(process)

    yield start
    for process in started:
        process.terminate()
    for process in started:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def fake_graph(tmp_path):
    with FakeGraphServer(cert_dir=tmp_path) as fake:
        yield fake


@pytest.fixture
def graph_settings(settings, fake_graph, live_server):
    values = {
        "GRAPH_API_URL": fake_graph.graph_url,
        "AZURE_AUTHORITY_HOST": fake_graph.authority_host,
        "AZURE_TENANT_ID": fake_graph.tenant_id,
        "AZURE_CLIENT_ID": fake_graph.client_id,
        "AZURE_CLIENT_SECRET": fake_graph.client_secret,
        "AZURE_CA_BUNDLE": fake_graph.ca_cert_path,
        "PUBLIC_BASE_URL": live_server.url,
    }
    for name, value in values.items():
        setattr(settings, name, value)
    clients.graph_clients_reset()
    yield values
    clients.graph_clients_reset()


def wait_for(condition: Callable[[], Any], *, seconds: float = 30.0, describe: Callable[[], str] | None = None) -> Any:
    """Poll an observable outcome with a deadline (the worker is another process), checking at
    least once; answers what `condition()` gave, or fails with `describe()` at the deadline."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    if not result:
        raise AssertionError(describe() if describe else f"not true within {seconds} s")
    return result


def medirecords_sandbox_settings(
    settings, sandbox, *, token: str, retry_base_seconds: str, retry_max_seconds: str
) -> dict[str, str]:
    """Point this process and the workers (given the returned values) at the test's sandbox."""
    values = {
        "MEDIRECORDS_API_URL": sandbox.api_url,
        "MEDIRECORDS_FHIR_URL": sandbox.fhir_url,
        "MEDIRECORDS_API_TOKEN": token,
        "MEDIRECORDS_SYNC_RETRY_BASE_SECONDS": retry_base_seconds,
        "MEDIRECORDS_SYNC_RETRY_MAX_SECONDS": retry_max_seconds,
    }
    for name, value in values.items():
        setattr(settings, name, value)
    return values


def practice_with_sandbox_ids() -> list[Practitioner]:
    """The practice file's practitioners, with the sandbox's provider and appointment type ids."""
    environ = {}
    for slug, ids in SANDBOX_PRACTITIONERS.items():
        environ[external_id_variable(slug=slug, field_name="medirecords_provider_id")] = ids["provider_id"]
        environ[external_id_variable(slug=slug, field_name="medirecords_appointment_type_id")] = ids[
            "appointment_type_id"
        ]
    practice_load(environ=environ)
    return list(Practitioner.objects.order_by("display_order"))
