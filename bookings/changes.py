"""What every change to a booking sets off, wherever it came from.

An Office 365 event, a phone booking, an intake form, a staff decision: each ends with
`booking_changed`, in the transaction that made the change. MediRecords is then brought in
line with the booking (`bookings.push.sync`) and the patient and the enquiries inbox are told
what the change calls for (`bookings.notifications.sending`), each on a worker after commit.
"""

from django.db.models import F
from django.utils import timezone

from bookings.dispatch import booking_notify_enqueue, booking_sync_enqueue
from bookings.models import Booking, SyncState
from bookings.notifications.due import due_notifications_record


def booking_changed(*, booking_id: int) -> None:
    """Request the booking's sync to MediRecords and record the notifications it now calls for.

    The sync request is counted (`sync_requested_generation`), so many changes converge on one
    sync of the latest state. The notifications are recorded in the change's own transaction,
    so they survive a broker that is down when the tasks are enqueued (logged; the change
    stands): the sweeps find the request and the pending rows and finish them.
    """
    Booking.objects.filter(pk=booking_id).update(
        sync_requested_generation=F("sync_requested_generation") + 1,
        sync_requested_at=timezone.now(),
        sync_state=SyncState.PENDING,
    )
    booking_sync_enqueue(booking_id=booking_id)
    due_notifications_record(booking_id=booking_id)
    booking_notify_enqueue(booking_id=booking_id)
