"""msal, unchanged, obtains tokens from the fake identity provider over TLS, and the fake Graph takes them."""

from pathlib import Path

import msal  # type: ignore[import-untyped]
import pytest
import requests

from practitioners.fake_graph import FakeGraphServer

GRAPH_SCOPE = ["https://graph.microsoft.com/.default"]


def trusting_session(fake):
    session = requests.Session()
    session.verify = fake.ca_cert_path
    # requests lets REQUESTS_CA_BUNDLE (set on many machines) override a session's `verify`;
    # msal passes no `verify` of its own, so only ignoring the environment makes the bundle count.
    session.trust_env = False
    return session


def msal_app(fake, *, client_id=None, secret=None):
    session = trusting_session(fake)
    return msal.ConfidentialClientApplication(
        client_id or fake.client_id,
        authority=f"{fake.authority_host}/{fake.tenant_id}",
        client_credential=secret or fake.client_secret,
        instance_discovery=False,
        http_client=session,
    )


def test_msal_obtains_a_token_that_the_fake_graph_accepts(fake):
    result = msal_app(fake).acquire_token_for_client(scopes=GRAPH_SCOPE)

    assert "access_token" in result, result
    assert result["token_type"] == "Bearer"
    answer = requests.get(
        f"{fake.graph_url}/subscriptions", headers={"Authorization": f"Bearer {result['access_token']}"}, timeout=5
    )
    assert answer.status_code == 200
    assert answer.json()["value"] == []


def test_msal_serves_the_second_request_from_its_cache(fake):
    app = msal_app(fake)

    first = app.acquire_token_for_client(scopes=GRAPH_SCOPE)
    second = app.acquire_token_for_client(scopes=GRAPH_SCOPE)

    assert second["access_token"] == first["access_token"]
    assert second["token_source"] == "cache"
    assert fake.tokens_issued() == 1


def test_a_wrong_secret_gives_msal_an_error_dict(fake):
    result = msal_app(fake, secret="not-the-secret").acquire_token_for_client(scopes=GRAPH_SCOPE)

    assert result["error"] == "invalid_client"
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert "access_token" not in result
    assert fake.tokens_issued() == 0


def test_an_unknown_application_is_refused_as_entra_refuses_it(fake):
    result = msal_app(fake, client_id="00000000-0000-0000-0000-000000000000").acquire_token_for_client(
        scopes=GRAPH_SCOPE
    )

    assert result["error"] == "unauthorized_client"
    assert "AADSTS700016" in result["error_description"]


def test_the_token_endpoint_answers_401_invalid_client_for_a_wrong_secret(fake):
    response = requests.post(
        f"{fake.authority}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": fake.client_id,
            "client_secret": "wrong",
            "scope": GRAPH_SCOPE[0],
        },
        verify=fake.ca_cert_path,
        timeout=5,
    )

    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_client"
    assert body["error_codes"] == [7000215]


def test_the_token_endpoint_takes_http_basic_client_authentication(fake):
    response = requests.post(
        f"{fake.authority}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "scope": GRAPH_SCOPE[0]},
        auth=(fake.client_id, fake.client_secret),
        verify=fake.ca_cert_path,
        timeout=5,
    )

    assert response.status_code == 200
    assert set(response.json()) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert response.json()["expires_in"] == 3599


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"scope": "Calendars.Read"}, "invalid_scope"),
    ],
)
def test_the_token_endpoint_refuses_other_grants_and_scopes(fake, changes, error):
    form = {
        "grant_type": "client_credentials",
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "scope": GRAPH_SCOPE[0],
    } | changes
    response = requests.post(f"{fake.authority}/oauth2/v2.0/token", data=form, verify=fake.ca_cert_path, timeout=5)

    assert response.status_code == 400
    assert response.json()["error"] == error


def test_the_discovery_document_names_the_endpoints_msal_uses(fake):
    response = requests.get(
        f"{fake.authority}/v2.0/.well-known/openid-configuration", verify=fake.ca_cert_path, timeout=5
    )

    document = response.json()
    assert document["token_endpoint"] == f"{fake.authority}/oauth2/v2.0/token"
    assert document["authorization_endpoint"] == f"{fake.authority}/oauth2/v2.0/authorize"
    assert document["issuer"] == f"{fake.authority}/v2.0"
    assert document["device_authorization_endpoint"].startswith("https://127.0.0.1:")


def test_an_unknown_tenant_is_not_found(fake):
    response = requests.get(
        f"{fake.authority_host}/another-tenant/v2.0/.well-known/openid-configuration",
        verify=fake.ca_cert_path,
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_tenant"


def test_the_certificate_is_not_trusted_without_the_ca_bundle(fake):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{fake.authority}/v2.0/.well-known/openid-configuration", timeout=5)


def test_graph_refuses_requests_without_a_token_it_issued(fake):
    for headers in ({}, {"Authorization": "Bearer made-up"}, {"Authorization": "Basic abc"}):
        response = requests.get(f"{fake.graph_url}/subscriptions", headers=headers, timeout=5)

        assert response.status_code == 401
        assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
        assert "WWW-Authenticate" in response.headers


def test_expired_tokens_are_refused_and_msal_gets_a_new_one(fake):
    app = msal_app(fake)
    old = app.acquire_token_for_client(scopes=GRAPH_SCOPE)["access_token"]

    fake.expire_tokens()
    refused = requests.get(f"{fake.graph_url}/subscriptions", headers={"Authorization": f"Bearer {old}"}, timeout=5)
    app.remove_tokens_for_client()
    new = app.acquire_token_for_client(scopes=GRAPH_SCOPE)["access_token"]
    accepted = requests.get(f"{fake.graph_url}/subscriptions", headers={"Authorization": f"Bearer {new}"}, timeout=5)

    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "Lifetime validation failed, the token is expired."
    assert accepted.status_code == 200
    assert fake.tokens_issued() == 2


def test_the_certificate_and_key_are_written_to_the_given_directory(tmp_path):
    with FakeGraphServer(cert_dir=tmp_path / "certs") as fake:
        assert fake.ca_cert_path == str(tmp_path / "certs" / "ca.pem")
        assert (tmp_path / "certs" / "key.pem").stat().st_mode & 0o077 == 0

    assert (tmp_path / "certs" / "ca.pem").exists()


def test_a_temporary_certificate_is_removed_at_stop():
    with FakeGraphServer() as fake:
        path = Path(fake.ca_cert_path)
        assert path.exists()

    assert not path.exists()
