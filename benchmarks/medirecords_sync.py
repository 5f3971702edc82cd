"""Benchmark: bookings pushed to MediRecords per minute, with one and with two workers.

    .venv/bin/python -m benchmarks.medirecords_sync [--bookings 100] [--latency-ms 100]

Needs PostgreSQL and Redis on localhost (BENCHMARK_DATABASE_ADMIN_URL, BENCHMARK_REDIS_URL).
For each worker count it creates a fresh database, loads the practice, creates new patients'
bookings across the five practitioners, starts the MediRecords sandbox with a fixed latency on
every call, starts that many `celery worker` processes (one task at a time each) and times
how long until every booking is in MediRecords.
"""

import argparse
import os
import subprocess
import sys
import time

from benchmarks.harness import (
    PROJECT_ROOT,
    SANDBOX_TOKEN,
    celery_worker_command,
    database_admin_url,
    django_shell_output,
    migrate_and_seed,
    processes_stop,
    recreate_database,
    sandbox_service_environment,
    with_database,
)
from medirecords.sandbox import SandboxServer

SEED = """
import os
from datetime import UTC, date, datetime, timedelta
from django.db import transaction
from bookings.models import Booking, Patient
from bookings.changes import booking_changed
from medirecords.sandbox import SANDBOX_PRACTITIONERS
from practitioners.models import Practitioner
from practitioners.services import external_id_variable, practice_load

count = int(os.environ["BENCHMARK_BOOKINGS"])
environ = {}
for slug, ids in SANDBOX_PRACTITIONERS.items():
    environ[external_id_variable(slug=slug, field_name="medirecords_provider_id")] = ids["provider_id"]
    environ[external_id_variable(slug=slug, field_name="medirecords_appointment_type_id")] = ids["appointment_type_id"]
practice_load(environ=environ)
practitioners = list(Practitioner.objects.order_by("display_order"))
with transaction.atomic():
    for number in range(count):
        practitioner = practitioners[number % len(practitioners)]
        patient = Patient.objects.create(first_name=f"Bench{number}", last_name=f"Patient{number}",
                                         date_of_birth=date(1960, 1, 1) + timedelta(days=number),
                                         email=f"bench{number}@example.com.au")
        starts_at = datetime(2026, 12, 1, 22, 0, tzinfo=UTC) + timedelta(hours=number)
        minutes = timedelta(minutes=practitioner.default_duration_minutes)
        booking = Booking.objects.create(practitioner=practitioner, patient=patient, kind="paid",
                                         starts_at=starts_at, ends_at=starts_at + minutes,
                                         o365_event_id=f"AAMkBench{number:06d}=")
        booking_changed(booking_id=booking.pk)
"""

PENDING = """
from bookings.models import Booking, SyncState
print(Booking.objects.exclude(sync_state=SyncState.SYNCED).count())
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bookings", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    options = parser.parse_args(argv)
    admin_url = database_admin_url()

    print(f"{options.bookings} new-patient bookings; sandbox latency {options.latency_ms} ms per call")
    for workers in options.workers:
        with SandboxServer(token=SANDBOX_TOKEN, faults={"latency_ms": options.latency_ms}) as sandbox:
            seconds, calls = _run_once(sandbox=sandbox, workers=workers, bookings=options.bookings, admin_url=admin_url)
            appointments = len(sandbox.store.appointments())
        print(
            f"{workers} worker process(es): {options.bookings} bookings in {seconds:.1f} s = "
            f"{options.bookings / seconds * 60:.0f} per minute; {calls} MediRecords calls "
            f"({calls / options.bookings:.1f} per booking); {appointments} appointments"
        )
    return 0


def _run_once(*, sandbox: SandboxServer, workers: int, bookings: int, admin_url: str) -> tuple[float, int]:
    python = sys.executable
    database_name = f"clinic_benchmark_sync_{workers}"
    recreate_database(python=python, admin_url=admin_url, name=database_name)
    queue = f"benchmark-sync-{workers}-{os.getpid()}"
    environment = sandbox_service_environment(
        database_url=with_database(admin_url, database_name), queue=queue, sandbox=sandbox, token=SANDBOX_TOKEN
    )
    migrate_and_seed(python=python, environment=environment, seed=SEED, bookings=bookings)
    calls_before = len(sandbox.requests)
    started = time.monotonic()
    worker = celery_worker_command(python=python, queue=queue)
    processes = [subprocess.Popen(worker, cwd=PROJECT_ROOT, env=environment) for _ in range(workers)]
    try:
        while _pending(python, environment) > 0:
            time.sleep(1)
        elapsed = time.monotonic() - started
    finally:
        processes_stop(processes)
    return elapsed, len(sandbox.requests) - calls_before


def _pending(python: str, environment: dict[str, str]) -> int:
    return int(django_shell_output(python=python, environment=environment, script=PENDING))


if __name__ == "__main__":
    raise SystemExit(main())
