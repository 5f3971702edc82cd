"""JotForm submissions and triage assessments."""
