"""The Graph client built from settings: one msal application per process, tokens, failures."""

import msal  # type: ignore[import-untyped]
import pytest
import responses
from responses import matchers

from practitioners import clients
from practitioners.graph.client import GraphAuthError, GraphTransportError
from tests.practitioners.conftest import GRAPH

MAILBOX = "dr.dia@clinic.example.com.au"
EVENT_URL = f"{GRAPH}/users/{MAILBOX}/events/AAMk"


class FakeConfidentialClientApplication:
    """Stands in for msal's application: records how it was built and answers with `result`."""

    built: list[dict[str, object]] = []
    result: dict[str, object] = {"access_token": "token-from-msal", "token_type": "Bearer", "expires_in": 3599}
    scopes_asked: list[list[str]] = []

    def __init__(self, **kwargs):
        type(self).built.append(kwargs)

    def acquire_token_for_client(self, *, scopes):
        type(self).scopes_asked.append(scopes)
        return type(self).result


@pytest.fixture
def fake_msal(monkeypatch, graph_settings):
    FakeConfidentialClientApplication.built = []
    FakeConfidentialClientApplication.scopes_asked = []
    FakeConfidentialClientApplication.result = {"access_token": "token-from-msal", "expires_in": 3599}
    monkeypatch.setattr(msal, "ConfidentialClientApplication", FakeConfidentialClientApplication)
    return FakeConfidentialClientApplication


@responses.activate
def test_one_msal_application_serves_every_call_of_the_process(fake_msal):
    responses.get(
        EVENT_URL, json={"id": "AAMk"}, match=[matchers.header_matcher({"Authorization": "Bearer token-from-msal"})]
    )

    for _ in range(5):
        clients.graph_client().event_get(mailbox=MAILBOX, event_id="AAMk")

    assert clients.graph_client() is clients.graph_client()
    assert len(fake_msal.built) == 1
    assert fake_msal.scopes_asked == [["https://graph.microsoft.com/.default"]] * 5


def test_the_application_is_built_for_the_tenant_with_discovery_on_microsofts_host(fake_msal):
    clients.graph_token()

    built = fake_msal.built[0]
    assert built["client_id"] == "24d3b144-21ae-4080-943f-7067b395b913"
    assert built["authority"] == "https://login.microsoftonline.com/84bd8158-6d4d-4958-8b9f-9d6445542f95"
    assert built["client_credential"] == "client-secret-value-never-shown"
    assert "instance_discovery" not in built
    assert built["http_client"].verify is True


def test_a_local_identity_provider_skips_discovery_and_trusts_the_ca_bundle(fake_msal, settings, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    settings.AZURE_AUTHORITY_HOST = "https://127.0.0.1:8443/"
    settings.AZURE_CA_BUNDLE = str(bundle)
    clients.graph_clients_reset()

    clients.graph_token()

    built = fake_msal.built[0]
    assert built["authority"] == "https://127.0.0.1:8443/84bd8158-6d4d-4958-8b9f-9d6445542f95"
    assert built["instance_discovery"] is False
    assert built["http_client"].verify == str(bundle)
    # REQUESTS_CA_BUNDLE in the environment must not override the bundle on each request.
    assert built["http_client"].trust_env is False
    assert clients.graph_client()._session.verify == str(bundle)


def test_an_error_from_msal_is_an_auth_error_that_never_shows_the_secret(fake_msal):
    fake_msal.result = {
        "error": "invalid_client",
        "error_description": (
            "AADSTS7000215: Invalid client secret provided: client-secret-value-never-shown.\r\n"
            "Trace ID: 0b7e5c1a-1111-4a8e-8c1d-5e0f9a3b7d21\r\nCorrelation ID: 9f1c"
        ),
        "error_codes": [7000215],
    }

    with pytest.raises(GraphAuthError) as raised:
        clients.graph_token()

    message = str(raised.value)
    assert "invalid_client" in message
    assert "AADSTS7000215" in message
    assert "client-secret-value-never-shown" not in message
    assert "Trace ID" not in message


@pytest.mark.parametrize("missing", ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"])
def test_missing_settings_are_named(fake_msal, settings, missing):
    setattr(settings, missing, "")
    clients.graph_clients_reset()

    assert clients.graph_settings_missing() == [missing]
    with pytest.raises(GraphAuthError, match=f"not configured: set {missing}"):
        clients.graph_client()
    with pytest.raises(GraphAuthError, match=missing):
        clients.graph_token()
    assert fake_msal.built == []


# --- With msal itself, its identity provider answered by `responses` ----------------------

AUTHORITY_HOST = "https://login.clinic.test"
TENANT = "84bd8158-6d4d-4958-8b9f-9d6445542f95"
TOKEN_ENDPOINT = f"{AUTHORITY_HOST}/{TENANT}/oauth2/v2.0/token"


@pytest.fixture
def identity_provider(graph_settings, settings):
    settings.AZURE_AUTHORITY_HOST = AUTHORITY_HOST
    clients.graph_clients_reset()
    with responses.RequestsMock() as mock:
        mock.get(
            f"{AUTHORITY_HOST}/{TENANT}/v2.0/.well-known/openid-configuration",
            json={
                "issuer": f"{AUTHORITY_HOST}/{TENANT}/v2.0",
                "authorization_endpoint": f"{AUTHORITY_HOST}/{TENANT}/oauth2/v2.0/authorize",
                "token_endpoint": TOKEN_ENDPOINT,
            },
        )
        yield mock


def test_msal_asks_for_a_token_once_and_serves_it_from_its_cache(identity_provider):
    identity_provider.post(
        TOKEN_ENDPOINT,
        json={"token_type": "Bearer", "expires_in": 3599, "access_token": "real-msal-token"},
        match=[
            matchers.urlencoded_params_matcher(
                {"grant_type": "client_credentials"}, allow_blank=True, strict_match=False
            )
        ],
    )
    identity_provider.get(EVENT_URL, json={"id": "AAMk"})

    for _ in range(3):
        clients.graph_client().event_get(mailbox=MAILBOX, event_id="AAMk")

    token_requests = [call for call in identity_provider.calls if call.request.url == TOKEN_ENDPOINT]
    graph_requests = [call for call in identity_provider.calls if call.request.url == EVENT_URL]
    assert len(token_requests) == 1
    assert "client-secret-value-never-shown" in token_requests[0].request.body
    assert [call.request.headers["Authorization"] for call in graph_requests] == ["Bearer real-msal-token"] * 3


def test_msals_refusal_becomes_an_auth_error(identity_provider):
    identity_provider.post(
        TOKEN_ENDPOINT,
        status=401,
        json={
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: 1",
            "error_codes": [7000215],
        },
    )

    with pytest.raises(GraphAuthError) as raised:
        clients.graph_client().subscriptions_list()
    assert "AADSTS7000215" in str(raised.value)
    assert "client-secret-value-never-shown" not in str(raised.value)


def test_an_unreachable_identity_provider_is_a_transport_error(graph_settings, settings):
    settings.AZURE_AUTHORITY_HOST = AUTHORITY_HOST
    clients.graph_clients_reset()
    with responses.RequestsMock(), pytest.raises(GraphTransportError):
        clients.graph_token()
