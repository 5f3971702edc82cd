"""A command run by hand beside `make run` reads the local stand-ins' variables, as the service
does; a deployment never does. Each case runs manage.py in a fresh interpreter, as a person would."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

from config.local_env import LOCAL_ENV_FILES, local_env_load
from practitioners.services import environ_file_read
from tests.test_settings import PROJECT_ROOT
from tests.test_settings import clean_environment as settings_environment

SANDBOX_ENV, FAKE_GRAPH_ENV = (environ_file_read(path) for _, path in LOCAL_ENV_FILES)
# What the command sees: the settings Graph is reached with, and the practitioners' ids that
# `load_practice` reads from the environment.
REPORT = """
import json, os
from django.conf import settings
from practitioners.clients import graph_settings_missing
print(json.dumps({
    "graph_api_url": settings.GRAPH_API_URL,
    "authority": settings.AZURE_AUTHORITY_HOST,
    "client_id": settings.AZURE_CLIENT_ID,
    "graph_missing": graph_settings_missing(),
    "dr_dia_provider": os.environ.get("PRACTITIONER_DR_DIA_MEDIRECORDS_PROVIDER_ID", ""),
    "dr_dia_mailbox": os.environ.get("PRACTITIONER_DR_DIA_O365_MAILBOX", ""),
}))
"""


def clean_environment(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """A developer's shell beside `make run`: debug asked for, none of the service's variables
    set (Graph's and the practitioners' neither)."""
    others = ("AZURE_", "GRAPH_", "PRACTITIONER_")
    environment = {key: value for key, value in settings_environment(tmp_path).items() if not key.startswith(others)}
    return {**environment, "DJANGO_DEBUG": "true", **overrides}


def what_manage_py_sees(environment: dict[str, str]) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", REPORT],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,  # the assertion below shows what it said
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_with_only_debug_set_a_command_talks_to_the_local_stand_ins_make_run_starts(tmp_path):
    seen = what_manage_py_sees(clean_environment(tmp_path))

    assert seen["graph_missing"] == []
    assert (seen["graph_api_url"], seen["authority"], seen["client_id"]) == (
        FAKE_GRAPH_ENV["GRAPH_API_URL"],
        FAKE_GRAPH_ENV["AZURE_AUTHORITY_HOST"],
        FAKE_GRAPH_ENV["AZURE_CLIENT_ID"],
    )
    assert seen["dr_dia_mailbox"] == FAKE_GRAPH_ENV["PRACTITIONER_DR_DIA_O365_MAILBOX"]
    assert seen["dr_dia_provider"] == SANDBOX_ENV["PRACTITIONER_DR_DIA_MEDIRECORDS_PROVIDER_ID"]


def test_the_real_systems_configured_in_the_environment_keep_their_values(tmp_path):
    real_systems = {
        "AZURE_CLIENT_ID": "real-application",
        "MEDIRECORDS_API_URL": "https://api.medirecords.com/v1",
        "PRACTITIONER_DR_DIA_O365_MAILBOX": "dr.dia@clinic.example.com.au",
    }
    seen = what_manage_py_sees(clean_environment(tmp_path, **real_systems))

    assert (seen["graph_api_url"], seen["client_id"]) == ("https://graph.microsoft.com/v1.0", "real-application")
    assert seen["dr_dia_mailbox"] == "dr.dia@clinic.example.com.au"
    assert seen["dr_dia_provider"] == ""


def test_a_value_set_in_the_environment_wins_over_the_local_file(tmp_path):
    seen = what_manage_py_sees(clean_environment(tmp_path, GRAPH_API_URL="http://127.0.0.1:9/v1.0"))

    assert seen["graph_api_url"] == "http://127.0.0.1:9/v1.0"
    assert seen["client_id"] == FAKE_GRAPH_ENV["AZURE_CLIENT_ID"]


def test_a_deployment_never_reads_the_local_files(tmp_path):
    keys = {"DJANGO_SECRET_KEY": secrets.token_urlsafe(64), "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    production = clean_environment(tmp_path, DJANGO_DEBUG="false", **keys)
    debug_unset = {key: value for key, value in production.items() if key != "DJANGO_DEBUG"}
    distributed = clean_environment(tmp_path, DATABASE_URL=f"sqlite:///{Path(tmp_path) / 'other.sqlite3'}")

    for environment in (production, debug_unset, distributed):
        seen = what_manage_py_sees(environment)
        assert (seen["client_id"], seen["dr_dia_provider"]) == ("", "")
        assert seen["graph_missing"] != []


def test_the_local_files_win_over_dotenv_as_they_do_under_make_run(tmp_path, monkeypatch):
    # `.env` copied from `.env.example` names the real Graph; beside `make run` (whose processes
    # get the fake's file first) a hand-run command must talk to the fake as well.
    for name in [
        *FAKE_GRAPH_ENV,
        *SANDBOX_ENV,
        *(variable for variable, _ in LOCAL_ENV_FILES),
        "DATABASE_URL",
        "LOG_LEVEL",
    ]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DJANGO_DEBUG", "true")
    dotenv = tmp_path / ".env"
    dotenv.write_text("GRAPH_API_URL=https://graph.microsoft.com/v1.0\nLOG_LEVEL=DEBUG\n")

    read = local_env_load(dotenv=dotenv)

    assert [path for _, path in LOCAL_ENV_FILES] == read
    assert os.environ["GRAPH_API_URL"] == FAKE_GRAPH_ENV["GRAPH_API_URL"]
    # What only `.env` sets still counts.
    assert os.environ["LOG_LEVEL"] == "DEBUG"
