"""The local stand-ins' variables, for a command run by hand beside `make run`.

`make run` hands its processes `config/sandbox.env` (the MediRecords sandbox's provider ids)
unless MEDIRECORDS_API_URL is set, and `config/fake-graph.env` (the local fake of Microsoft
Graph) unless AZURE_CLIENT_ID is set. `manage.py` reads the same files on the same
conditions, so that `manage.py graph_subscriptions sync` or `load_practice` in another shell
talks to what the running service talks to. Keep LOCAL_ENV_FILES in step with the Makefile's.

Only on a developer's machine (DJANGO_DEBUG=true, in the environment or `.env`, and no
DATABASE_URL): an unset DJANGO_DEBUG is production, which never reads them. Never over a value
the environment or `.env` gives. No Django here: this runs before the settings are read.
"""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
# Each file, and the variable whose presence says the real system is configured instead.
LOCAL_ENV_FILES = (
    ("MEDIRECORDS_API_URL", BASE_DIR / "config" / "sandbox.env"),
    ("AZURE_CLIENT_ID", BASE_DIR / "config" / "fake-graph.env"),
)
# Variables that mark a deployment, where the local stand-ins have no place.
DEPLOYMENT_VARIABLE = "DATABASE_URL"
DEBUG_VARIABLE = "DJANGO_DEBUG"


def local_env_files() -> list[Path]:
    """The local files that apply to this process, read from `os.environ` (with `.env` in it)."""
    if os.environ.get(DEPLOYMENT_VARIABLE) or not _debug_turned_on():
        return []
    return [path for variable, path in LOCAL_ENV_FILES if not os.environ.get(variable)]


def local_env_load() -> list[Path]:
    """Put `.env`, then the local files that apply, into `os.environ` under what is set already.

    `.env` goes first (settings.py reads it the same way, and then finds nothing left to add), so
    what it configures decides, as the real environment does. Returns the local files read.
    """
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
    files = local_env_files()
    for path in files:
        environ.Env.read_env(path, overwrite=False)
    return files


def _debug_turned_on() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "").strip().lower() in environ.Env.BOOLEAN_TRUE_STRINGS
