"""`python -m practitioners.fake_graph`, and config/fake-graph.env that points Django at it."""

import json
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from practitioners.fake_graph import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID, FAKE_MAILBOXES
from practitioners.fake_graph.__main__ import build_parser, mailboxes_read, main
from practitioners.services import environ_file_read
from tests.plugins.network_guard import started_server_register

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_the_defaults_are_the_ones_the_env_file_names():
    args = build_parser().parse_args([])
    env = environ_file_read(PROJECT_ROOT / "config" / "fake-graph.env")

    assert env["GRAPH_API_URL"] == f"http://{args.host}:{args.graph_port}/v1.0"
    assert env["AZURE_AUTHORITY_HOST"] == f"https://{args.host}:{args.identity_port}"
    assert env["AZURE_CA_BUNDLE"] == f"{args.cert_dir}/ca.pem"
    assert (env["AZURE_TENANT_ID"], env["AZURE_CLIENT_ID"], env["AZURE_CLIENT_SECRET"]) == (
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
    )
    mailboxes = {key: value for key, value in env.items() if key.endswith("_O365_MAILBOX")}
    assert mailboxes == {
        f"PRACTITIONER_{slug.upper().replace('-', '_')}_O365_MAILBOX": mailbox["id"]
        for slug, mailbox in FAKE_MAILBOXES.items()
    }


def test_the_practice_mailboxes_are_the_ones_of_the_recordings():
    created = json.loads((PROJECT_ROOT / "tests" / "fixtures" / "graph-notification-created.json").read_text())
    assert created["value"][0]["resource"].startswith(f"Users/{FAKE_MAILBOXES['dr-dia']['id']}/")
    assert created["value"][0]["tenantId"] == DEFAULT_TENANT_ID
    assert set(FAKE_MAILBOXES) == {"consultant", "dr-dia", "doctor-2", "nurse", "ramona"}


def test_a_mailboxes_file_may_be_a_list_or_an_object_by_slug(tmp_path):
    as_list = tmp_path / "list.json"
    as_list.write_text(json.dumps([{"principal_name": "a@b.example"}]))
    by_slug = tmp_path / "slugs.json"
    by_slug.write_text(json.dumps(FAKE_MAILBOXES))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"a": 1}))

    assert mailboxes_read(as_list) == [{"id": "", "principal_name": "a@b.example", "display_name": "a@b.example"}]
    assert mailboxes_read(by_slug) == list(FAKE_MAILBOXES.values())
    with pytest.raises(ValueError, match="must hold a list"):
        mailboxes_read(broken)


def test_main_fails_cleanly_on_a_bad_mailboxes_file(tmp_path, capsys):
    handlers = [signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)]

    assert main(["--graph-port=0", "--identity-port=0", f"--mailboxes-file={tmp_path / 'missing.json'}"]) == 1

    assert "cannot start" in capsys.readouterr().err
    assert [signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)] == handlers


def test_the_command_line_serves_until_terminated(tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "practitioners.fake_graph",
            "--graph-port=0",
            "--identity-port=0",
            f"--cert-dir={tmp_path}",
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("Fake Microsoft Graph serving http://127.0.0.1:"), line + process.stderr.read()
        graph_url = line.split()[4]
        started_server_register(port=int(urlsplit(graph_url).port or 0))
        assert str(tmp_path / "ca.pem") in line
        mailboxes = requests.get(graph_url.removesuffix("/v1.0") + "/_fake/mailboxes", timeout=5).json()["value"]
        assert [m["id"] for m in mailboxes] == [m["id"] for m in FAKE_MAILBOXES.values()]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        process.stdout.close()
        process.stderr.close()
