"""Health data at rest: Fernet encryption over FIELD_ENCRYPTION_KEYS, and model fields using it.

The keys form a `MultiFernet`: the first key encrypts, every key decrypts, so rotation is
"put a new key first, run `manage.py rotate_encryption_keys`, then drop the old key".
The keys are never derived from anything else: production must be given them (it refuses to
start without), and a developer's machine gets a random one of its own in VAR_DIR
(config/secret_keys.py). With none configured nothing is stored or read rather than stored
in plaintext.
"""

import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Expression

from forms_intake.errors import FormsIntakeError


class DecryptionFailedError(FormsIntakeError):
    """A failure named for staff: a stored value could not be decrypted with any configured key."""


def encryption_keys() -> tuple[str, ...]:
    """The configured keys, first one encrypting."""
    keys = tuple(key.strip() for key in settings.FIELD_ENCRYPTION_KEYS if key.strip())
    if not keys:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is empty: set at least one Fernet key to store or read health data"
        )
    return keys


def multi_fernet() -> MultiFernet:
    """The MultiFernet for the keys configured now (rebuilt when the settings change)."""
    return _multi_fernet_for(encryption_keys())


@lru_cache(maxsize=1)
def _multi_fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes)"
        ) from error


def encrypt_bytes(plaintext: bytes) -> bytes:
    return multi_fernet().encrypt(plaintext)


def decrypt_bytes(token: bytes) -> bytes:
    try:
        return multi_fernet().decrypt(token)
    except InvalidToken as error:
        raise DecryptionFailedError("no configured key decrypts this value") from error


def reencrypt_bytes(token: bytes) -> bytes:
    """The same plaintext encrypted again with the first key."""
    try:
        return multi_fernet().rotate(token)
    except InvalidToken as error:
        raise DecryptionFailedError("no configured key decrypts this value") from error


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """Text stored as a Fernet token. Not searchable: look rows up by other fields."""

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        return encrypt_bytes(str(value).encode()).decode("ascii")

    def from_db_value(self, value: Any, expression: Expression, connection: BaseDatabaseWrapper) -> Any:
        if value is None:
            return None
        return decrypt_bytes(str(value).encode("ascii")).decode()

    def to_python(self, value: Any) -> Any:
        return value


class EncryptedJSONField(models.TextField):  # type: ignore[type-arg]
    """Any JSON value stored encrypted as one Fernet token of its JSON text."""

    # What the model's attribute holds, for the type checker: any JSON value.
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def get_prep_value(self, value: Any) -> Any:
        if value is None:
            return None
        return encrypt_bytes(json.dumps(value, sort_keys=True).encode()).decode("ascii")

    def from_db_value(self, value: Any, expression: Expression, connection: BaseDatabaseWrapper) -> Any:
        if value is None:
            return None
        return json.loads(decrypt_bytes(str(value).encode("ascii")))

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def value_to_string(self, obj: models.Model) -> str:
        return json.dumps(self.value_from_object(obj))
