"""Clients for the external systems, built from settings once per process."""

import functools
import threading
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import msal  # type: ignore[import-untyped]
import requests
from django.conf import settings

from medirecords import MediRecordsClient
from practitioners.graph.client import GraphAuthError, GraphClient, GraphTransportError

GRAPH_SCOPES = ["https://graph.microsoft.com/.default"]
GRAPH_REQUIRED_SETTINGS = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")
# Hosts whose authorities msal knows and validates through Microsoft's instance discovery;
# any other host (a local identity provider) is taken as configured.
MICROSOFT_LOGIN_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "login.microsoftonline.us",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
    }
)
# msal sends its own requests without a timeout unless the session carries one.
IDENTITY_TIMEOUT = (5.0, 20.0)

_msal_lock = threading.Lock()


@cache
def medirecords_client() -> MediRecordsClient:
    """The MediRecords client configured by MEDIRECORDS_* settings (the sandbox by default)."""
    return MediRecordsClient(
        settings.MEDIRECORDS_API_URL,
        settings.MEDIRECORDS_API_TOKEN,
        settings.MEDIRECORDS_PRACTICE_ID,
        fhir_url=settings.MEDIRECORDS_FHIR_URL,
        fhir_token=settings.MEDIRECORDS_FHIR_TOKEN or None,
        time_zone=settings.PRACTICE_TIME_ZONE,
        notes_max_length=settings.MEDIRECORDS_NOTES_MAX_LENGTH,
    )


def graph_settings_missing() -> list[str]:
    """The AZURE_* settings Graph needs that are empty; none means Graph is configured."""
    return [name for name in GRAPH_REQUIRED_SETTINGS if not getattr(settings, name, "")]


@cache
def graph_client() -> GraphClient:
    """The Graph client configured by GRAPH_API_URL and AZURE_* settings, one per process.

    Raises `GraphAuthError` naming the missing variables when Graph is not configured.
    """
    _graph_settings_check()
    return GraphClient(base_url=settings.GRAPH_API_URL, token_provider=graph_token, session=_azure_session())


def graph_token() -> str:
    """An app-only Graph token; msal serves it from its cache until shortly before it expires."""
    application = _msal_application()
    try:
        result = application.acquire_token_for_client(scopes=GRAPH_SCOPES)
    except requests.RequestException as error:
        raise GraphTransportError(f"token request to {_authority()}: {type(error).__name__}") from error
    token = result.get("access_token") if isinstance(result, dict) else None
    if token:
        return str(token)
    result = result if isinstance(result, dict) else {}
    reason = str(result.get("error") or "no access token")
    # Azure's descriptions run to trace and correlation ids on further lines; the first says why.
    description = str(result.get("error_description") or "").strip().splitlines()[:1]
    message = f"no Graph token from {_authority()}: {reason}" + (f": {description[0]}" if description else "")
    if settings.AZURE_CLIENT_SECRET:
        message = message.replace(settings.AZURE_CLIENT_SECRET, "[secret]")
    raise GraphAuthError(message)


def graph_clients_reset() -> None:
    """Forget the per-process Graph client and msal application, so settings are read again."""
    graph_client.cache_clear()
    with _msal_lock:
        _msal_application_build.cache_clear()


def _msal_application() -> Any:
    # One application per process: its token cache is what keeps us from asking for a token per call.
    with _msal_lock:
        return _msal_application_build()


@cache
def _msal_application_build() -> Any:
    _graph_settings_check()
    options: dict[str, Any] = {}
    if urlsplit(settings.AZURE_AUTHORITY_HOST).hostname not in MICROSOFT_LOGIN_HOSTS:
        options["instance_discovery"] = False
    session = _azure_session()
    session.request = functools.partial(session.request, timeout=IDENTITY_TIMEOUT)  # type: ignore[method-assign]
    try:
        return msal.ConfidentialClientApplication(
            client_id=settings.AZURE_CLIENT_ID,
            authority=_authority(),
            client_credential=settings.AZURE_CLIENT_SECRET,
            http_client=session,
            **options,
        )
    except requests.RequestException as error:
        raise GraphTransportError(f"identity provider {_authority()}: {type(error).__name__}") from error
    except ValueError as error:
        raise GraphAuthError(f"identity provider {_authority()} refused the configuration: {error}") from error


def _authority() -> str:
    return f"{settings.AZURE_AUTHORITY_HOST.rstrip('/')}/{settings.AZURE_TENANT_ID}"


def _azure_session() -> requests.Session:
    """A session that also trusts AZURE_CA_BUNDLE when it is set (a local fake's certificate)."""
    session = requests.Session()
    if settings.AZURE_CA_BUNDLE:
        session.verify = settings.AZURE_CA_BUNDLE
        # Otherwise REQUESTS_CA_BUNDLE from the environment overrides the session's `verify`
        # on every request (requests merges environment settings over session ones), and
        # msal passes no `verify` of its own.
        session.trust_env = False
    return session


def _graph_settings_check() -> None:
    missing = graph_settings_missing()
    if missing:
        raise GraphAuthError(f"Microsoft Graph is not configured: set {', '.join(missing)}")
