"""The staff console's own work: phone bookings, patient search, the day at a glance and the
staff logins."""
