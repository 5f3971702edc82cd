from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PractitionersConfig(AppConfig):
    name = "practitioners"
    verbose_name = "Practitioners"

    def ready(self) -> None:
        post_migrate.connect(_staff_roles_after_migrate, dispatch_uid="practitioners.staff_roles")


def _staff_roles_after_migrate(sender: AppConfig, **kwargs: Any) -> None:
    """Keep the roles in step with the permissions every migration may add.

    Permissions are created per app after migrating, so the roles are set once the last
    app's permissions exist; earlier calls are no-ops.
    """
    from django.apps import apps

    if sender.label != list(apps.get_app_configs())[-1].label:
        return
    from practitioners.staff_roles import staff_roles_ensure

    staff_roles_ensure()
