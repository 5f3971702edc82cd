"""What reading Office 365 can end in, other than Graph's own errors (`practitioners.graph.client`)."""


class Office365Error(Exception):
    """Base of what reading Office 365's notifications, events and subscriptions raises."""
