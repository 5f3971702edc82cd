from typing import Any

from django.core.management.base import BaseCommand

from practitioners.staff_roles import staff_roles_ensure


class Command(BaseCommand):
    help = "Create the console's roles (Practice manager, Front desk, Practitioner, Consultant) or reset them."

    def handle(self, *args: Any, **options: Any) -> None:
        for role, count in staff_roles_ensure().items():
            self.stdout.write(f"{role}: {count} permissions")
