"""bookings 0004 gives every booking that existed before it a reference of its own."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = ("bookings", "0003_medirecords_sync")


@pytest.mark.django_db(transaction=True)
def test_existing_bookings_get_distinct_references():
    executor = MigrationExecutor(connection)
    try:
        executor.migrate([BEFORE])
        apps = executor.loader.project_state(BEFORE).apps
        Practitioner = apps.get_model("practitioners", "Practitioner")
        Booking = apps.get_model("bookings", "Booking")
        practitioner = Practitioner.objects.create(
            slug="dr-history", display_name="Dr History", kind="doctor", booking_type="paid"
        )
        starts = datetime(2026, 3, 2, 9, tzinfo=UTC)
        booking_ids = [
            Booking.objects.create(
                practitioner=practitioner,
                kind="paid",
                starts_at=starts + timedelta(hours=hour),
                ends_at=starts + timedelta(hours=hour, minutes=30),
            ).pk
            for hour in range(3)
        ]

        executor = MigrationExecutor(connection)
        latest = executor.loader.graph.leaf_nodes()
        executor.migrate(latest)
        apps = executor.loader.project_state(latest).apps
        references = list(
            apps.get_model("bookings", "Booking")
            .objects.filter(pk__in=booking_ids)
            .values_list("intake_reference", flat=True)
        )
        assert len(references) == 3
        assert all(references)
        assert len(set(references)) == 3
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
