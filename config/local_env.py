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


def local_env_files(*, shell: dict[str, str] | None = None) -> list[Path]:
    """The local files that apply to this process.

    Debug and DATABASE_URL are read from `os.environ` (with `.env` in it); which stand-ins apply
    from `shell`, the environment before `.env` (default: `os.environ`), as the Makefile decides.
    """
    if os.environ.get(DEPLOYMENT_VARIABLE) or not _debug_turned_on():
        return []
    given = os.environ if shell is None else shell
    return [path for variable, path in LOCAL_ENV_FILES if not given.get(variable)]


def local_env_load(*, dotenv: Path = BASE_DIR / ".env") -> list[Path]:
    """Put the local files that apply, then `.env`, into `os.environ` under what is set already.

    The same order as under `make run`, where honcho hands its processes the local files and
    settings.py then reads `.env` under them: the shell's environment first, then the local
    stand-ins, then `.env`. Returns the local files read.
    """
    shell = dict(os.environ)
    environ.Env.read_env(dotenv, overwrite=False)
    from_dotenv = {name: value for name, value in os.environ.items() if name not in shell}
    files = local_env_files(shell=shell)
    for name in from_dotenv:
        del os.environ[name]
    for path in files:
        environ.Env.read_env(path, overwrite=False)
    for name, value in from_dotenv.items():
        os.environ.setdefault(name, value)
    return files


def _debug_turned_on() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "").strip().lower() in environ.Env.BOOLEAN_TRUE_STRINGS
