import threading

import pytest
from django.db import connection

from bookings.inbox import deliveries as inbox
from bookings.models import DeliverySource, InboundDelivery
from tests.conftest import requires_postgresql

CONCURRENT_STORES = 8


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_stores_of_one_key_make_one_row_and_no_error(recording_handler):
    barrier = threading.Barrier(CONCURRENT_STORES)
    outcomes: list[bool] = []
    errors: list[BaseException] = []

    def store_once() -> None:
        try:
            barrier.wait(timeout=10)
            stored = inbox.delivery_store(
                source=DeliverySource.STRIPE, delivery_key="evt_concurrent", body=b'{"id": "evt_concurrent"}'
            )
            outcomes.append(stored.duplicate)
        except BaseException as error:  # noqa: BLE001 - reported in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=store_once) for _ in range(CONCURRENT_STORES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(outcomes) == [False] + [True] * (CONCURRENT_STORES - 1)
    assert InboundDelivery.objects.filter(delivery_key="evt_concurrent").count() == 1
    # Only the winner enqueued processing, so the handler ran exactly once.
    assert len(recording_handler.seen) == 1
