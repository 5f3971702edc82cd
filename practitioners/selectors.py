"""Reads of practitioner data that other apps reuse."""

from practitioners.models import GraphSubscription


def graph_subscription_get(*, graph_id: str) -> GraphSubscription | None:
    """The subscription Graph calls `graph_id`, with its practitioner, or None."""
    return GraphSubscription.objects.select_related("practitioner").filter(graph_id=graph_id).first()
