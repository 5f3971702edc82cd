"""Microsoft Graph: the client for calendars and subscriptions, and the subscriptions' upkeep."""
