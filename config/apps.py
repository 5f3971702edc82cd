from django.contrib.admin.apps import AdminConfig


class ClinicAdminConfig(AdminConfig):
    """The admin, with the staff console's own site as `admin.site`."""

    default_site = "config.admin_site.ClinicAdminSite"

    def ready(self) -> None:
        super().ready()
        # Registers the deployment checks of `manage.py check --deploy`.
        from config import checks  # noqa: F401
