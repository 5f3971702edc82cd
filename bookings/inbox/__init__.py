"""The inbox: every delivery from every sender, stored before it is processed, then dispatched
to its source's handler, swept when lost, and replayed on request."""
