"""The fake Microsoft identity platform (Entra ID): the OpenID discovery document msal reads, and the
token endpoint of the client credentials grant.

msal 1.39 (authority.py, with `instance_discovery=False`) reads
`{authority}/v2.0/.well-known/openid-configuration` and requires `authorization_endpoint` and
`token_endpoint` in it (KeyError otherwise); it takes `issuer` and `device_authorization_endpoint`
when present, and the tenant from the token endpoint's first path segment, which must be https.
The client credentials grant then POSTs a form to the token endpoint with `client_id`,
`client_secret`, `grant_type` and `scope`. Errors are answered as Entra answers them: an OAuth
error body with an AADSTS code in its description.
"""

import base64
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from practitioners.fake_graph.web import Call, Reply, Router

TOKEN_LIFETIME_SECONDS = 3599
GRAPH_DEFAULT_SCOPES = frozenset(
    {"https://graph.microsoft.com/.default", "00000003-0000-0000-c000-000000000000/.default"}
)


@dataclass
class _Token:
    client_id: str
    expires_at: datetime


class TokenRegistry:
    """The access tokens issued, so that the fake Graph accepts exactly those, until they expire."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, _Token] = {}
        self._issued = 0

    def issue(self, client_id: str) -> str:
        token = secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[token] = _Token(client_id, datetime.now(UTC) + timedelta(seconds=TOKEN_LIFETIME_SECONDS))
            self._issued += 1
        return token

    def refusal(self, token: str) -> str | None:
        """Why Graph would refuse `token`, or None when it accepts it."""
        if not token:
            return "Access token is empty."
        with self._lock:
            known = self._tokens.get(token)
        if known is None:
            return "Access token validation failure. Invalid audience."
        if known.expires_at <= datetime.now(UTC):
            return "Lifetime validation failed, the token is expired."
        return None

    @property
    def issued(self) -> int:
        with self._lock:
            return self._issued

    def expire_all(self) -> None:
        """Makes every token issued so far expired, as if an hour had passed."""
        with self._lock:
            for token in self._tokens.values():
                token.expires_at = datetime.now(UTC)

    def reset_count(self) -> None:
        """Restarts the count; tokens already issued stay valid, as a process using them still holds them."""
        with self._lock:
            self._issued = 0


class IdentityProvider:
    """Answers discovery and token requests for one tenant and one confidential client application."""

    def __init__(self, *, tenant_id: str, client_id: str, client_secret: str, tokens: TokenRegistry) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens = tokens
        # Set by the server once bound: `https://127.0.0.1:<port>`.
        self.authority_host = ""
        tenant = r"/(?P<tenant>[^/]+)"
        self.router = Router(
            {
                f"{tenant}/v2.0/.well-known/openid-configuration": {"GET": self._discovery},
                f"{tenant}/oauth2/v2.0/token": {"POST": self._token},
            },
            not_found=lambda call: Reply.json(404, {"error": "not_found", "error_description": "Not found."}),
            method_not_allowed=lambda call: _oauth_error(405, "invalid_request", 900561, "Use POST."),
        )

    def __call__(self, call: Call) -> Reply:
        return self.router.dispatch(call)

    def _discovery(self, call: Call) -> Reply:
        tenant = call.params["tenant"]
        if tenant != self.tenant_id:
            return _unknown_tenant(tenant)
        base = f"{self.authority_host}/{tenant}"
        return Reply.json(
            200,
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/v2.0",
                # Advertised because msal requires them; the fake serves the client credentials grant only.
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "tenant_region_scope": "OC",
                "cloud_instance_name": "microsoftonline.com",
                "msgraph_host": "graph.microsoft.com",
            },
        )

    def _token(self, call: Call) -> Reply:
        tenant = call.params["tenant"]
        if tenant != self.tenant_id:
            return _unknown_tenant(tenant)
        form = {name: values[0] for name, values in parse_qs(call.body.decode("utf-8", "replace")).items()}
        client_id, client_secret = _client_credentials(form, call.headers.get("Authorization", ""))
        grant_type = form.get("grant_type", "")
        if grant_type != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant_type}'."
            )
        if client_id != self.client_id:
            return _oauth_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory '{tenant}'.",
            )
        if not secrets.compare_digest(client_secret.encode(), self.client_secret.encode()):
            return _oauth_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                f"value, not the client secret ID, for a secret added to app '{client_id}'.",
            )
        scopes = set(form.get("scope", "").split())
        if len(scopes) != 1 or not scopes <= GRAPH_DEFAULT_SCOPES:
            return _oauth_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {form.get('scope', '')} is not valid. Client credential flows must "
                "have a scope value with /.default suffixed to the resource identifier (application ID URI).",
            )
        return Reply.json(
            200,
            {
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME_SECONDS,
                "ext_expires_in": TOKEN_LIFETIME_SECONDS,
                "access_token": self.tokens.issue(client_id),
            },
            headers=(("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache")),
        )


def _client_credentials(form: dict[str, str], authorization: str) -> tuple[str, str]:
    """The client id and secret, from HTTP Basic (RFC 6749 2.3.1) or else from the form (msal's way)."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except ValueError:
            decoded = ""
        user, separator, password = decoded.partition(":")
        if separator:
            return unquote_plus(user), unquote_plus(password)
    return form.get("client_id", ""), form.get("client_secret", "")


def _unknown_tenant(tenant: str) -> Reply:
    return _oauth_error(
        400,
        "invalid_tenant",
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into "
        "the correct cloud.",
    )


def _oauth_error(status: int, error: str, aadsts: int, description: str) -> Reply:
    now = datetime.now(UTC)
    trace_id = str(uuid.uuid4())
    correlation_id = str(uuid.uuid4())
    body: dict[str, Any] = {
        "error": error,
        # Entra puts the trace and correlation ids on lines of their own, after the reason.
        "error_description": (
            f"AADSTS{aadsts}: {description}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}"
            f"\r\nTimestamp: {now:%Y-%m-%d %H:%M:%SZ}"
        ),
        "error_codes": [aadsts],
        "timestamp": f"{now:%Y-%m-%d %H:%M:%SZ}",
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"https://login.microsoftonline.com/error?code={aadsts}",
    }
    return Reply.json(status, body)
