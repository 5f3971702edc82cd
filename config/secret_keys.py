"""The keys a process needs before it may start: checked for production, kept in VAR_DIR for development.

Production (DJANGO_DEBUG unset or false) must be given DJANGO_SECRET_KEY and
FIELD_ENCRYPTION_KEYS; it refuses to start without them rather than fail on the first form a
patient sends. A developer's machine (DJANGO_DEBUG=true) that sets neither gets random keys of
its own, made once and kept in VAR_DIR beside the database they protect, so no database is
ever readable with a value written in the repository.

Imported by config/settings.py, so it uses nothing that needs settings.
"""

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

DEVELOPMENT_SECRET_KEY_FILE = "development-secret-key"  # noqa: S105 - a file name
DEVELOPMENT_FIELD_ENCRYPTION_KEY_FILE = "development-field-encryption-key"


def development_secret_key(*, var_dir: Path) -> str:
    """This machine's own Django secret key, made on first use."""
    return _kept_secret(path=var_dir / DEVELOPMENT_SECRET_KEY_FILE, make=lambda: secrets.token_urlsafe(50))


def development_field_encryption_key(*, var_dir: Path) -> str:
    """This machine's own Fernet key for health data, made on first use."""
    return _kept_secret(
        path=var_dir / DEVELOPMENT_FIELD_ENCRYPTION_KEY_FILE, make=lambda: Fernet.generate_key().decode("ascii")
    )


def production_keys_check(*, secret_key: str, field_encryption_keys: list[str]) -> None:
    """Refuse to start in production without both keys, or with a value that is not a Fernet key."""
    missing = [
        name
        for name, value in (("DJANGO_SECRET_KEY", secret_key), ("FIELD_ENCRYPTION_KEYS", field_encryption_keys))
        if not value
    ]
    if missing:
        raise ImproperlyConfigured(
            f"{' and '.join(missing)} must be set when DJANGO_DEBUG is false (production, the default). "
            "DJANGO_SECRET_KEY: a long random string; FIELD_ENCRYPTION_KEYS: comma-separated Fernet keys "
            "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'). "
            "On a developer's machine set DJANGO_DEBUG=true instead (make run does)."
        )
    for position, key in enumerate(field_encryption_keys, start=1):
        try:
            Fernet(key.encode())
        except ValueError:
            # The key itself is never repeated: this message reaches the process's output.
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS: key {position} is not a Fernet key (32 url-safe base64 bytes)"
            ) from None


def _kept_secret(*, path: Path, make: Callable[[], str]) -> str:
    """The value in `path`, written there first with `make()` if the file does not exist yet.

    The web process, the worker and beat start together: each writes a candidate to a file of
    its own and hard-links it into place, which only the first can do, so all of them read the
    same complete value.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        candidate = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(make() + "\n")
        try:
            os.link(candidate, path)
        except FileExistsError:
            pass  # another process was first: everyone uses its value
        finally:
            candidate.unlink()
    return path.read_text().strip()
