"""What stops a booking's sync, other than MediRecords' own errors (`medirecords.errors`)."""


class SyncNeedsAttention(Exception):  # noqa: N818 - names the outcome staff see
    """Something only a person can fix (a practitioner without MediRecords ids, an appointment
    removed in MediRecords); the message tells staff what, without patient data."""


class SyncBusy(Exception):  # noqa: N818
    """Another worker is matching the same patient right now; try again shortly."""
