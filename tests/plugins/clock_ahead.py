"""`pytest --days-ahead=365`: the whole run with the clock that far ahead, to show no test
depends on today's date (every test that needs "now" pins it).

time-machine moves the clock of this process, every thread of it included. libfaketime, which
would move subprocesses too, cannot serve here: with Python 3.11 it makes timed waits on
threads (Event.wait, Condition.wait, queue timeouts) hang, or `time.sleep` fail with EINVAL.
Subprocesses the tests start keep the real clock, and so does OpenSSL's certificate check: the
fake Graph's certificate is therefore made at the real time (else it would not be valid yet).
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from practitioners.fake_graph.tls import CertificateFiles, certificate_write

_travel: list[time_machine.travel] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--days-ahead",
        type=int,
        default=0,
        help="run with the clock this many days ahead of today (0: the real clock)",
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    days = session.config.getoption("--days-ahead")
    if days:
        ahead = timedelta(days=days)
        travel = time_machine.travel(datetime.now(UTC) + ahead, tick=True)
        travel.start()
        _travel.append(travel)
        session.config.add_cleanup(_certificates_at_the_real_time(ahead))


def _certificates_at_the_real_time(ahead: timedelta) -> Callable[[], None]:
    """Make the fake Graph's certificates at the real time; returns what undoes it."""

    def certificate_write_now(directory: Path) -> CertificateFiles:
        with time_machine.travel(datetime.now(UTC) - ahead, tick=True):
            return certificate_write(directory)

    patch = pytest.MonkeyPatch()
    patch.setattr("practitioners.fake_graph.server.certificate_write", certificate_write_now)
    return patch.undo


def pytest_report_header(config: pytest.Config) -> str | None:
    days = config.getoption("--days-ahead")
    return f"clock: {days} days ahead of today" if days else None


def pytest_unconfigure(config: pytest.Config) -> None:
    while _travel:
        _travel.pop().stop()
