"""Settings are read once per process, so each case runs Django in a fresh interpreter."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

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
}
if connection.vendor == "sqlite":
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        report["journal_mode"] = cursor.fetchone()[0]
print(json.dumps(report))
"""


def clean_environment(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The machine's environment without any of the service's own variables."""
    own_prefixes = ("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "MEDIRECORDS_", "PRACTICE_", "EMAIL_", "VAR_DIR")
    environment = {key: value for key, value in os.environ.items() if not key.startswith(own_prefixes)}
    environment.update({"DJANGO_SETTINGS_MODULE": "config.settings", "VAR_DIR": str(tmp_path), **overrides})
    return environment


def run_django(code: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def test_with_nothing_set_the_service_runs_embedded(tmp_path):
    result = run_django(REPORT, clean_environment(tmp_path))
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


def test_production_requires_two_factor_logins(tmp_path):
    environment = clean_environment(tmp_path, DJANGO_DEBUG="false", DJANGO_SECRET_KEY=secrets.token_urlsafe(64))
    result = run_django(REPORT, environment)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert (report["debug"], report["two_factor"], report["axes"]) == (False, True, True)


def test_database_url_and_redis_url_switch_to_the_distributed_setup(tmp_path):
    environment = clean_environment(
        tmp_path,
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


def test_production_settings_pass_the_deployment_checklist(tmp_path):
    environment = clean_environment(
        tmp_path,
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="ops.clinic.example.com.au",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("secret_key", ["", None])
def test_production_without_a_secret_key_refuses_to_start(tmp_path, secret_key):
    overrides = {"DJANGO_DEBUG": "false"}
    if secret_key is not None:
        overrides["DJANGO_SECRET_KEY"] = secret_key
    result = run_django(REPORT, clean_environment(tmp_path, **overrides))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr
