import json
from pathlib import Path

import pytest

from practitioners import clients
from practitioners.graph.client import GraphClient

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GRAPH = "https://graph.microsoft.com/v1.0"
PUBLIC_BASE_URL = "https://ops.clinic.example.com.au"


def fixture_json(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def tokens():
    """The tokens the fake provider hands out, one per call, the last one repeated."""
    return ["token-1"]


@pytest.fixture
def token_calls():
    return []


@pytest.fixture
def graph(sleeps, tokens, token_calls):
    def token_provider():
        token_calls.append(1)
        return tokens[min(len(token_calls), len(tokens)) - 1]

    return GraphClient(base_url=GRAPH, token_provider=token_provider, sleep=sleeps.append)


@pytest.fixture
def graph_settings(settings):
    """Graph configured, pointing at the real cloud's addresses (responses answers for it)."""
    settings.AZURE_TENANT_ID = "84bd8158-6d4d-4958-8b9f-9d6445542f95"
    settings.AZURE_CLIENT_ID = "24d3b144-21ae-4080-943f-7067b395b913"
    settings.AZURE_CLIENT_SECRET = "client-secret-value-never-shown"
    settings.AZURE_AUTHORITY_HOST = "https://login.microsoftonline.com"
    settings.AZURE_CA_BUNDLE = ""
    settings.GRAPH_API_URL = GRAPH
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL
    clients.graph_clients_reset()
    yield settings
    clients.graph_clients_reset()


@pytest.fixture
def configured(graph_settings, graph):
    """Graph configured, its client the test's (recorded sleeps, fake tokens)."""
    built = clients.graph_client
    clients.graph_client = lambda: graph
    yield graph
    clients.graph_client = built
