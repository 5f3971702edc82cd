import pytest

from bookings.inbox import deliveries
from bookings.models import DeliverySource, InboundDelivery
from tests.concurrency import run_together
from tests.conftest import requires_postgresql

CONCURRENT_STORES = 8


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_stores_of_one_key_make_one_row_and_no_error(recording_handler):
    def store_once() -> bool:
        stored = deliveries.delivery_store(
            source=DeliverySource.STRIPE, delivery_key="evt_concurrent", body=b'{"id": "evt_concurrent"}'
        )
        return stored.duplicate

    outcomes, errors = run_together(store_once, threads=CONCURRENT_STORES)

    assert errors == []
    assert sorted(outcomes) == [False] + [True] * (CONCURRENT_STORES - 1)
    assert InboundDelivery.objects.filter(delivery_key="evt_concurrent").count() == 1
    # Only the winner enqueued processing, so the handler ran exactly once.
    assert len(recording_handler.seen) == 1
