"""Authenticator (TOTP) secrets: shown once, to the person enrolling the device, never again.

The secret is the second factor: whoever reads it can log in as the device's owner once they
have the password. So the console shows it only on the page that follows adding a device, to
the login that added it, in that session and only once; after that no page shows it, for
superusers neither.
"""

from typing import Any

import qrcode
from django.contrib.sessions.backends.base import SessionBase
from django_otp.plugins.otp_totp.models import TOTPDevice
from qrcode.image.svg import SvgPathImage

# Session key: the devices whose secret this session may still see, once each.
SHOW_ONCE_SESSION_KEY = "authenticator_secret_show_once"


def authenticator_secret_show_once_grant(*, session: SessionBase, device: TOTPDevice) -> None:
    """Let this session see `device`'s secret one time (just after adding it)."""
    pending = [pk for pk in session.get(SHOW_ONCE_SESSION_KEY, []) if pk != device.pk]
    session[SHOW_ONCE_SESSION_KEY] = [*pending, device.pk]


def authenticator_secret_show_once_take(*, session: SessionBase, device: TOTPDevice) -> bool:
    """Whether this session may see `device`'s secret now; a yes is used up by asking."""
    pending: list[Any] = list(session.get(SHOW_ONCE_SESSION_KEY, []))
    if device.pk not in pending:
        return False
    pending.remove(device.pk)
    session[SHOW_ONCE_SESSION_KEY] = pending
    return True


def authenticator_qr_code_svg(*, device: TOTPDevice) -> str:
    """The device's otpauth URI as an inline SVG QR code (no second request that could be replayed).

    One <path> rather than the namespaced <svg:rect> elements of django-otp's own image, which
    a browser's HTML parser draws as nothing when the SVG is inline in the page.
    """
    image = qrcode.make(device.config_url, image_factory=SvgPathImage)
    svg: str = image.to_string(encoding="unicode")
    # Inline in HTML: drop the XML declaration the file form starts with.
    return svg[svg.index("<svg") :]
