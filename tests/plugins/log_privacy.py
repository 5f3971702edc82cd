"""Fails the test whose log lines carry a patient's data or a secret.

For the whole run every logger logs at DEBUG, whatever the service's configuration caps (but
for the few whose DEBUG records cannot be scrubbed, which the service never lets below INFO:
`config.log_redaction.UNSCRUBBABLE_DEBUG_LOGGERS`), and every record is rendered as the
service writes it: through the filters and the formatter of the handler it configures. The
lines a test produced are then searched for what must never be in them:

- the patients the test made or read (Patient rows, as saved or loaded), the answers of the
  form submissions it made, the patients it sent to or searched for in the MediRecords
  sandbox, and the patient of every recorded fixture (names, emails, phones and dates of
  birth in any spelling, percent-encoded too, Medicare numbers, free-text answers);
- every configured secret, as the settings hold it or a test overrides it, and every Graph
  subscription's clientState.

Processes a test starts (the end-to-end tests' Celery workers) log at DEBUG to a file from the
`process_log_file` fixture; it is searched the same way when the test ends.

A leak fails the test that produced it (in its call or teardown report), or the session for
lines logged outside any test. `--log-privacy-raw` searches the records as logged, before the
scrubbing filter: that lists every place where only the safety net keeps data out.
"""

import contextlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# Choice answers every patient may give; searching for them would only find ordinary words.
_COMMON_ANSWERS = frozenset({"female", "male", "other", "australia", "spouse", "partner", "parent", "yes", "no"})
_MIN_TEXT_LENGTH = 4
# A time of day after a date makes a timestamp (the line's own, a booking's): not a date of birth.
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?")
# UUIDs and long hex ids (task, correlation, event ids): random digits, never a patient's.
_HEX_ID = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|[0-9a-f]{16,})(?![0-9A-Za-z])", re.I
)
# Digits (with the separators people write) standing on their own: not inside a word or a hex
# id, whose random digits would sooner or later spell somebody's date of birth.
_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])\d(?:[\s./()\-]{0,2}\d)*(?![0-9A-Za-z])")
_NON_DIGIT = re.compile(r"\D")
_ANSWER_KEY = re.compile(r"^q\d+_")
_RSQL_VALUE = re.compile(r"=[a-z]*=\s*\"([^\"]*)\"|=[a-z]*=\s*'([^']*)'", re.IGNORECASE)
_MONTH_NAMES: tuple[str, ...] = ("january", "february", "march", "april", "may", "june")
_MONTH_NAMES += ("july", "august", "september", "october", "november", "december")


def _decoded(line: str) -> str:
    """The line as a reader would take it: JSON escapes and percent-encoding undone."""
    if "\\u" in line and line.startswith("{"):
        with contextlib.suppress(ValueError):
            line = json.dumps(json.loads(line), ensure_ascii=False)
    for _ in range(2):
        if "%" not in line:
            break
        line = unquote(line, errors="replace")
    return line


def _digits(text: str) -> str:
    return _NON_DIGIT.sub("", text)


