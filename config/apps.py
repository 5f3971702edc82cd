from importlib import import_module

from django.contrib.admin.apps import AdminConfig


class ClinicAdminConfig(AdminConfig):
    """The admin, with the staff console's own site as `admin.site`; and, as the project's own
    app, the wiring done once Django is ready."""

    default_site = "config.admin_site.ClinicAdminSite"

    def ready(self) -> None:
        super().ready()
        # Registers the deployment checks of `manage.py check --deploy`.
        from config import checks  # noqa: F401
        from config.celery import TASK_PACKAGES

        # Registered in every process, so that any of them can enqueue a task by its name.
        for package in TASK_PACKAGES:
            import_module(f"{package}.tasks")
