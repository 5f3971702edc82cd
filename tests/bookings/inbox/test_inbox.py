from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.inbox import deliveries, tasks
from bookings.models import DeliverySource, DeliveryStatus, InboundDelivery
from tests.bookings.factories import InboundDeliveryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch):
    """Records the ids handed to the broker instead of processing them."""
    delivery_ids: list[int] = []
    monkeypatch.setattr(tasks.delivery_process_task, "delay", delivery_ids.append)
    return delivery_ids


def store(key="evt_1", body=b'{"id": "evt_1"}'):
    return deliveries.delivery_store(
        source=DeliverySource.STRIPE, delivery_key=key, body=body, headers={"Stripe-Signature": "t=1,v1=x"}
    )


class TestStore:
    def test_stores_the_delivery_and_enqueues_it_after_commit(self, enqueued, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            stored = store()
            assert enqueued == [], "nothing may be enqueued before the row is committed"

        assert len(callbacks) == 1
        assert stored.duplicate is False
        row = InboundDelivery.objects.get()
        assert bytes(row.body) == b'{"id": "evt_1"}'
        assert row.headers == {"Stripe-Signature": "t=1,v1=x"}
        assert row.status == DeliveryStatus.RECEIVED
        assert enqueued == [row.pk]

    def test_the_same_key_twice_is_one_row_and_one_enqueue(self, enqueued, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            first = store()
        with django_capture_on_commit_callbacks(execute=True):
            second = store(body=b"a different body is still the same delivery")

        assert (first.duplicate, second.duplicate) == (False, True)
        assert second.delivery.pk == first.delivery.pk
        assert InboundDelivery.objects.count() == 1
        assert bytes(InboundDelivery.objects.get().body) == b'{"id": "evt_1"}'
        assert enqueued == [first.delivery.pk]

    def test_the_same_key_from_another_source_is_another_delivery(self, enqueued):
        store(key="shared-key")
        other = deliveries.delivery_store(source=DeliverySource.CALENDLY, delivery_key="shared-key", body=b"{}")
        assert other.duplicate is False
        assert InboundDelivery.objects.count() == 2

    def test_an_unreachable_broker_still_keeps_the_delivery(self, monkeypatch, django_capture_on_commit_callbacks):
        def broker_down(delivery_id):
            raise ConnectionError("broker unreachable")

        monkeypatch.setattr(tasks.delivery_process_task, "delay", broker_down)
        with django_capture_on_commit_callbacks(execute=True):
            stored = store()
        assert InboundDelivery.objects.get().pk == stored.delivery.pk
        assert stored.delivery.status == DeliveryStatus.RECEIVED


class TestProcess:
    def test_runs_the_handler_and_marks_processed(self, recording_handler):
        delivery = InboundDeliveryFactory()
        status = deliveries.delivery_process(delivery_id=delivery.pk)

        delivery.refresh_from_db()
        assert status == DeliveryStatus.PROCESSED
        assert recording_handler.seen == [delivery.pk]
        assert delivery.status == DeliveryStatus.PROCESSED
        assert delivery.attempts == 1
        assert delivery.processed_at is not None
        assert delivery.last_error == ""

    def test_an_ignored_delivery_keeps_its_reason(self, recording_handler):
        recording_handler.outcome = deliveries.DeliveryIgnoredError("a practitioner's own meeting")
        delivery = InboundDeliveryFactory()
        deliveries.delivery_process(delivery_id=delivery.pk)

        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.IGNORED
        assert delivery.last_error == "a practitioner's own meeting"

    def test_a_failure_is_recorded_without_health_data(self, recording_handler):
        recording_handler.outcome = ValueError("no patient jane.citizen@example.com.au born 29/02/1980")
        delivery = InboundDeliveryFactory()
        deliveries.delivery_process(delivery_id=delivery.pk)

        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.FAILED
        assert delivery.last_error.startswith("ValueError: no patient")
        assert "jane.citizen" not in delivery.last_error
        assert "1980" not in delivery.last_error
        assert delivery.processed_at is None

    def test_a_source_without_handler_fails_visibly(self):
        delivery = InboundDeliveryFactory(source=DeliverySource.CALENDLY)
        deliveries.delivery_process(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.FAILED
        assert "no handler" in delivery.last_error

    @pytest.mark.parametrize("status", [DeliveryStatus.PROCESSED, DeliveryStatus.IGNORED])
    def test_a_finished_delivery_is_not_processed_again(self, recording_handler, status):
        delivery = InboundDeliveryFactory(status=status, attempts=1)
        assert deliveries.delivery_process(delivery_id=delivery.pk) is None
        assert recording_handler.seen == []

    def test_a_delivery_another_worker_is_processing_is_left_to_it(self, recording_handler):
        delivery = InboundDeliveryFactory(status=DeliveryStatus.PROCESSING, claimed_at=timezone.now(), attempts=1)
        assert deliveries.delivery_process(delivery_id=delivery.pk) is None
        assert recording_handler.seen == []

    def test_a_claim_abandoned_by_a_dead_worker_is_taken_over(self, recording_handler, settings):
        abandoned = timezone.now() - timedelta(seconds=settings.INBOX_SWEEP_AGE_SECONDS + 1)
        delivery = InboundDeliveryFactory(status=DeliveryStatus.PROCESSING, claimed_at=abandoned, attempts=1)
        assert deliveries.delivery_process(delivery_id=delivery.pk) == DeliveryStatus.PROCESSED
        delivery.refresh_from_db()
        assert delivery.attempts == 2

    def test_the_task_processes_through_the_dispatcher(self, recording_handler, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            stored = store()
        assert recording_handler.seen == [stored.delivery.pk]
        stored.delivery.refresh_from_db()
        assert stored.delivery.status == DeliveryStatus.PROCESSED


class TestSweep:
    def test_enqueues_what_is_overdue_and_leaves_the_rest(self, enqueued, settings, django_capture_on_commit_callbacks):
        settings.INBOX_SWEEP_AGE_SECONDS = 300
        settings.INBOX_MAX_ATTEMPTS = 3
        now = timezone.now()
        long_ago = now - timedelta(hours=1)
        recently = now - timedelta(seconds=30)

        due = [
            InboundDeliveryFactory(received_at=long_ago),
            InboundDeliveryFactory(status=DeliveryStatus.PROCESSING, received_at=long_ago, claimed_at=long_ago),
            InboundDeliveryFactory(status=DeliveryStatus.FAILED, attempts=1, received_at=long_ago, claimed_at=long_ago),
        ]
        not_due = [
            InboundDeliveryFactory(received_at=recently),
            InboundDeliveryFactory(status=DeliveryStatus.PROCESSED, received_at=long_ago, processed_at=long_ago),
            InboundDeliveryFactory(status=DeliveryStatus.IGNORED, received_at=long_ago, processed_at=long_ago),
            InboundDeliveryFactory(status=DeliveryStatus.PROCESSING, received_at=long_ago, claimed_at=recently),
            # Second attempt waits twice the age: 10 minutes, not yet.
            InboundDeliveryFactory(
                status=DeliveryStatus.FAILED, attempts=2, received_at=long_ago, claimed_at=now - timedelta(minutes=7)
            ),
            # Out of attempts: waits for a person.
            InboundDeliveryFactory(status=DeliveryStatus.FAILED, attempts=3, received_at=long_ago, claimed_at=long_ago),
        ]

        with django_capture_on_commit_callbacks(execute=True):
            count = deliveries.inbox_sweep(now=now)

        assert count == len(due)
        assert sorted(enqueued) == sorted(delivery.pk for delivery in due)
        assert not set(enqueued) & {delivery.pk for delivery in not_due}

    def test_the_beat_task_runs_the_sweep(self, enqueued, django_capture_on_commit_callbacks):
        delivery = InboundDeliveryFactory(received_at=timezone.now() - timedelta(days=1))
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.inbox_sweep_task.delay().get() == 1
        assert enqueued == [delivery.pk]


class TestReplay:
    def test_replays_finished_and_failed_deliveries_but_not_one_in_progress(
        self, enqueued, django_capture_on_commit_callbacks
    ):
        processed = InboundDeliveryFactory(status=DeliveryStatus.PROCESSED, attempts=1)
        failed = InboundDeliveryFactory(status=DeliveryStatus.FAILED, attempts=5, last_error="boom")
        busy = InboundDeliveryFactory(status=DeliveryStatus.PROCESSING, claimed_at=timezone.now(), attempts=1)

        with django_capture_on_commit_callbacks(execute=True):
            replayed = deliveries.delivery_replay(delivery_ids=[processed.pk, failed.pk, busy.pk])

        assert replayed == 2
        assert sorted(enqueued) == sorted([processed.pk, failed.pk])
        failed.refresh_from_db()
        assert (failed.status, failed.last_error) == (DeliveryStatus.RECEIVED, "")
        busy.refresh_from_db()
        assert busy.status == DeliveryStatus.PROCESSING
