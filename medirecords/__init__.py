"""A client library for the MediRecords API, and a sandbox server that speaks it.

Framework-free on purpose: nothing here imports Django, so the library could be published
on its own. README.md beside this file documents the API as we know it and what we assume.
"""

from medirecords.client import MediRecordsClient
from medirecords.errors import (
    AuthError,
    FieldError,
    MediRecordsError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnknownIntervalError,
    UnreadableResponseError,
    ValidationError,
    is_transient,
)
from medirecords.types import (
    Address,
    Appointment,
    AppointmentStatus,
    AppointmentType,
    DemographicsUpdate,
    Document,
    EmergencyContact,
    Gender,
    IntervalCode,
    NewAppointment,
    NewPatient,
    Patient,
    PatientNumbers,
    Provider,
    RegularSession,
    Reminders,
    Title,
    Urgency,
)

__all__ = [
    "Address",
    "Appointment",
    "AppointmentStatus",
    "AppointmentType",
    "AuthError",
    "DemographicsUpdate",
    "Document",
    "EmergencyContact",
    "FieldError",
    "Gender",
    "IntervalCode",
    "MediRecordsClient",
    "MediRecordsError",
    "NewAppointment",
    "NewPatient",
    "NotFoundError",
    "Patient",
    "PatientNumbers",
    "Provider",
    "RateLimitedError",
    "RegularSession",
    "Reminders",
    "ServerError",
    "Title",
    "TransportError",
    "UnknownIntervalError",
    "UnreadableResponseError",
    "Urgency",
    "ValidationError",
    "is_transient",
]
