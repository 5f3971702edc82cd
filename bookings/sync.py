"""The push of bookings to MediRecords, the practice's record of truth.

Whatever changes a booking (a new Office 365 event, a move, a cancellation, new patient
details) asks for a sync through `booking_sync_request`, the one way in; the sync itself,
`booking_sync`, runs on a worker and reads the booking as it is then, so several requests
for one booking converge on its latest state.
"""

import logging

from django.db import transaction

logger = logging.getLogger("clinic.sync")


def booking_sync_request(*, booking_id: int) -> None:
    """Have the booking synced to MediRecords once the current transaction commits.

    A broker that cannot be reached is logged and does not undo the booking's change; the
    booking's sync state then stays as it was ("Waiting to sync" for a new one).
    """
    from bookings.tasks import booking_sync_task

    transaction.on_commit(lambda: booking_sync_task.delay(booking_id), robust=True)


def booking_sync(*, booking_id: int) -> None:
    """Bring MediRecords in line with the booking: its patient, and its appointment.

    The one place a booking reaches MediRecords. For now it records that a sync was asked
    for; matching the patient and creating, moving or cancelling the appointment go here.
    """
    logger.info("booking sync requested", extra={"booking_id": booking_id})