@dataclass
class Needles:
    """What one scope (the session, or one test) must not log."""

    words: dict[str, str] = field(default_factory=dict)  # lower-cased whole words -> label
    texts: dict[str, str] = field(default_factory=dict)  # lower-cased substrings -> label
    digits: dict[str, str] = field(default_factory=dict)  # digit strings, whatever separates them
    secrets: dict[str, str] = field(default_factory=dict)  # exact substrings -> label

    def clear(self) -> None:
        for store in (self.words, self.texts, self.digits, self.secrets):
            store.clear()

    def name(self, value: Any, label: str) -> None:
        if isinstance(value, str):
            for part in value.split():
                if len(part.strip(".,'-")) >= 2 and any(character.isalpha() for character in part):
                    self.words[part.lower()] = label
            if len(value.split()) > 1:
                self.words[value.strip().lower()] = label

    def email(self, value: Any, label: str = "patient email") -> None:
        if isinstance(value, str) and "@" in value:
            self.texts[value.strip().lower()] = label

    def phone(self, value: Any, label: str = "patient phone") -> None:
        digits = _digits(value) if isinstance(value, str) else ""
        national = digits[2:] if digits.startswith("61") else digits[1:] if digits.startswith("0") else ""
        if len(national) == 9:
            self.digits["0" + national] = label
            self.digits["61" + national] = label

    def date_of_birth(self, value: Any, label: str = "patient date of birth") -> None:
        if not isinstance(value, date):
            return
        day, month, year = value.day, value.month, value.year
        for spelt in (
            f"{year}{month:02d}{day:02d}",
            f"{day:02d}{month:02d}{year}",
            f"{day}{month}{year}",
            f"{month:02d}{day:02d}{year}",
            f"{month}{day}{year}",
        ):
            self.digits[spelt] = label
        month_name = _MONTH_NAMES[month - 1]
        for month_spelt in (month_name, month_name[:3]):
            self.texts[f"{day} {month_spelt} {year}"] = label
            self.texts[f"{month_spelt} {day}, {year}"] = label
            self.texts[f"{month_spelt} {day} {year}"] = label
        self.texts[f"date({year}, {month}, {day})"] = label

    def medicare(self, value: Any, label: str = "Medicare number") -> None:
        digits = _digits(value) if isinstance(value, str) else ""
        if len(digits) >= 10:
            self.digits[digits[:10]] = label

    def text(self, value: Any, label: str) -> None:
        if not isinstance(value, str):
            return
        answer = value.strip().lower()
        if len(answer) >= _MIN_TEXT_LENGTH and answer not in _COMMON_ANSWERS and any(map(str.isalpha, answer)):
            self.words[answer] = label

    def secret(self, value: Any, label: str) -> None:
        from config.log_redaction import SECRET_MIN_LENGTH

        if isinstance(value, str) and len(value) >= SECRET_MIN_LENGTH:
            self.secrets[value] = label

    def patient(self, *, first_name: Any, last_name: Any, email: Any, mobile: Any, date_of_birth: Any) -> None:
        self.name(first_name, "patient first name")
        self.name(last_name, "patient last name")
        self.email(email)
        self.phone(mobile)
        self.date_of_birth(date_of_birth)

    def answers(self, answers: Any, label: str = "form answer", *, top: bool = True) -> None:
        """Every answer of a JotForm submission (its `q<id>_` keys), by what it looks like."""
        if isinstance(answers, dict):
            if {"day", "month", "year"} <= answers.keys():
                with contextlib.suppress(TypeError, ValueError):
                    self.date_of_birth(date(int(answers["year"]), int(answers["month"]), int(answers["day"])))
                return
            for key, value in answers.items():
                if top and not _ANSWER_KEY.match(str(key)):
                    continue  # JotForm's own fields (slug, submitSource, buildDate, path)
                if key in {"first", "last"}:
                    self.name(value, "name in a form answer")
                else:
                    self.answers(value, label, top=False)
        elif isinstance(answers, list):
            for item in answers:
                self.answers(item, label, top=False)
        elif isinstance(answers, str):
            digits = _digits(answers)
            if "@" in answers:
                self.email(answers, "email in a form answer")
            elif len(digits) in (10, 11) and digits[0] in "23456" and len(digits) * 2 > len(answers):
                self.medicare(answers, "Medicare number in a form answer")
            elif len(digits) >= 9 and len(digits) * 2 > len(answers):
                self.phone(answers, "phone in a form answer")
            else:
                self.text(answers, label)


@dataclass(frozen=True)
class Leak:
    where: str
    label: str
    line: str

    def describe(self) -> str:
        return f"{self.where}: {self.label} in\n    {self.line[:400]}"


def leaks_in(line: str, scopes: Iterable[Needles]) -> Iterator[tuple[str, str]]:
    """(label, what was found) for each needle of `scopes` that `line` holds."""
    decoded = _decoded(line)
    lowered = decoded.lower()
    runs: str | None = None
    for needles in scopes:
        for secret, label in needles.secrets.items():
            if secret in line or secret in decoded:
                yield label, secret
        for text, label in needles.texts.items():
            if text in lowered:
                yield label, text
        for word, label in needles.words.items():
            if word in lowered and re.search(rf"(?<!\w){re.escape(word)}(?!\w)", lowered):
                yield label, word
        if needles.digits:
            if runs is None:
                plain = _HEX_ID.sub("|", _TIMESTAMP.sub("|", decoded))
                runs = "|".join(_digits(run) for run in _DIGIT_RUN.findall(plain))
            for digits, label in needles.digits.items():
                if digits in runs:
                    yield label, digits


