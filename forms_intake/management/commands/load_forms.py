"""`manage.py load_forms`: create the three JotForm form definitions that do not exist yet."""

from typing import Any

from django.core.management.base import BaseCommand

from forms_intake.services import form_definitions_load


class Command(BaseCommand):
    help = "Create the mini intake, full intake and triage form definitions where missing (existing ones are kept)."

    def handle(self, *args: Any, **options: Any) -> None:
        created = form_definitions_load()
        self.stdout.write(f"{created} form definitions created")
