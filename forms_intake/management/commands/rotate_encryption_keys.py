"""`manage.py rotate_encryption_keys`: re-encrypt all health data with the first configured key."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from forms_intake.rotation import encryption_keys_rotate


class Command(BaseCommand):
    help = "Re-encrypt every encrypted value with the first of FIELD_ENCRYPTION_KEYS (run after adding a key)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=None, help="rows per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        done = encryption_keys_rotate(batch_size=options["batch_size"])
        for table, rows in done.items():
            self.stdout.write(f"{table}: {rows} re-encrypted")
