from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from medirecords.sandbox import SANDBOX_PRACTITIONERS, SandboxServer
from practitioners import clients
from practitioners.models import Practitioner
from practitioners.services import environ_file_read, external_id_variable

SANDBOX_ENV = Path(__file__).resolve().parents[2] / "config" / "sandbox.env"

pytestmark = pytest.mark.django_db


def test_the_sandbox_env_file_names_the_sandboxs_own_ids():
    variables = environ_file_read(SANDBOX_ENV)
    for slug, ids in SANDBOX_PRACTITIONERS.items():
        assert variables[external_id_variable(slug=slug, field_name="medirecords_provider_id")] == ids["provider_id"]
        assert (
            variables[external_id_variable(slug=slug, field_name="medirecords_appointment_type_id")]
            == ids["appointment_type_id"]
        )


def test_load_practice_takes_ids_from_an_env_file_and_the_environment_wins(monkeypatch):
    monkeypatch.setenv("PRACTITIONER_NURSE_MEDIRECORDS_PROVIDER_ID", "from-the-environment")
    call_command("load_practice", "--env-file", str(SANDBOX_ENV), stdout=StringIO())

    assert (
        Practitioner.objects.get(slug="dr-dia").medirecords_provider_id
        == SANDBOX_PRACTITIONERS["dr-dia"]["provider_id"]
    )
    assert Practitioner.objects.get(slug="nurse").medirecords_provider_id == "from-the-environment"


@pytest.fixture
def sandbox(settings):
    with SandboxServer(token="check-token") as server:
        settings.MEDIRECORDS_API_URL = server.api_url
        settings.MEDIRECORDS_FHIR_URL = server.fhir_url
        settings.MEDIRECORDS_API_TOKEN = "check-token"
        clients.medirecords_client.cache_clear()
        yield server
    clients.medirecords_client.cache_clear()


def test_medirecords_check_passes_when_every_practitioner_maps_to_the_sandbox(sandbox):
    call_command("load_practice", "--env-file", str(SANDBOX_ENV), stdout=StringIO())
    output = StringIO()
    call_command("medirecords_check", stdout=output)
    assert "Every active practitioner maps" in output.getvalue()


def test_medirecords_check_names_each_problem(sandbox):
    call_command("load_practice", "--env-file", str(SANDBOX_ENV), stdout=StringIO())
    Practitioner.objects.filter(slug="ramona").update(medirecords_provider_id="not-a-provider")
    Practitioner.objects.filter(slug="nurse").update(default_duration_minutes=7)
    output = StringIO()
    with pytest.raises(CommandError, match="2 problems"):
        call_command("medirecords_check", stdout=output)
    assert "ramona: its MediRecords provider id is not an active provider" in output.getvalue()
    assert "nurse: MediRecords has no appointment interval of 7 minutes" in output.getvalue()
