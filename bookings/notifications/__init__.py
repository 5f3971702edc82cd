"""What patients and the enquiries inbox are told: what is due, the messages, the calendar
invite, the intake links, and sending with retries."""
