"""Staff logins for the console."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction


@transaction.atomic
def staff_login_ensure(*, username: str, password: str = "", email: str = "") -> tuple[AbstractUser, str | None]:
    """Make sure a superuser login named `username` exists.

    Returns the user and, when this call created it without a given password, the generated
    password (shown once to the person setting up; it is not stored anywhere else). An
    existing login is left exactly as it is.
    """
    user_model = get_user_model()
    existing = user_model.objects.filter(username=username).first()
    if existing is not None:
        return existing, None
    generated = None if password else secrets.token_urlsafe(12)
    user = user_model.objects.create_superuser(username=username, email=email, password=password or generated)
    return user, generated
