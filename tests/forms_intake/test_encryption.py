"""Health data at rest: no plaintext in the tables, and keys that rotate without loss."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from bookings.models import InboundDelivery
from forms_intake.encryption import decrypt_bytes, encrypt_bytes
from forms_intake.models import FormSubmission, TriageAssessment
from tests.forms_intake.conftest import FIRST_KEY, full_intake

PLAINTEXTS = ("Citizen", "2123", "Levothyroxine", "jane.citizen")


def raw_rows() -> list[str]:
    """Every value of the encrypted tables as the database holds it."""
    rows: list[str] = []
    with connection.cursor() as cursor:
        for table in (FormSubmission._meta.db_table, TriageAssessment._meta.db_table):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608
            rows += [str(value) for row in cursor.fetchall() for value in row]
        cursor.execute(f"SELECT body FROM {InboundDelivery._meta.db_table}")  # noqa: S608
        rows += [bytes(body).decode("latin-1") for (body,) in cursor.fetchall()]
    return rows


@pytest.fixture
def stored(post_form, jane_booking, django_capture_on_commit_callbacks):
    body, content_type = full_intake()
    with django_capture_on_commit_callbacks(execute=True):
        post_form("/forms/full", body, content_type)
    submission = FormSubmission.objects.get()
    TriageAssessment.objects.create(
        submission=submission, answers={"q3_concern": "Citizen's fatigue"}, summary="Concern: Citizen fatigue"
    )
    return submission


def test_raw_rows_hold_no_plaintext(stored):
    values = raw_rows()
    assert values
    for plaintext in PLAINTEXTS:
        assert not any(plaintext in value for value in values), plaintext


def test_rotation_reencrypts_everything_with_the_new_key_and_the_old_key_can_go(stored, settings):
    before = raw_rows()
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, FIRST_KEY]

    call_command("rotate_encryption_keys", "--batch-size", "1")

    after = raw_rows()
    assert all(token not in after for token in before if token.startswith("gAAAAA"))
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    submission = FormSubmission.objects.get()
    assert submission.answers["q3_fullName"] == {"first": "Jane", "last": "Citizen"}
    assert TriageAssessment.objects.get().summary == "Concern: Citizen fatigue"
    assert b"Citizen" in decrypt_bytes(bytes(InboundDelivery.objects.get().body))
    for plaintext in PLAINTEXTS:
        assert not any(plaintext in value for value in raw_rows())


@pytest.mark.parametrize("debug", [False, True])
def test_without_keys_nothing_is_stored_and_no_key_is_derived(settings, debug):
    """Never a key derived from the secret key: development gets a random one in VAR_DIR instead."""
    settings.FIELD_ENCRYPTION_KEYS = []
    settings.DEBUG = debug
    with pytest.raises(ImproperlyConfigured):
        encrypt_bytes(b"x")
