"""Benchmark: how fast the Graph receiver acknowledges notifications, against two baselines.

    .venv/bin/python -m benchmarks.graph_receiver [--requests 10000] [--concurrency 50]

Needs PostgreSQL (BENCHMARK_DATABASE_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres)
and Redis (BENCHMARK_REDIS_URL, default redis://127.0.0.1:6379/14). It creates a fresh database,
serves the project with gunicorn on it, and posts the same number of notifications, each
unique, to three endpoints of that one server:

- bare:      a Django view that returns 202 (the framework's ceiling);
- raw-store: a view that inserts the raw body into a plain table, then 202 (the ceiling of
             any receiver that stores before it acknowledges);
- receiver:  /booking/practitioner (parse, check the subscription and clientState, store in
             the inbox, enqueue after commit, 202).

Graph counts an answer over 2.9 s as slow; the aim is p99 under 100 ms and at least 70% of
the raw-store throughput.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from benchmarks.baseline_views import RAW_TABLE
from benchmarks.harness import PROJECT_ROOT, database_admin_url, recreate_database, wait_until_serving, with_database
from benchmarks.load import LoadResult, run_load

SUBSCRIPTION_ID = "7f105c7d-2dc5-4530-97cd-4e7ae6534c07"
CLIENT_STATE = "benchmark-client-state-" + "x" * 40
MAILBOX = "5f1c2e4b-7a0d-4c55-9d3e-2b8a1f6c9e10"

SEED = f"""
from datetime import timedelta
from django.utils import timezone
from practitioners.models import Practitioner, GraphSubscription
practitioner, _ = Practitioner.objects.get_or_create(
    slug="dr-dia",
    defaults=dict(display_name="Dr Dia", kind="doctor", booking_type="paid", o365_mailbox="{MAILBOX}"),
)
GraphSubscription.objects.update_or_create(
    graph_id="{SUBSCRIPTION_ID}",
    defaults=dict(practitioner=practitioner, resource="users/{MAILBOX}/events", client_state="{CLIENT_STATE}",
                  receiver="practitioner", expires_at=timezone.now() + timedelta(days=6)),
)
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS {RAW_TABLE} (id bigserial PRIMARY KEY, body bytea NOT NULL)")
"""


def notification(number: int) -> bytes:
    event_id = f"AAMkBenchmark{number:08d}="
    resource = f"Users/{MAILBOX}/Events/{event_id}"
    body = {
        "value": [
            {
                "subscriptionId": SUBSCRIPTION_ID,
                "subscriptionExpirationDateTime": "2026-12-01T23:00:00.0000000Z",
                "changeType": "created",
                "resource": resource,
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Event",
                    "@odata.id": resource,
                    "@odata.etag": f'W/"DwAAABYAAAB0Kg2lH1ZWRaYmYnx3H6R/{number:08d}"',
                    "id": event_id,
                },
                "clientState": CLIENT_STATE,
                "tenantId": "84bd8158-6d4d-4958-8b9f-9d6445542f95",
            }
        ]
    }
    return json.dumps(body).encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--threads", type=int, default=4)
    options = parser.parse_args(argv)

    admin_url = database_admin_url()
    database_url = with_database(admin_url, "clinic_benchmark")
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("BENCHMARK_REDIS_URL", "redis://127.0.0.1:6379/14"),
        "DJANGO_ROOT_URLCONF": "benchmarks.urls",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "benchmark-only-" + "k" * 50,
        # Production refuses to start without one; a fresh key per run, the data is thrown away.
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        # Every request comes from one address: the per-address limit would measure itself.
        "RATELIMIT_ENABLE": "false",
    }
    python = sys.executable
    recreate_database(python=python, admin_url=admin_url, name="clinic_benchmark")
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=PROJECT_ROOT, env=environment, check=True
    )
    subprocess.run([python, "manage.py", "shell", "-c", SEED], cwd=PROJECT_ROOT, env=environment, check=True)

    server = subprocess.Popen(
        [
            str(Path(python).parent / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{options.port}",
            "--workers",
            str(options.workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(options.threads),
            "--log-level",
            "warning",
        ],
        cwd=PROJECT_ROOT,
        env=environment,
    )
    try:
        base = f"http://127.0.0.1:{options.port}"
        wait_until_serving(f"{base}/healthz")
        endpoints = {
            "bare": f"{base}/benchmark/bare",
            "raw-store": f"{base}/benchmark/raw-store",
            "receiver": f"{base}/booking/practitioner",
        }
        results: dict[str, LoadResult] = {}
        # Every notification in the run is distinct, as real ones are: no duplicate shortcuts.
        numbers = iter(range(10**9))
        for name, url in endpoints.items():
            run_load(
                url=url,
                requests=options.warmup,
                concurrency=options.concurrency,
                body=lambda _: notification(next(numbers)),
                content_type="application/json",
            )
            results[name] = run_load(
                url=url,
                requests=options.requests,
                concurrency=options.concurrency,
                body=lambda _: notification(next(numbers)),
                content_type="application/json",
            )
    finally:
        server.terminate()
        server.wait(timeout=30)

    _print_report(results, options)
    return 0


def _print_report(results: dict[str, LoadResult], options: argparse.Namespace) -> None:
    print(
        f"{options.requests} POSTs per endpoint at {options.concurrency} connections; gunicorn "
        f"{options.workers} workers x {options.threads} threads (gthread); PostgreSQL; client on the same machine"
    )
    print(f"{'endpoint':<10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'>2.9s':>6}  statuses")
    for name, result in results.items():
        summary = result.summary()
        print(
            f"{name:<10} {summary['throughput_per_s']:>9} {summary['p50_ms']:>8} {summary['p99_ms']:>8} "
            f"{summary['max_ms']:>8} {summary['slow_over_2900ms']:>6}  {summary['statuses']}"
        )
    share = results["receiver"].throughput / results["raw-store"].throughput
    print(f"receiver throughput = {share:.0%} of raw-store; p99 {results['receiver'].percentile(0.99):.1f} ms")
    print(json.dumps({name: result.summary() for name, result in results.items()}))


if __name__ == "__main__":
    raise SystemExit(main())
