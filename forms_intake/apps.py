from django.apps import AppConfig


class FormsIntakeConfig(AppConfig):
    name = "forms_intake"
    verbose_name = "Intake forms"

    def ready(self) -> None:
        from bookings.inbox.deliveries import delivery_handler_register
        from forms_intake.processing import jotform_delivery_process

        delivery_handler_register(source="jotform", handler=jotform_delivery_process)
