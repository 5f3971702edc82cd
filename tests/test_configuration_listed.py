"""Every variable the service reads is listed in `.env.example` and in the README's tables, and
nothing is listed that the service does not read.

What is read is found in the source rather than by running it: `config/settings.py` reads
some variables only on some paths (`DATABASE_CONN_MAX_AGE` only with PostgreSQL, the email
settings only with `EMAIL_URL`), and a process sees only the path its environment takes.
"""

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

from practitioners.services import EXTERNAL_ID_FIELDS, PRACTICE_FILE, external_id_variable

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = PROJECT_ROOT / "config" / "settings.py"
ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
README = PROJECT_ROOT / "README.md"
# Not the service: the suite, the benchmarks (their own BENCHMARK_* knobs), and what is installed.
NOT_THE_SERVICE = {"tests", "benchmarks", "var", "node_modules"}
# django-environ's methods that take something other than a variable's name first.
ENV_METHODS_WITHOUT_A_NAME = {"read_env", "parse_value", "db_url_config", "cache_url_config", "email_url_config"}
# Django's own bootstrap variable, set by manage.py, wsgi.py and celery.py, never configured.
BOOTSTRAP = {"DJANGO_SETTINGS_MODULE"}

LISTED_IN_ENV_EXAMPLE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)
BACKTICKED = re.compile(r"`([^`]+)`")
VARIABLE_NAME = re.compile(r"^[A-Z][A-Z0-9_]*(?:<[A-Z]+>[A-Z0-9_]*)*$")


def settings_variables() -> set[str]:
    """The names settings.py passes to `env(...)`, `env.str(...)`, `env.int(...)`, and the rest."""
    tree = ast.parse(SETTINGS_FILE.read_text(), filename=str(SETTINGS_FILE))
    names: set[str] = set()
    for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
        function = call.func
        reads_env = (isinstance(function, ast.Name) and function.id == "env") or (
            isinstance(function, ast.Attribute)
            and isinstance(function.value, ast.Name)
            and function.value.id == "env"
            and function.attr not in ENV_METHODS_WITHOUT_A_NAME
        )
        if not reads_env:
            continue
        first = call.args[0] if call.args else None
        name = first.value if isinstance(first, ast.Constant) else None
        assert isinstance(name, str), (
            f"settings.py line {call.lineno} reads a variable whose name is not written out: "
            "name it literally, so that it can be listed"
        )
        names.add(name)
    return names


def service_sources() -> Iterator[Path]:
    for path in PROJECT_ROOT.rglob("*.py"):
        parts = path.relative_to(PROJECT_ROOT).parts
        if parts[0] in NOT_THE_SERVICE or any(part.startswith(".") for part in parts):
            continue
        if path != SETTINGS_FILE:
            yield path


def _is_os_environ(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ" and isinstance(node.value, ast.Name)


def environ_variables() -> set[str]:
    """Names the rest of the service reads straight from the environment (`os.environ.get("X")`,
    `os.environ["X"]`, `os.getenv("X")`), e.g. the first staff login's."""
    names: set[str] = set()
    for path in service_sources():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            key: ast.expr | None = None
            if isinstance(node, ast.Subscript) and _is_os_environ(node.value):
                key = node.slice
            elif isinstance(node, ast.Call) and node.args:
                function = node.func
                environ_get = isinstance(function, ast.Attribute) and (
                    (function.attr == "get" and _is_os_environ(function.value)) or function.attr == "getenv"
                )
                if environ_get:
                    key = node.args[0]
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                names.add(key.value)
    return names - BOOTSTRAP


def practitioner_variables() -> set[str]:
    """`PRACTITIONER_<SLUG>_<FIELD>`: each practitioner's external ids, read by `load_practice`."""
    slugs = [entry["slug"] for entry in tomllib.loads(PRACTICE_FILE.read_text())["practitioners"]]
    return {external_id_variable(slug=slug, field_name=name) for slug in slugs for name in EXTERNAL_ID_FIELDS}


def env_example_variables() -> set[str]:
    """Every `NAME=` line of `.env.example`, commented out or not."""
    return set(LISTED_IN_ENV_EXAMPLE.findall(ENV_EXAMPLE.read_text()))


def readme_table_variables() -> set[str]:
    """The names in the first column of every README table headed `variable`; `<SLUG>`-style
    placeholders are kept as written."""
    names: set[str] = set()
    in_variable_table = False
    for line in README.read_text().splitlines():
        if not line.startswith("|"):
            in_variable_table = False
            continue
        first_cell = line.strip("|").split("|")[0].strip()
        if first_cell == "variable":
            in_variable_table = True
        elif in_variable_table:
            names.update(name for name in BACKTICKED.findall(first_cell) if VARIABLE_NAME.match(name))
    return names


def read_by_the_service() -> set[str]:
    return settings_variables() | environ_variables()


def pattern_matches(pattern: str, names: set[str]) -> set[str]:
    regex = re.compile("^" + re.sub(r"<[A-Z]+>", "[A-Z0-9_]+", pattern) + "$")
    return {name for name in names if regex.match(name)}


def test_the_source_scan_finds_what_settings_and_the_commands_read():
    # The scan itself: a sample of each way a variable is read, so an empty scan cannot pass.
    assert {"DJANGO_DEBUG", "DATABASE_URL", "EMAIL_URL", "ALLOWED_HOSTS"} - settings_variables() == {"ALLOWED_HOSTS"}
    assert {"DJANGO_ADMIN_USERNAME", "DJANGO_ADMIN_PASSWORD"} <= environ_variables()
    assert "PRACTITIONER_DR_DIA_O365_MAILBOX" in practitioner_variables()


def test_env_example_lists_every_variable_the_service_reads_and_nothing_else():
    listed = env_example_variables()
    practitioners = practitioner_variables()
    read = read_by_the_service()

    assert sorted(read - listed) == [], "read by the service but missing from .env.example"
    assert sorted(listed - read - practitioners) == [], "listed in .env.example but read by nothing"
    assert "PRACTITIONER_<SLUG>_<FIELD>" in ENV_EXAMPLE.read_text()


def test_the_readme_tables_list_the_same_variables():
    in_tables = readme_table_variables()
    patterns = {name for name in in_tables if "<" in name}
    named = in_tables - patterns
    practitioners = practitioner_variables()
    read = read_by_the_service()

    assert sorted(read - named) == [], "read by the service but missing from the README's variable tables"
    assert sorted(named - read - practitioners) == [], "in the README's variable tables but read by nothing"
    assert sorted(pattern for pattern in patterns if not pattern_matches(pattern, practitioners)) == []
    assert any(pattern_matches(pattern, practitioners) == practitioners for pattern in patterns)
