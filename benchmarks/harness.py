"""Pieces the benchmark drivers share: a fresh database, and waiting for a server."""

import subprocess
import time
import urllib.request
from urllib.parse import urlsplit, urlunsplit


def with_database(url: str, name: str) -> str:
    """`url` with its database name replaced by `name`."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def recreate_database(*, python: str, admin_url: str, name: str) -> None:
    script = (
        "import psycopg, sys\n"
        "with psycopg.connect(sys.argv[1], autocommit=True) as connection:\n"
        f"    connection.execute('DROP DATABASE IF EXISTS {name} WITH (FORCE)')\n"
        f"    connection.execute('CREATE DATABASE {name}')\n"
    )
    subprocess.run([python, "-c", script, admin_url], check=True)


def wait_until_serving(url: str, *, deadline_seconds: float = 60) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own local URL
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer {url} within {deadline_seconds} s")
