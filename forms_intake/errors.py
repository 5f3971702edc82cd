"""What taking in a JotForm submission can end in, from its webhook to the patient's record."""


class FormsIntakeError(Exception):
    """Base of what receiving, reading and pushing an intake form raises."""
