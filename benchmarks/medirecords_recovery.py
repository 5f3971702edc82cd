"""Benchmark: how long after MediRecords answers again until every waiting booking is in it.

    .venv/bin/python -m benchmarks.medirecords_recovery [--bookings 100] [--outage-seconds 300]

Needs PostgreSQL and Redis on localhost (BENCHMARK_DATABASE_ADMIN_URL, BENCHMARK_REDIS_URL;
BENCHMARK_DATABASE_NAME, default clinic_benchmark_recovery, is dropped and made again). It
loads the practice, books new patients across the five practitioners, and starts the
MediRecords sandbox failing every API call (500), two `celery worker` processes and `celery
beat`, all with the production back-off and probe settings unless the environment says
otherwise. After the outage it makes the sandbox answer again and times how long until no
booking is waiting, and reports the longest wait between two attempts for one booking.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
from benchmarks.medirecords_sync import PENDING, SEED
from medirecords.sandbox import SandboxServer

WORKERS = 2

LONGEST_GAP = """
from itertools import pairwise
from bookings.models import SyncAttempt
times = {}
for booking_id, started_at in SyncAttempt.objects.order_by("booking_id", "started_at").values_list(
    "booking_id", "started_at"
):
    times.setdefault(booking_id, []).append(started_at)
gaps = [(later - earlier).total_seconds() for moments in times.values() for earlier, later in pairwise(moments)]
print(round(max(gaps, default=0.0), 1))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bookings", type=int, default=100)
    parser.add_argument("--outage-seconds", type=float, default=300.0)
    parser.add_argument("--latency-ms", type=int, default=20)
    options = parser.parse_args(argv)
    admin_url = database_admin_url()
    database_name = os.environ.get("BENCHMARK_DATABASE_NAME", "clinic_benchmark_recovery")

    with SandboxServer(token=SANDBOX_TOKEN, faults={"latency_ms": options.latency_ms, "error_rate": 1.0}) as sandbox:
        python = sys.executable
        recreate_database(python=python, admin_url=admin_url, name=database_name)
        environment = sandbox_service_environment(
            database_url=with_database(admin_url, database_name),
            queue=f"benchmark-recovery-{os.getpid()}",
            sandbox=sandbox,
            token=SANDBOX_TOKEN,
        )
        migrate_and_seed(python=python, environment=environment, seed=SEED, bookings=options.bookings)
        print(
            f"{options.bookings} bookings; MediRecords failing every call for {options.outage_seconds:.0f} s; "
            f"{WORKERS} workers and beat"
        )
        with tempfile.TemporaryDirectory() as beat_folder:
            processes = _workers_and_beat(python, environment, schedule=Path(beat_folder) / "schedule")
            try:
                time.sleep(options.outage_seconds)
                calls_in_outage = len(sandbox.requests)
                sandbox.set_faults(error_rate=0.0)
                recovered = time.monotonic()
                while _pending(python, environment) > 0:
                    time.sleep(1)
                all_in = time.monotonic() - recovered
            finally:
                processes_stop(processes)
        longest_gap = django_shell_output(python=python, environment=environment, script=LONGEST_GAP)
        calls = sandbox.requests
        first_answer = next(call["time"] for call in calls if call["time"] >= recovered)
        appointments = len(sandbox.store.appointments())
    print(
        f"MediRecords answered again; first call after that {first_answer - recovered:.1f} s later; "
        f"every booking in {all_in:.1f} s after recovery ({appointments} appointments); "
        f"{calls_in_outage} calls during the outage ({calls_in_outage / options.outage_seconds:.2f} per second); "
        f"longest wait between two attempts of one booking {longest_gap} s"
    )
    return 0


def _workers_and_beat(python: str, environment: dict[str, str], *, schedule: Path) -> list[subprocess.Popen[bytes]]:
    queue = environment["CELERY_TASK_DEFAULT_QUEUE"]
    worker = celery_worker_command(python=python, queue=queue)
    beat = [python, "-m", "celery", "-A", "config", "beat", "--schedule", str(schedule), "--loglevel", "WARNING"]
    return [
        *(subprocess.Popen(worker, cwd=PROJECT_ROOT, env=environment) for _ in range(WORKERS)),
        subprocess.Popen(beat, cwd=PROJECT_ROOT, env=environment),
    ]


def _pending(python: str, environment: dict[str, str]) -> int:
    return int(django_shell_output(python=python, environment=environment, script=PENDING))


if __name__ == "__main__":
    raise SystemExit(main())
