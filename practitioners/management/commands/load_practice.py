import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from practitioners.services import PRACTICE_FILE, PracticeFileError, environ_file_read, practice_load


class Command(BaseCommand):
    help = "Create or update the practice's practitioners from the versioned practice file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--file", type=Path, default=PRACTICE_FILE, help="Practice file (TOML).")
        parser.add_argument(
            "--env-file",
            type=Path,
            action="append",
            default=[],
            help="Extra PRACTITIONER_* variables (KEY=value lines); repeatable; the real environment wins.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        environ: dict[str, str] = {}
        for env_file in options["env_file"]:
            environ.update(environ_file_read(env_file))
        environ.update(os.environ)
        try:
            result = practice_load(path=options["file"], environ=environ)
        except PracticeFileError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"practitioners: {len(result.created)} created, {len(result.updated)} updated, "
            f"{len(result.unchanged)} unchanged"
        )
        for label, slugs in (("created", result.created), ("updated", result.updated)):
            for slug in slugs:
                self.stdout.write(f"  {label}: {slug}")
        if result.not_in_file:
            self.stdout.write(f"  kept (not in the file): {', '.join(result.not_in_file)}")
