from django.apps import AppConfig

# The flows whose `tasks` module registers Celery tasks; imported at start so that any
# process can enqueue them by name (`bookings.dispatch`).
TASK_PACKAGES = ("bookings.inbox", "bookings.office365", "bookings.push", "bookings.notifications")


class BookingsConfig(AppConfig):
    name = "bookings"
    verbose_name = "Bookings"

    def ready(self) -> None:
        from importlib import import_module

        from bookings.inbox.deliveries import delivery_handler_register
        from bookings.models import DeliverySource
        from bookings.office365.processing import graph_change_delivery_handle
        from bookings.office365.subscription_lifecycle import graph_lifecycle_delivery_handle

        delivery_handler_register(source=DeliverySource.GRAPH, handler=graph_change_delivery_handle)
        delivery_handler_register(source=DeliverySource.GRAPH_LIFECYCLE, handler=graph_lifecycle_delivery_handle)
        for package in TASK_PACKAGES:
            import_module(f"{package}.tasks")
