"""Deployment checks of our own, run by `manage.py check --deploy` beside Django's."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def trusted_proxy_configured(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """Behind a TLS proxy with no trusted proxy named, every client has the proxy's address."""
    if not settings.BEHIND_TLS_PROXY or settings.TRUSTED_PROXY_IPS or settings.TRUSTED_PROXY_COUNT:
        return []
    return [
        Warning(
            "DJANGO_BEHIND_TLS_PROXY is on but neither TRUSTED_PROXY_IPS nor TRUSTED_PROXY_COUNT is set: "
            "every request seems to come from the proxy, so the per-address rate limits and the login "
            "lockout count all clients together, and the audit trail records the proxy's address.",
            hint="Set TRUSTED_PROXY_IPS to the proxy's address or network (or DJANGO_BEHIND_TLS_PROXY=false "
            "when nothing is in front of the service).",
            id="clinic.W001",
        )
    ]
