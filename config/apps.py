from django.contrib.admin.apps import AdminConfig


class ClinicAdminConfig(AdminConfig):
    """The admin, with the staff console's own site as `admin.site`."""

    default_site = "config.admin_site.ClinicAdminSite"
