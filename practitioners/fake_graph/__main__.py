"""`python -m practitioners.fake_graph --graph-port 8200 --identity-port 8201 --cert-dir var/fake-graph`:
serves the fake Graph and identity provider until SIGINT or SIGTERM.

The defaults match config/fake-graph.env, which points a Django process at it.
"""

import argparse
import json
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medirecords.sandbox.http_server import run_until_signalled, serve_until_stopped
from practitioners.fake_graph.seed import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TENANT_ID,
    FAKE_MAILBOXES,
    MailboxSeed,
)
from practitioners.fake_graph.server import FakeGraphServer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m practitioners.fake_graph",
        description="Serve a fake Microsoft Graph and identity provider (bind it to localhost only).",
    )
    parser.add_argument("--graph-port", type=int, default=8200, help="Graph API and control port; 0 picks one")
    parser.add_argument("--identity-port", type=int, default=8201, help="identity provider (HTTPS) port; 0 picks one")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument(
        "--cert-dir", default="var/fake-graph", help="where to write ca.pem and key.pem (default: %(default)s)"
    )
    parser.add_argument("--tenant-id", default=DEFAULT_TENANT_ID)
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--client-secret", default=DEFAULT_CLIENT_SECRET)
    parser.add_argument(
        "--mailboxes-file",
        type=Path,
        default=None,
        help="JSON list (or object by slug) of {id, principal_name, display_name} to seed instead of the "
        "practice's five mailboxes",
    )
    parser.add_argument("--duplicate-updates", action="store_true", help="send every 'updated' notification twice")
    parser.add_argument("--delta-page-size", type=int, default=10, help="events per delta page")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_until_signalled(lambda stopping: _serve(args, stopping))


def mailboxes_read(path: Path) -> list[MailboxSeed]:
    """The mailboxes of a `--mailboxes-file`; raises ValueError when it is not one."""
    try:
        loaded: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}") from None
    entries = list(loaded.values()) if isinstance(loaded, dict) else loaded
    if not isinstance(entries, list) or not all(
        isinstance(entry, dict) and isinstance(entry.get("principal_name"), str) for entry in entries
    ):
        raise ValueError(f"{path} must hold a list of {{id, principal_name, display_name}} objects")
    return [
        MailboxSeed(
            id=str(entry.get("id", "")),
            principal_name=entry["principal_name"],
            display_name=str(entry.get("display_name", entry["principal_name"])),
        )
        for entry in entries
    ]


def _serve(args: argparse.Namespace, stopping: threading.Event) -> int:
    return serve_until_stopped(
        lambda: _fake_made(args),
        name="fake graph",
        announcement=_announcement,
        verbose=args.verbose,
        stopping=stopping,
    )


def _fake_made(args: argparse.Namespace) -> FakeGraphServer:
    mailboxes = mailboxes_read(args.mailboxes_file) if args.mailboxes_file else list(FAKE_MAILBOXES.values())
    return FakeGraphServer(
        graph_port=args.graph_port,
        identity_port=args.identity_port,
        host=args.host,
        tenant_id=args.tenant_id,
        client_id=args.client_id,
        client_secret=args.client_secret,
        cert_dir=args.cert_dir,
        mailboxes=mailboxes,
        duplicate_updates=args.duplicate_updates,
        delta_page_size=args.delta_page_size,
    )


def _announcement(server: FakeGraphServer) -> str:
    return (
        f"Fake Microsoft Graph serving {server.graph_url} (control {server.control_url}/_fake/), "
        f"identity provider {server.authority}, CA {server.ca_cert_path}"
    )


if __name__ == "__main__":
    sys.exit(main())