def _masked(line: str, found: str) -> str:
    """The line without the value itself, so the report does not repeat it."""
    masked = re.sub(re.escape(found), "«…»", _decoded(line), flags=re.IGNORECASE)
    return masked if masked != _decoded(line) else "(the value is spread over the digits of this line)"


class LogPrivacy:
    """The run-wide state: what must not be logged, and what was logged, per test."""

    def __init__(self, *, raw: bool) -> None:
        self.raw = raw
        self.session_needles = Needles()
        self.test_needles = Needles()
        self.lines: list[tuple[str, str]] = []  # (logger and level, rendered line)
        self.process_logs: list[Path] = []
        self.outside_tests: list[Leak] = []
        self.in_test = False
        self._lock = threading.Lock()
        self._render: Callable[[logging.LogRecord], str] | None = None
        self._handler = _CaptureHandler(self)
        self._levels: dict[logging.Logger, int] = {}
        self._service_handler: logging.Handler | None = None
        self._service_handler_level = logging.NOTSET
        # What the check costs, for the summary line.
        self.records = 0
        self.render_seconds = 0.0
        self.search_seconds = 0.0

    # --- what must not be logged ---------------------------------------------------------

    @property
    def needles(self) -> Needles:
        return self.test_needles if self.in_test else self.session_needles

    def collect_fixtures(self) -> None:
        """The patients of the recorded payloads, read as the service reads them."""
        from bookings.office365.events import event_booking_read

        multipart = (FIXTURES / "jotform-full-intake.multipart").read_text()
        for line in multipart.splitlines():
            if line.startswith("{") and '"q' in line:
                self.session_needles.answers(json.loads(line))
        event = json.loads((FIXTURES / "graph-event-calendly-paid.json").read_text())
        details = event_booking_read(event, mailbox="", today=date(2026, 11, 24)).patient
        self.session_needles.patient(
            first_name=details.first_name,
            last_name=details.last_name,
            email=details.email,
            mobile=details.mobile,
            date_of_birth=details.date_of_birth,
        )

    def collect_settings(self) -> None:
        from django.conf import settings

        from config.log_redaction import SECRET_SETTINGS

        for name in SECRET_SETTINGS:
            self.session_needles.secret(getattr(settings, name, ""), name)
        for key in settings.FIELD_ENCRYPTION_KEYS:
            self.session_needles.secret(key, "FIELD_ENCRYPTION_KEYS")

    def connect_collectors(self) -> None:
        self.connect_model_collectors()
        self.connect_sandbox_collectors()

    def connect_model_collectors(self) -> None:
        """Patients, answers and secrets as the models and settings of a test hold them."""
        from django.db.models.signals import post_init, post_save
        from django.test.signals import setting_changed

        from bookings.models import Patient
        from config.log_redaction import SECRET_SETTINGS
        from forms_intake.models import FormSubmission, TriageAssessment
        from practitioners.models import GraphSubscription

        # Fields are read from the instance's __dict__: a deferred field is skipped, not loaded
        # (which would add a query to every test that counts them).
        def patient_seen(instance: Patient, **kwargs: Any) -> None:
            fields = vars(instance)
            self.needles.patient(
                first_name=fields.get("first_name"),
                last_name=fields.get("last_name"),
                email=fields.get("email"),
                mobile=fields.get("mobile"),
                date_of_birth=fields.get("date_of_birth"),
            )

        def submission_seen(instance: FormSubmission | TriageAssessment, **kwargs: Any) -> None:
            fields = vars(instance)
            self.needles.answers(fields.get("answers"))
            self.needles.answers(fields.get("pending_changes"))
            summary = fields.get("summary")
            if isinstance(summary, str):
                for line in summary.splitlines():
                    self.needles.text(line.partition(": ")[2], "triage answer")

        def subscription_seen(instance: GraphSubscription, **kwargs: Any) -> None:
            self.needles.secret(vars(instance).get("client_state"), "Graph clientState")

        def setting_overridden(setting: str, value: Any, **kwargs: Any) -> None:
            if setting in SECRET_SETTINGS:
                self.needles.secret(value, setting)
            elif setting == "FIELD_ENCRYPTION_KEYS" and isinstance(value, list | tuple):
                for key in value:
                    self.needles.secret(key, setting)

        for signal in (post_init, post_save):
            signal.connect(patient_seen, sender=Patient, weak=False)
            signal.connect(submission_seen, sender=FormSubmission, weak=False)
            signal.connect(submission_seen, sender=TriageAssessment, weak=False)
            signal.connect(subscription_seen, sender=GraphSubscription, weak=False)
        setting_changed.connect(setting_overridden, weak=False)

    def connect_sandbox_collectors(self) -> None:
        """Patients that only ever live in the sandbox, and what tests search MediRecords for."""
        from medirecords.sandbox.store import Store

        patient_create, patients_search = Store.patient_create, Store.patients_search

        def sandbox_patient_create(store: Store, body: Any) -> Any:
            if isinstance(body, dict):
                dob = body.get("dob")
                self.needles.patient(
                    first_name=body.get("firstName"),
                    last_name=body.get("lastName"),
                    email=body.get("email"),
                    mobile=body.get("mobilePhone"),
                    date_of_birth=_date_or_none(dob),
                )
            return patient_create(store, body)

        def sandbox_patients_search(store: Store, query: Any) -> Any:
            for value in dict(query).values():
                for match in _RSQL_VALUE.finditer(str(value)):
                    searched = match.group(1) or match.group(2) or ""
                    if _date_or_none(searched) is not None:
                        self.needles.date_of_birth(_date_or_none(searched), "date of birth searched for")
                    elif "@" in searched:
                        self.needles.email(searched, "email searched for")
                    else:
                        self.needles.name(searched, "name searched for")
            return patients_search(store, query)

        Store.patient_create = sandbox_patient_create  # type: ignore[method-assign,assignment]
        Store.patients_search = sandbox_patients_search  # type: ignore[method-assign,assignment]

    # --- what was logged -------------------------------------------------------------------

    def start_capture(self) -> None:
        from config.log_redaction import is_redacting

        root = logging.getLogger()
        service_handlers = [handler for handler in root.handlers if is_redacting(handler)]
        if not service_handlers:
            raise pytest.UsageError("log privacy: the service configures no scrubbing handler on the root logger")
        service = service_handlers[0]
        formatter = service.formatter or logging.Formatter()
        unscrubbed = logging.Filterer()
        for item in service.filters:
            if not _is_scrubbing(item):
                unscrubbed.addFilter(item)

        def render(record: logging.LogRecord) -> str:
            """The line the service's handler writes; the record is scrubbed in place, as it would be."""
            line = None
            if self.raw:
                copy = logging.makeLogRecord(dict(vars(record)))
                unscrubbed.filter(copy)
                line = formatter.format(copy)
            service.filter(record)
            return line if line is not None else formatter.format(record)

        self._render = render
        # The service's own handler keeps writing what it would write at its configured level;
        # everything below that is rendered (and scrubbed in place, as it would be) here only.
        self._service_handler = service
        self._service_handler_level = service.level
        service.setLevel(logging._nameToLevel.get(str(_configured_root_level()), logging.INFO))
        # First, so that it sees each record as logged, before the service's filter scrubs it in place.
        root.handlers.insert(0, self._handler)
        self.every_logger_at_debug()

    def every_logger_at_debug(self) -> None:
        from config.log_redaction import UNSCRUBBABLE_DEBUG_LOGGERS

        loggers = [logging.getLogger()] + [
            item for item in logging.Logger.manager.loggerDict.values() if isinstance(item, logging.Logger)
        ]
        for logger in loggers:
            if logger.name in UNSCRUBBABLE_DEBUG_LOGGERS:
                continue  # the service keeps these at INFO: their DEBUG records cannot be scrubbed
            if logger.level > logging.DEBUG or (logger.level == logging.NOTSET and logger is logging.getLogger()):
                self._levels.setdefault(logger, logger.level)
                logger.setLevel(logging.DEBUG)
            if not logger.propagate and self._handler not in logger.handlers:
                logger.addHandler(self._handler)

    def stop_capture(self) -> None:
        logging.getLogger().removeHandler(self._handler)
        for logger, level in self._levels.items():
            logger.setLevel(level)
        if self._service_handler is not None:
            self._service_handler.setLevel(self._service_handler_level)

    def record(self, record: logging.LogRecord) -> None:
        assert self._render is not None
        started = time.perf_counter()
        try:
            line = self._render(record)
        except Exception as error:  # noqa: BLE001 - a record that cannot be rendered is reported, not lost
            line = f"(could not render: {type(error).__name__})"
        with self._lock:
            self.lines.append((f"{record.name} {record.levelname}", line))
            self.records += 1
            self.render_seconds += time.perf_counter() - started

    def take_leaks(self) -> list[Leak]:
        """The leaks among the lines (and process logs) since the last call; forgets them."""
        with self._lock:
            lines, self.lines = self.lines, []
        processes, self.process_logs = self.process_logs, []
        for path in processes:
            if path.exists():
                lines.extend(
                    (f"process log {path.name}", line) for line in path.read_text(errors="replace").splitlines()
                )
        started = time.perf_counter()
        scopes = (self.session_needles, self.test_needles)
        leaks: list[Leak] = []
        for where, line in lines:
            labels: dict[str, str] = {}
            for label, found in leaks_in(line, scopes):
                labels.setdefault(label, found)  # the session and the test may both know a value
            leaks.extend(Leak(where=where, label=label, line=_masked(line, found)) for label, found in labels.items())
        self.search_seconds += time.perf_counter() - started
        return leaks


