"""What stops a booking's sync, other than MediRecords' own errors (`medirecords.errors`)."""


class BookingSyncError(Exception):
    """Base of the push's own errors: what stops a sync or a staff decision on it."""


class SyncNeedsAttentionError(BookingSyncError):
    """A failure only a person can fix (a practitioner without MediRecords ids, an appointment
    removed in MediRecords); the message tells staff what, without patient data."""


class SyncBusyError(BookingSyncError):
    """A failure that may pass: another worker is matching the same patient right now; try again shortly."""
