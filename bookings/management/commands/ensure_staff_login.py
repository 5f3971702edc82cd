import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from bookings.console.staff_logins import staff_authenticator_ensure, staff_login_ensure


class Command(BaseCommand):
    help = (
        "Create the first staff login if it does not exist: DJANGO_ADMIN_USERNAME (default admin) "
        "and DJANGO_ADMIN_PASSWORD; without a password one is generated and printed once. With two-factor "
        "logins required, the login's authenticator URI is printed once too."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        username = os.environ.get("DJANGO_ADMIN_USERNAME", "admin")
        user, generated_password = staff_login_ensure(
            username=username,
            password=os.environ.get("DJANGO_ADMIN_PASSWORD", ""),
            email=os.environ.get("DJANGO_ADMIN_EMAIL", ""),
        )
        if generated_password:
            self.stdout.write(
                f"Staff login created: {username} / {generated_password}  (shown once; change it in admin)"
            )
        else:
            self.stdout.write(f"Staff login {user.get_username()!r} is ready.")
        if settings.ADMIN_REQUIRE_TWO_FACTOR:
            uri = staff_authenticator_ensure(user=user)
            if uri:
                self.stdout.write(f"Add this to an authenticator app (shown once): {uri}")
