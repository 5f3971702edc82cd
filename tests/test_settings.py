"""Settings are read once per process, so each case runs Django in a fresh interpreter."""

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken

PROJECT_ROOT = Path(__file__).resolve().parent.parent

REPORT = """
import json, django
from django.conf import settings
django.setup()
from django.db import connection
database = settings.DATABASES["default"]
report = {
    "engine": database["ENGINE"],
    "name": str(database["NAME"]),
    "host": database.get("HOST", ""),
    "broker": settings.CELERY_BROKER_URL,
    "cache": settings.CACHES["default"]["BACKEND"],
    "time_zone": settings.PRACTICE_TIME_ZONE,
    "use_tz": settings.USE_TZ,
    "debug": settings.DEBUG,
    "medirecords": settings.MEDIRECORDS_API_URL,
    "email_backend": settings.EMAIL_BACKEND,
    "email_file_path": str(getattr(settings, "EMAIL_FILE_PATH", "")),
    "two_factor": settings.ADMIN_REQUIRE_TWO_FACTOR,
    "axes": settings.AXES_ENABLED,
    "secret_key": settings.SECRET_KEY,
    "field_encryption_keys": settings.FIELD_ENCRYPTION_KEYS,
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
    "csrf_cookie_secure": settings.CSRF_COOKIE_SECURE,
}
if connection.vendor == "sqlite":
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        report["journal_mode"] = cursor.fetchone()[0]
print(json.dumps(report))
"""


