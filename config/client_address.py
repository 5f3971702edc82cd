"""The address a staff request came from, for the login lockout and the audit trail."""

from django.conf import settings
from django.http import HttpRequest


def client_ip_address(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or behind the practice's TLS proxy the address that proxy appended.

    Only the last X-Forwarded-For entry is the proxy's own; earlier ones are whatever the
    client sent and could be forged.
    """
    if settings.BEHIND_TLS_PROXY:
        forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
        last = forwarded.split(",")[-1].strip()
        if last:
            return last
    return str(request.META.get("REMOTE_ADDR") or "") or None
