"""The staff console's pages for bookings; importing the package registers them."""

from bookings.admin import booking, evidence, notifications, patients

__all__ = ["booking", "evidence", "notifications", "patients"]