def _is_scrubbing(item: Any) -> bool:
    from config.log_redaction import HealthDataFilter

    return isinstance(item, HealthDataFilter)


def _configured_root_level() -> str:
    from django.conf import settings

    return str(settings.LOG_LEVEL).upper()


def _date_or_none(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


class _CaptureHandler(logging.Handler):
    def __init__(self, privacy: LogPrivacy) -> None:
        super().__init__(logging.DEBUG)
        self.privacy = privacy

    def emit(self, record: logging.LogRecord) -> None:
        self.privacy.record(record)


STATE_KEY = pytest.StashKey[LogPrivacy]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--log-privacy-raw",
        action="store_true",
        help="search log records as logged, before the scrubbing filter (shows where only the filter protects)",
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    privacy = LogPrivacy(raw=session.config.getoption("--log-privacy-raw"))
    session.config.stash[STATE_KEY] = privacy
    privacy.collect_fixtures()
    privacy.collect_settings()
    privacy.connect_collectors()
    privacy.start_capture()


def pytest_runtest_setup(item: pytest.Item) -> None:
    privacy = item.config.stash[STATE_KEY]
    privacy.outside_tests.extend(privacy.take_leaks())
    privacy.in_test = True
    privacy.every_logger_at_debug()  # loggers made since, and levels a test left behind


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    privacy = item.config.stash[STATE_KEY]
    if call.when in ("call", "teardown"):
        leaks = privacy.take_leaks()
        if call.when == "teardown":
            privacy.test_needles.clear()
            privacy.in_test = False
        if leaks:
            described = "\n".join(leak.describe() for leak in leaks[:10])
            more = f"\n... and {len(leaks) - 10} more" if len(leaks) > 10 else ""
            report.outcome = "failed"
            report.longrepr = (
                f"log privacy: {len(leaks)} log line(s) carry patient data or a secret:\n{described}{more}"
            )
    return report


@pytest.fixture
def process_log_file(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], Path]:
    """A file for a process this test starts to log into; searched when the test ends."""
    privacy = request.config.stash[STATE_KEY]

    def new(name: str) -> Path:
        path = tmp_path / f"{name}.log"
        privacy.process_logs.append(path)
        return path

    return new


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    privacy = session.config.stash.get(STATE_KEY, None)
    if privacy is None:
        return
    privacy.outside_tests.extend(privacy.take_leaks())
    privacy.stop_capture()
    if privacy.outside_tests:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    privacy = config.stash.get(STATE_KEY, None)
    if privacy is None:
        return
    terminalreporter.write_line(
        f"log privacy: {privacy.records} records rendered in {privacy.render_seconds:.1f} s, "
        f"searched with the process logs in {privacy.search_seconds:.1f} s"
    )
    if privacy.outside_tests:
        terminalreporter.section("log privacy", red=True)
        terminalreporter.write_line(f"{len(privacy.outside_tests)} line(s) logged outside any test carry patient data:")
        for leak in privacy.outside_tests[:20]:
            terminalreporter.write_line(leak.describe())
