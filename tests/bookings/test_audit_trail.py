"""The audit trail: staff actions leave entries, and entries can never change or go away."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from bookings.audit import audit_record, booking_snapshot, snapshot_changes
from bookings.inbox import tasks as inbox_tasks
from bookings.models import AuditAction, AuditEntry, DeliveryStatus, SyncState
from bookings.push import tasks as push_tasks
from tests.bookings.factories import BookingFactory, InboundDeliveryFactory

pytestmark = pytest.mark.django_db

requires_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): the trigger that guards the audit table exists only there",
)


@pytest.fixture
def entry(staff_actor):
    booking = BookingFactory()
    return audit_record(
        actor=staff_actor,
        action=AuditAction.BOOKING_CANCELLED,
        subject=str(booking),
        booking=booking,
        before={"status": "booked"},
        after={"status": "cancelled"},
        reason="Patient unwell",
    )


class TestAppendOnly:
    def test_an_entry_cannot_be_saved_again(self, entry):
        entry.reason = "Something else"
        with pytest.raises(PermissionDenied):
            entry.save()
        entry.refresh_from_db()
        assert entry.reason == "Patient unwell"

    def test_an_entry_cannot_be_deleted(self, entry):
        with pytest.raises(PermissionDenied):
            entry.delete()
        with pytest.raises(PermissionDenied):
            AuditEntry.objects.filter(pk=entry.pk).delete()
        assert AuditEntry.objects.filter(pk=entry.pk).exists()

    def test_entries_cannot_be_updated_in_bulk(self, entry):
        with pytest.raises(PermissionDenied):
            AuditEntry.objects.update(reason="")
        entry.refresh_from_db()
        assert entry.reason == "Patient unwell"

    def test_the_login_that_acted_cannot_be_deleted(self, entry):
        from django.db.models import ProtectedError

        with pytest.raises(ProtectedError):
            entry.actor.delete()


@requires_postgresql
class TestDatabaseTrigger:
    """Whoever connects, the table itself refuses: the application is not the only guard."""

    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE bookings_auditentry SET reason = 'rewritten' WHERE id = %s",
            "DELETE FROM bookings_auditentry WHERE id = %s",
        ],
    )
    def test_update_and_delete_are_refused(self, entry, statement):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [entry.pk])
        entry.refresh_from_db()
        assert entry.reason == "Patient unwell"

    def test_inserting_is_allowed(self, entry):
        assert AuditEntry.objects.count() == 1


class TestStaffActions:
    """Each staff action on bookings and deliveries leaves one entry naming who, where from and what."""

    def test_retrying_a_sync_from_the_list(self, client, staff_user, monkeypatch, django_capture_on_commit_callbacks):
        from django.contrib.auth.models import Permission

        staff_user.user_permissions.add(Permission.objects.get(codename="change_booking"))
        monkeypatch.setattr(push_tasks.booking_sync_task, "delay", lambda booking_id: None)
        stuck = BookingFactory(sync_state=SyncState.NEEDS_ATTENTION)
        synced = BookingFactory(sync_state=SyncState.SYNCED)
        client.force_login(staff_user)

        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                reverse("admin:bookings_booking_changelist"),
                {"action": "retry_sync", "_selected_action": [stuck.pk, synced.pk]},
                REMOTE_ADDR="203.0.113.9",
            )

        [entry] = AuditEntry.objects.all()
        assert (entry.action, entry.booking, entry.actor, entry.ip_address) == (
            AuditAction.SYNC_RETRIED,
            stuck,
            staff_user,
            "203.0.113.9",
        )
        assert (entry.before, entry.after) == ({"sync_state": "needs_attention"}, {"sync_state": "pending"})

    def test_replaying_a_delivery(self, admin_client, admin_user, monkeypatch, django_capture_on_commit_callbacks):
        monkeypatch.setattr(inbox_tasks.delivery_process_task, "delay", lambda delivery_id: None)
        failed = InboundDeliveryFactory(status=DeliveryStatus.FAILED, attempts=5)
        busy = InboundDeliveryFactory(status=DeliveryStatus.PROCESSING)

        with django_capture_on_commit_callbacks(execute=True):
            admin_client.post(
                reverse("admin:bookings_inbounddelivery_changelist"),
                {"action": "replay", "_selected_action": [failed.pk, busy.pk]},
            )

        [entry] = AuditEntry.objects.all()
        assert (entry.action, entry.subject, entry.actor) == (AuditAction.DELIVERY_REPLAYED, str(failed), admin_user)
        assert (entry.before, entry.after) == ({"status": "failed", "attempts": 5}, {"status": "received"})
        assert entry.ip_address == "127.0.0.1"

    def test_an_action_that_fails_leaves_no_entry(self, staff_actor, monkeypatch):
        from bookings.inbox import deliveries

        failed = InboundDeliveryFactory(status=DeliveryStatus.FAILED)

        def broker_refuses(**kwargs):
            raise RuntimeError("no broker")

        monkeypatch.setattr(deliveries, "delivery_enqueue", broker_refuses)
        with pytest.raises(RuntimeError):
            deliveries.delivery_replay_by_staff(delivery_ids=[failed.pk], actor=staff_actor)
        assert not AuditEntry.objects.exists()
        failed.refresh_from_db()
        assert failed.status == DeliveryStatus.FAILED


class TestAdmin:
    def test_entries_are_listed_and_filtered(self, admin_client, entry):
        url = reverse("admin:bookings_auditentry_changelist")
        listed = admin_client.get(url, {"action__exact": AuditAction.BOOKING_CANCELLED})
        assert str(entry.subject) in listed.text
        assert "Patient unwell" in listed.text
        other = admin_client.get(url, {"action__exact": AuditAction.SYNC_RETRIED})
        assert "Patient unwell" not in other.text

    def test_not_even_a_superuser_can_add_change_or_delete(self, admin_client, entry):
        change_url = reverse("admin:bookings_auditentry_change", args=[entry.pk])
        page = admin_client.get(change_url)
        assert page.status_code == 200
        assert 'name="_save"' not in page.text
        assert admin_client.post(change_url, {"reason": "rewritten"}).status_code == 403
        assert admin_client.get(reverse("admin:bookings_auditentry_delete", args=[entry.pk])).status_code == 403
        assert admin_client.get(reverse("admin:bookings_auditentry_add")).status_code == 403
        entry.refresh_from_db()
        assert entry.reason == "Patient unwell"


def test_a_snapshot_reads_in_practice_time_and_changes_keep_only_differences():
    booking = BookingFactory(starts_at=datetime(2026, 12, 3, 23, 30, tzinfo=UTC))
    before = booking_snapshot(booking)
    assert before["starts_at"] == "2026-12-04T10:30:00+11:00"
    booking.status = "cancelled"
    assert snapshot_changes(before, booking_snapshot(booking)) == ({"status": "booked"}, {"status": "cancelled"})
