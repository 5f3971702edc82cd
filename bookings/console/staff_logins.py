"""Staff logins for the console."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice


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


def staff_authenticator_ensure(*, user: AbstractUser) -> str | None:
    """Give the login an authenticator (TOTP) device if it has none; returns its otpauth URI once.

    The URI (or the QR code the console shows for the device) goes into the person's
    authenticator app; it is the second factor, so it is shown only when created.
    """
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return None
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    return str(device.config_url)
