"""Office 365 calendars through Microsoft Graph: the notification receivers and their checks,
reading an event, applying it to our bookings, and the subscriptions' lifecycle and resyncs."""
