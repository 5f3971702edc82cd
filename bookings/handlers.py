"""The inbox's handlers for Graph deliveries: read the stored notification, call its service.

Registered from `BookingsConfig.ready`. The Graph client is the process's configured one.
"""

import json
from typing import Any

from bookings.graph_processing import graph_notification_process
from bookings.inbox import delivery_handler_register
from bookings.lifecycle import graph_lifecycle_process
from bookings.models import DeliverySource, InboundDelivery
from practitioners import clients


def graph_handlers_register() -> None:
    delivery_handler_register(source=DeliverySource.GRAPH, handler=graph_change_delivery_handle)
    delivery_handler_register(source=DeliverySource.GRAPH_LIFECYCLE, handler=graph_lifecycle_delivery_handle)


def graph_change_delivery_handle(delivery: InboundDelivery) -> None:
    graph_notification_process(notification=_notification(delivery), client=clients.graph_client())


def graph_lifecycle_delivery_handle(delivery: InboundDelivery) -> None:
    graph_lifecycle_process(notification=_notification(delivery), client=clients.graph_client())


def _notification(delivery: InboundDelivery) -> dict[str, Any]:
    notification: dict[str, Any] = json.loads(bytes(delivery.body))
    return notification