def clean_environment(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The machine's environment without any of the service's own variables."""
    own_prefixes = (
        "DJANGO_",
        "DATABASE_",
        "REDIS_",
        "CELERY_",
        "MEDIRECORDS_",
        "PRACTICE_",
        "EMAIL_",
        "VAR_DIR",
        "FIELD_ENCRYPTION_KEYS",
        "ADMIN_",
        "TRUSTED_PROXY_",
    )
    environment = {key: value for key, value in os.environ.items() if not key.startswith(own_prefixes)}
    environment.update({"DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path), **overrides})
    return environment


def run_python(arguments: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Python in the project's root with only `environment`; the caller judges how it ended."""
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def run_django(code: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_python(["-c", code], environment)


def production_keys() -> dict[str, str]:
    return {"DJANGO_SECRET_KEY": secrets.token_urlsafe(64), "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode()}


def test_with_debug_on_and_nothing_else_set_the_service_runs_embedded(tmp_path):
    result = run_django(REPORT, clean_environment(tmp_path, DJANGO_DEBUG="true"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])

    assert report["engine"] == "django.db.backends.sqlite3"
    assert report["name"] == str(tmp_path / "db.sqlite3")
    assert report["journal_mode"] == "wal"
    assert report["broker"].startswith("filesystem://")
    assert (tmp_path / "broker" / "queue").is_dir()
    assert report["cache"].endswith("LocMemCache")
    assert report["time_zone"] == "Australia/Sydney"
    assert report["use_tz"] is True
    assert report["medirecords"] == "http://127.0.0.1:8100/v1"
    assert report["email_backend"] == "django.core.mail.backends.filebased.EmailBackend"
    assert report["email_file_path"] == str(tmp_path / "mail")
    # A developer's machine: no second factor to set up, but failed logins still lock.
    assert (report["two_factor"], report["axes"]) == (False, True)


@pytest.mark.parametrize("debug", [None, "false"])
def test_production_requires_two_factor_logins(tmp_path, debug):
    """Production is what runs unless debug is asked for: Secure cookies, two factors, no debug pages."""
    overrides = production_keys()
    if debug is not None:
        overrides["DJANGO_DEBUG"] = debug
    result = run_django(REPORT, clean_environment(tmp_path, **overrides))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert (report["debug"], report["two_factor"], report["axes"]) == (False, True, True)
    assert (report["session_cookie_secure"], report["csrf_cookie_secure"]) == (True, True)
    assert report["secret_key"] == overrides["DJANGO_SECRET_KEY"]
    assert report["field_encryption_keys"] == [overrides["FIELD_ENCRYPTION_KEYS"]]
    # Production keeps no keys of its own on disk.
    assert not list(tmp_path.glob("development-*"))


@pytest.mark.parametrize(
    ("debug", "given", "missing"),
    [
        (None, (), "DJANGO_SECRET_KEY and FIELD_ENCRYPTION_KEYS must be set"),
        ("false", (), "DJANGO_SECRET_KEY and FIELD_ENCRYPTION_KEYS must be set"),
        (None, ("DJANGO_SECRET_KEY",), "FIELD_ENCRYPTION_KEYS must be set"),
        (None, ("FIELD_ENCRYPTION_KEYS",), "DJANGO_SECRET_KEY must be set"),
    ],
)
def test_production_without_its_keys_refuses_to_start_saying_which(tmp_path, debug, given, missing):
    keys = production_keys()
    overrides = {name: keys[name] for name in given}
    if debug is not None:
        overrides["DJANGO_DEBUG"] = debug
    result = run_django(REPORT, clean_environment(tmp_path, **overrides))
    assert result.returncode != 0
    assert missing in result.stderr
    assert "DJANGO_DEBUG=true" in result.stderr
    assert not list(tmp_path.glob("development-*"))


def test_production_refuses_a_field_encryption_key_that_is_not_a_fernet_key_without_printing_it(tmp_path):
    overrides = {**production_keys(), "FIELD_ENCRYPTION_KEYS": f"{Fernet.generate_key().decode()},not-a-real-key"}
    result = run_django(REPORT, clean_environment(tmp_path, **overrides))
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS: key 2 is not a Fernet key" in result.stderr
    assert "not-a-real-key" not in result.stderr


@pytest.mark.parametrize("command", [["check", "--deploy"], ["migrate", "--noinput"]])
def test_manage_py_in_production_without_keys_refuses_before_doing_anything(tmp_path, command):
    result = run_python(["manage.py", *command], clean_environment(tmp_path))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY and FIELD_ENCRYPTION_KEYS must be set" in result.stderr
    assert not (tmp_path / "db.sqlite3").exists()


ENCRYPT = """
import django
django.setup()
from forms_intake.encryption import encrypt_bytes, encryption_keys
print(encrypt_bytes(b"2123 45678 1").decode())
print(",".join(encryption_keys()))
"""


def test_development_keys_are_random_per_machine_and_kept_in_var_dir(tmp_path):
    """A copied embedded database cannot be read with anything the repository holds."""
    first_var, second_var = tmp_path / "first", tmp_path / "second"
    first = run_django(ENCRYPT, clean_environment(first_var, DJANGO_DEBUG="true"))
    assert first.returncode == 0, first.stderr
    token, key = first.stdout.split()[-2:]
    again = run_django(ENCRYPT, clean_environment(first_var, DJANGO_DEBUG="true"))
    other = run_django(ENCRYPT, clean_environment(second_var, DJANGO_DEBUG="true"))
    assert again.returncode == other.returncode == 0, again.stderr + other.stderr

    # Kept: the same machine reads its own data after a restart; another machine has its own key.
    assert again.stdout.split()[-1] == key
    assert other.stdout.split()[-1] != key
    key_file = first_var / "development-field-encryption-key"
    assert key_file.read_text().strip() == key
    assert key_file.stat().st_mode & 0o077 == 0
    secret_key = (first_var / "development-secret-key").read_text().strip()
    assert len(secret_key) >= 50
    assert (first_var / "development-secret-key").stat().st_mode & 0o077 == 0

    # The field key is derived neither from this secret key nor from the constant the repository held.
    for derived_from in (secret_key, "django-insecure-development-only-key-never-use-in-production"):
        digest = hashlib.sha256(b"clinic field encryption:" + derived_from.encode()).digest()
        with pytest.raises(InvalidToken):
            Fernet(base64.urlsafe_b64encode(digest)).decrypt(token.encode())
    assert Fernet(key.encode()).decrypt(token.encode()) == b"2123 45678 1"


def test_database_url_and_redis_url_switch_to_the_distributed_setup(tmp_path):
    environment = clean_environment(
        tmp_path,
        DJANGO_DEBUG="true",
        DATABASE_URL="postgres://clinic:secret@db.internal:5432/clinic",
        REDIS_URL="redis://cache.internal:6379/0",
        PRACTICE_TIME_ZONE="Australia/Perth",
    )
    result = run_django(REPORT.replace("if connection.vendor", "if False and connection.vendor"), environment)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])

    assert report["engine"] == "django.db.backends.postgresql"
    assert (report["host"], report["name"]) == ("db.internal", "clinic")
    assert report["broker"] == "redis://cache.internal:6379/0"
    assert report["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert report["time_zone"] == "Australia/Perth"


def deployment_check(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], environment)


def test_production_settings_pass_the_deployment_checklist(tmp_path):
    environment = clean_environment(
        tmp_path, **production_keys(), DJANGO_ALLOWED_HOSTS="ops.clinic.example.com.au", TRUSTED_PROXY_IPS="10.0.0.5"
    )
    result = deployment_check(environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_behind_a_proxy_no_trusted_proxy_named_is_a_deployment_warning(tmp_path):
    # Every client would have the proxy's address: one flood spends everybody's rate limit.
    environment = clean_environment(tmp_path, **production_keys(), DJANGO_ALLOWED_HOSTS="ops.clinic.example.com.au")
    result = deployment_check(environment)
    assert result.returncode != 0
    assert "clinic.W001" in result.stderr + result.stdout
    assert "clinic.W001" not in deployment_check({**environment, "DJANGO_BEHIND_TLS_PROXY": "false"}).stderr


@pytest.mark.parametrize("secret_key", ["", None])
def test_production_without_a_secret_key_refuses_to_start(tmp_path, secret_key):
    overrides = {"DJANGO_DEBUG": "false", "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode()}
    if secret_key is not None:
        overrides["DJANGO_SECRET_KEY"] = secret_key
    result = run_django(REPORT, clean_environment(tmp_path, **overrides))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_a_trusted_proxy_that_is_not_an_address_refuses_to_start(tmp_path):
    result = run_django(REPORT, clean_environment(tmp_path, DJANGO_DEBUG="true", TRUSTED_PROXY_IPS="10.0.0.5,proxy"))
    assert result.returncode != 0
    assert "TRUSTED_PROXY_IPS / TRUSTED_PROXY_COUNT" in result.stderr
