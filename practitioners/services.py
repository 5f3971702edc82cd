"""Services that change practitioners."""

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from medirecords import MediRecordsClient, UnknownIntervalError
from practitioners.models import Practitioner

PRACTICE_FILE = Path(__file__).resolve().parent / "practice.toml"
PRACTICE_FILE_VERSION = 1

# Fields the practice file may set, and the external ids that only the environment (or a
# person in admin) may set.
FILE_FIELDS = frozenset(
    {"slug", "display_name", "kind", "booking_type", "fee", "is_active", "display_order", "default_duration_minutes"}
)
EXTERNAL_ID_FIELDS = (
    "o365_mailbox",
    "o365_calendar_id",
    "calendly_event_type_uri",
    "calendly_scheduling_url",
    "medirecords_provider_id",
    "medirecords_appointment_type_id",
)


class PracticeFileError(Exception):
    """The practice file cannot be loaded; the message says where and why."""


@dataclass
class PracticeLoadResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    not_in_file: list[str] = field(default_factory=list)


def external_id_variable(*, slug: str, field_name: str) -> str:
    """The environment variable that carries `field_name` for the practitioner `slug`."""
    return f"PRACTITIONER_{slug.upper().replace('-', '_')}_{field_name.upper()}"


@transaction.atomic
def practice_load(*, path: Path = PRACTICE_FILE, environ: Mapping[str, str]) -> PracticeLoadResult:
    """Make the practitioners in the database agree with the practice file and environment.

    Idempotent: a second run with the same file and environment changes nothing.
    """
    entries = _read_practice_file(path)
    result = PracticeLoadResult()
    for entry in entries:
        slug = entry["slug"]
        wanted = {key: value for key, value in entry.items() if key != "slug"}
        for field_name in EXTERNAL_ID_FIELDS:
            value = environ.get(external_id_variable(slug=slug, field_name=field_name), "").strip()
            if value:
                wanted[field_name] = value

        practitioner = Practitioner.objects.select_for_update().filter(slug=slug).first()
        if practitioner is None:
            practitioner = Practitioner(slug=slug, **wanted)
            _validate(practitioner, slug=slug)
            practitioner.save()
            result.created.append(slug)
            continue

        changed = [name for name, value in wanted.items() if getattr(practitioner, name) != value]
        if not changed:
            result.unchanged.append(slug)
            continue
        for name in changed:
            setattr(practitioner, name, wanted[name])
        _validate(practitioner, slug=slug)
        practitioner.save(update_fields=[*changed, "updated_at"])
        result.updated.append(slug)

    file_slugs = {entry["slug"] for entry in entries}
    result.not_in_file = list(Practitioner.objects.exclude(slug__in=file_slugs).values_list("slug", flat=True))
    return result


def environ_file_read(path: Path) -> dict[str, str]:
    """KEY=value lines of a file (comments and blank lines skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise PracticeFileError(f"{path}: {error}") from error
    variables = {}
    for raw_line in lines:
        line = raw_line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            variables[key.strip()] = value.strip()
    return variables


def _read_practice_file(path: Path) -> list[dict[str, Any]]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise PracticeFileError(f"{path}: {error}") from error
    if document.get("version") != PRACTICE_FILE_VERSION:
        raise PracticeFileError(f"{path}: version must be {PRACTICE_FILE_VERSION}, found {document.get('version')!r}")

    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    for position, raw in enumerate(document.get("practitioners", []), start=1):
        where = f"{path}: practitioner {position}"
        unknown = set(raw) - FILE_FIELDS
        if unknown:
            raise PracticeFileError(
                f"{where}: unknown fields {sorted(unknown)}; external ids come from the environment"
            )
        slug = raw.get("slug")
        if not slug:
            raise PracticeFileError(f"{where}: slug is required")
        if slug in seen:
            raise PracticeFileError(f"{where}: slug {slug!r} appears twice")
        seen.add(slug)
        entry = dict(raw)
        if "fee" in entry:
            try:
                entry["fee"] = Decimal(str(entry["fee"]))
            except InvalidOperation as error:
                raise PracticeFileError(f"{where}: fee {entry['fee']!r} is not an amount") from error
        entries.append(entry)
    if not entries:
        raise PracticeFileError(f"{path}: no practitioners")
    return entries


def _validate(practitioner: Practitioner, *, slug: str) -> None:
    try:
        practitioner.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        raise PracticeFileError(f"practitioner {slug!r}: {error.message_dict}") from error


@dataclass(frozen=True)
class MappingProblem:
    slug: str
    problem: str


def medirecords_mapping_check(*, client: MediRecordsClient) -> list[MappingProblem]:
    """What stops each active practitioner's bookings from landing in their MediRecords calendar."""
    provider_ids = {provider.id for provider in client.providers()}
    appointment_types = {appointment_type.id: appointment_type for appointment_type in client.appointment_types()}
    problems = []
    for practitioner in Practitioner.objects.filter(is_active=True):
        slug = practitioner.slug
        if not practitioner.medirecords_provider_id:
            problems.append(MappingProblem(slug, "no MediRecords provider id"))
        elif practitioner.medirecords_provider_id not in provider_ids:
            problems.append(MappingProblem(slug, "its MediRecords provider id is not an active provider"))
        if not practitioner.medirecords_appointment_type_id:
            problems.append(MappingProblem(slug, "no MediRecords appointment type id"))
        elif practitioner.medirecords_appointment_type_id not in appointment_types:
            problems.append(MappingProblem(slug, "its MediRecords appointment type id does not exist"))
        try:
            client.interval_code_for(practitioner.default_duration_minutes)
        except UnknownIntervalError as error:
            problems.append(MappingProblem(slug, str(error)))
    return problems
