"""Pieces the benchmark drivers share: a fresh database, the service's processes against the
MediRecords sandbox, and waiting for a server."""

import os
import subprocess
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from medirecords.sandbox import SandboxServer

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The bearer token the drivers' sandbox accepts and hands to the service processes.
SANDBOX_TOKEN = "benchmark-sandbox-token"  # noqa: S105 - the local sandbox's, not a secret


def database_admin_url() -> str:
    """Where a driver creates and drops its databases: BENCHMARK_DATABASE_ADMIN_URL, or the local server."""
    return os.environ.get("BENCHMARK_DATABASE_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def sandbox_service_environment(*, database_url: str, queue: str, sandbox: SandboxServer, token: str) -> dict[str, str]:
    """The environment of the service processes a driver starts: its own database and queue, the
    sandbox as MediRecords, a developer's machine (the keys kept in var/), quiet logs."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("BENCHMARK_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "DJANGO_DEBUG": "true",
        "MEDIRECORDS_API_URL": sandbox.api_url,
        "MEDIRECORDS_FHIR_URL": sandbox.fhir_url,
        "MEDIRECORDS_API_TOKEN": token,
        "LOG_LEVEL": "WARNING",
    }


def migrate_and_seed(*, python: str, environment: dict[str, str], seed: str, bookings: int) -> None:
    """Migrate the driver's database, then run `seed` in the Django shell with BENCHMARK_BOOKINGS set."""
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=PROJECT_ROOT, env=environment, check=True
    )
    subprocess.run(
        [python, "manage.py", "shell", "-c", seed],
        cwd=PROJECT_ROOT,
        env={**environment, "BENCHMARK_BOOKINGS": str(bookings)},
        check=True,
    )


def django_shell_output(*, python: str, environment: dict[str, str], script: str) -> str:
    """The last line `script` prints when run in the Django shell of a driver's database."""
    result = subprocess.run(
        [python, "manage.py", "shell", "-c", script],
        cwd=PROJECT_ROOT,
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip().splitlines()[-1]


def celery_worker_command(*, python: str, queue: str) -> list[str]:
    """A Celery worker on `queue` taking one task at a time, without the cluster's chatter."""
    return [
        *(python, "-m", "celery", "-A", "config", "worker", "--queues", queue, "--concurrency", "1"),
        *("--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel", "WARNING"),
    ]


def processes_stop(processes: Iterable[subprocess.Popen[bytes]]) -> None:
    """Ask every process to stop, then wait for each: asked together, they stop together."""
    running = list(processes)
    for process in running:
        process.terminate()
    for process in running:
        process.wait(timeout=60)


def with_database(url: str, name: str) -> str:
    """`url` with its database name replaced by `name`."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate_database(*, python: str, admin_url: str, name: str) -> None:
    script = (
        "import psycopg, sys\n"
        "with psycopg.connect(sys.argv[1], autocommit=True) as connection:\n"
        f"    connection.execute('DROP DATABASE IF EXISTS {name} WITH (FORCE)')\n"
        f"    connection.execute('CREATE DATABASE {name}')\n"
    )
    subprocess.run([python, "-c", script, admin_url], check=True)


def wait_until_serving(url: str, *, deadline_seconds: float = 60) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own local URL
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer {url} within {deadline_seconds} s")
