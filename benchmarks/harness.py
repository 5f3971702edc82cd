"""Pieces the benchmark drivers share: a fresh database, the service's processes against the
MediRecords sandbox, and waiting for a server."""

import os
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from medirecords.sandbox import SandboxServer

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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
