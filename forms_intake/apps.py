from django.apps import AppConfig


class FormsIntakeConfig(AppConfig):
    name = "forms_intake"
    verbose_name = "Intake forms"
