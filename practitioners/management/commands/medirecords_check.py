from typing import Any

from django.core.management.base import BaseCommand, CommandError

from medirecords import MediRecordsError
from practitioners.clients import medirecords_client
from practitioners.services import medirecords_mapping_check


class Command(BaseCommand):
    help = "Check that every active practitioner maps to a MediRecords provider, appointment type and interval."

    def handle(self, *args: Any, **options: Any) -> None:
        client = medirecords_client()
        try:
            problems = medirecords_mapping_check(client=client)
        except MediRecordsError as error:
            raise CommandError(f"MediRecords at {client.base_url} did not answer as expected: {error}") from error
        for problem in problems:
            self.stdout.write(f"{problem.slug}: {problem.problem}")
        if problems:
            raise CommandError(f"{len(problems)} problems; fix the ids in admin or the PRACTITIONER_* variables")
        self.stdout.write(f"Every active practitioner maps to MediRecords at {client.base_url}.")
