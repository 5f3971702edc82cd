"""Re-encrypting every encrypted value with the first of FIELD_ENCRYPTION_KEYS, in batches.

Run after putting a new key first; once it has finished the old keys can be removed.
"""

import logging

from django.conf import settings
from django.db import connection, models, transaction

from bookings.models import DeliverySource, InboundDelivery
from forms_intake.encryption import EncryptedJSONField, EncryptedTextField, reencrypt_bytes
from forms_intake.models import FormSubmission, TriageAssessment

logger = logging.getLogger("clinic.encryption")

ENCRYPTED_MODELS: tuple[type[models.Model], ...] = (FormSubmission, TriageAssessment)


def encryption_keys_rotate(*, batch_size: int | None = None) -> dict[str, int]:
    """Re-encrypt submissions, triage assessments and JotForm inbox bodies; rows done per table."""
    size = batch_size or settings.FORMS_ROTATION_BATCH_SIZE
    done: dict[str, int] = {}
    for model in ENCRYPTED_MODELS:
        columns = [
            field.column
            for field in model._meta.concrete_fields
            if isinstance(field, EncryptedJSONField | EncryptedTextField)
        ]
        done[model._meta.label] = _table_rotate(model, columns=columns, size=size)
    done[InboundDelivery._meta.label] = _deliveries_rotate(size=size)
    logger.info("encryption keys rotated", extra={"rows": done})
    return done


def _table_rotate(model: type[models.Model], *, columns: list[str], size: int) -> int:
    """Rotate the raw tokens of `columns`, reading and writing ciphertext only."""
    rows = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            batch = list(
                model._default_manager.filter(pk__gt=last_pk).order_by("pk").values_list("pk", flat=True)[:size]
            )
            if not batch:
                return rows
            for pk in batch:
                _row_rotate(model._meta.db_table, pk=pk, columns=columns)
            rows += len(batch)
            last_pk = batch[-1]


def _row_rotate(table: str, *, pk: int, columns: list[str]) -> None:
    quoted = [connection.ops.quote_name(column) for column in columns]
    name = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(quoted)} FROM {name} WHERE id = %s", [pk])  # noqa: S608 - model names
        values = cursor.fetchone()
        if values is None:
            return
        rotated = [reencrypt_bytes(str(value).encode("ascii")).decode("ascii") if value else value for value in values]
        assignments = ", ".join(f"{column} = %s" for column in quoted)
        cursor.execute(f"UPDATE {name} SET {assignments} WHERE id = %s", [*rotated, pk])  # noqa: S608 - model names


def _deliveries_rotate(*, size: int) -> int:
    rows = 0
    last_pk = 0
    jotform = InboundDelivery.objects.filter(source=DeliverySource.JOTFORM)
    while True:
        with transaction.atomic():
            batch = list(jotform.filter(pk__gt=last_pk).order_by("pk").values_list("pk", "body")[:size])
            if not batch:
                return rows
            for pk, body in batch:
                InboundDelivery.objects.filter(pk=pk).update(body=reencrypt_bytes(bytes(body)))
            rows += len(batch)
            last_pk = batch[-1][0]
