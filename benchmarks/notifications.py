"""Benchmark: how long telling a booking takes (two emails, one with its invite), and its queries.

    .venv/bin/python -m benchmarks.notifications [--bookings 500]

Runs in-process on a fresh SQLite database in a temporary folder (or DATABASE_URL when set),
with Django's in-memory email backend, so it measures our work (deciding what is due,
logging it, rendering the templates and the invite, claiming and marking each row) and not
a mail server's.
"""

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=500)
    arguments = parser.parse_args()

    os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="notifications-benchmark-"))
    # A throw-away embedded database: debug on, with its own keys in the temporary VAR_DIR.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.development_settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core import mail
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    call_command("migrate", verbosity=0)
    call_command("load_practice", stdout=io.StringIO())

    from bookings.models import Booking, Patient
    from bookings.notifications.sending import booking_notify
    from practitioners.models import Practitioner

    practitioners = list(Practitioner.objects.order_by("display_order"))
    start = timezone.now() + timedelta(days=2)
    booking_ids = []
    for number in range(arguments.bookings):
        practitioner = practitioners[number % len(practitioners)]
        patient = Patient.objects.create(
            first_name=f"Bench{number}", last_name=f"Patient{number}", email=f"bench{number}@example.com.au"
        )
        starts_at = start + timedelta(minutes=30 * number)
        booking = Booking.objects.create(
            practitioner=practitioner,
            patient=patient,
            kind="paid",
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=practitioner.default_duration_minutes),
            o365_event_id=f"AAMkBench{number:06d}=",
        )
        booking_ids.append(booking.pk)

    durations_ms, queries = [], []
    for booking_id in booking_ids:
        connection.queries_log.clear()  # the log keeps 9,000 queries; each booking counts its own
        began = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            booking_notify(booking_id=booking_id)
            # Outside a transaction on_commit runs at once: the sends happen inside this block.
        durations_ms.append((time.perf_counter() - began) * 1000)
        queries.append(len(captured.captured_queries))

    total_s = sum(durations_ms) / 1000
    quantiles = statistics.quantiles(durations_ms, n=100)
    print(f"database: {connection.vendor}; bookings: {len(booking_ids)}; emails sent: {len(mail.outbox)}")
    print(f"per booking (2 emails): p50 {quantiles[49]:.1f} ms, p99 {quantiles[98]:.1f} ms,", end=" ")
    print(f"max {max(durations_ms):.1f} ms")
    print(f"throughput: {len(mail.outbox) / total_s:.0f} emails/s on one process")
    print(f"queries per booking: min {min(queries)}, max {max(queries)}")
    if len(mail.outbox) != 2 * len(booking_ids):
        sys.exit("not every booking sent exactly two emails")
    # A second pass finds nothing due and sends nothing: the once-only log at work.
    for booking_id in booking_ids:
        booking_notify(booking_id=booking_id)
    print(f"after a second pass over every booking: {len(mail.outbox)} emails (unchanged)")


if __name__ == "__main__":
    main()
