"""The push of bookings to MediRecords: patients matched or created, appointments created,
moved and cancelled, with leases, recorded attempts, outage handling and staff review."""
