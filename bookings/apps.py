from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "bookings"
    verbose_name = "Bookings"

    def ready(self) -> None:
        from bookings.inbox.deliveries import delivery_handler_register
        from bookings.models import DeliverySource
        from bookings.office365.processing import graph_change_delivery_handle
        from bookings.office365.subscription_lifecycle import graph_lifecycle_delivery_handle

        delivery_handler_register(source=DeliverySource.GRAPH, handler=graph_change_delivery_handle)
        delivery_handler_register(source=DeliverySource.GRAPH_LIFECYCLE, handler=graph_lifecycle_delivery_handle)
