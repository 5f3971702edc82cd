import io
import json
import logging
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from bookings.inbox import deliveries
from bookings.models import DeliverySource
from config.log_redaction import HealthDataFilter, is_redacting, redact_text
from tests.bookings.factories import InboundDeliveryFactory

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def log_lines():
    """The JSON lines the configured handler writes, as dicts."""
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, HealthDataFilter) for f in h.filters))
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        handler.setStream(previous)


@pytest.mark.parametrize(
    "health_data",
    [
        "jane.citizen@example.com.au",
        "+61412345678",
        "+61 412 345 678",
        "0412 345 678",
        "0412345678",
        "(02) 9876 5432".replace("(", "").replace(")", ""),
        "29/02/1980",
        "1980-02-29",
    ],
)
def test_health_data_is_redacted_from_text(health_data):
    assert health_data not in redact_text(f"patient {health_data} booked")


@pytest.mark.parametrize(
    "operational",
    [
        "2026-12-03T23:30:00+00:00",
        "b3bc92d03ff0409694296282a6d35cca",
        "delivery 1764022443 took 12.5 ms",
        "AAMkAGI1AAAt9AHjAAA=",
    ],
)
def test_operational_values_survive(operational):
    assert redact_text(operational) == operational


def test_a_line_keeps_health_data_out_of_message_extras_and_traceback(log_lines):
    logger = logging.getLogger("clinic.test")
    try:
        raise ValueError("lookup failed for jane.citizen@example.com.au")
    except ValueError:
        logger.exception(
            "patient %s rang from %s",
            "jane.citizen@example.com.au",
            "0412 345 678",
            extra={"first_name": "Jane", "details": {"dob": "29/02/1980", "booking_id": 7}},
        )

    [line] = log_lines()
    text = json.dumps(line)
    for health_data in ("jane.citizen", "0412 345 678", "Jane", "29/02/1980"):
        assert health_data not in text
    assert line["details"]["booking_id"] == 7
    assert line["level"] == "ERROR"
    assert "ValueError" in line["exc_info"]


@pytest.mark.django_db
def test_one_line_per_request_with_the_callers_correlation_id(client, log_lines):
    response = client.get("/healthz?validationToken=secret", HTTP_X_CORRELATION_ID="req-1234")

    assert response.status_code == 200
    assert response["X-Correlation-ID"] == "req-1234"
    [line] = [line for line in log_lines() if line["logger"] == "clinic.request"]
    assert line["correlation_id"] == "req-1234"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)
    assert "secret" not in json.dumps(line)
    assert isinstance(line["duration_ms"], float)


@pytest.mark.django_db
def test_the_receivers_correlation_id_follows_the_delivery_into_its_task(
    log_lines, recording_handler, django_capture_on_commit_callbacks
):
    from django_guid import set_guid

    set_guid("receiver-5678")
    with django_capture_on_commit_callbacks(execute=True):
        stored = deliveries.delivery_store(source=DeliverySource.STRIPE, delivery_key="evt_corr", body=b"{}")
    set_guid(None)

    assert stored.delivery.correlation_id == "receiver-5678"
    lines = log_lines()
    processed = next(line for line in lines if line["message"] == "delivery processed")
    task = next(line for line in lines if line["logger"] == "clinic.task")
    assert processed["correlation_id"] == task["correlation_id"] == "receiver-5678"
    assert task["task"] == "bookings.tasks.delivery_process"


@pytest.mark.django_db
def test_a_swept_delivery_keeps_its_original_correlation_id(log_lines, recording_handler):
    delivery = InboundDeliveryFactory(correlation_id="original-9")
    deliveries.delivery_process(delivery_id=delivery.pk)
    processed = next(line for line in log_lines() if line["message"] == "delivery processed")
    assert processed["correlation_id"] == "original-9"


# --- Each redaction rule ------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoded",
    [
        "/v1/patients/jane.citizen%40example.com.au/settings",
        "/v1/patients/jane.citizen%2540example.com.au/settings",
        "lookup dob%3D%3D%221980-02-29%22 failed",
        "mobile %2B61%20412%20345%20678",
    ],
)
def test_percent_encoded_values_are_redacted(encoded):
    redacted = redact_text(encoded)
    for health_data in ("jane.citizen", "1980-02-29", "412"):
        assert health_data not in redacted


def test_rsql_searches_lose_every_value():
    redacted = redact_text('search firstName=="Jane";lastName=="Citizen";dob=="1980-02-29";email==jane@x.com.au')
    assert redacted.startswith("search firstName==")
    for health_data in ("Jane", "Citizen", "1980", "jane@"):
        assert health_data not in redacted


@pytest.mark.parametrize(
    "text",
    [
        '{"first_name": "Jane", "lastName": "Citizen", "id": 7}',
        "{'given_name': 'Jane', 'surname': 'Citizen', 'id': 7}",
        "patient first name: Jane, last_name=Citizen, id=7",
        "fullName=Jane%20Citizen&id=7",
    ],
)
def test_names_in_known_fields_are_redacted(text):
    redacted = redact_text(text)
    assert "Jane" not in redacted
    assert "Citizen" not in redacted
    assert "7" in redacted


@pytest.mark.parametrize("medicare", ["2123 45670 1", "2123456701", "2123-45670-1", "21234567011", "2123 45671 1"])
def test_medicare_numbers_are_redacted(medicare):
    assert "2123" not in redact_text(f"medicare {medicare} on file")


@pytest.mark.parametrize(
    ("text", "kept", "secret"),
    [
        (
            'http://127.0.0.1:8100 "GET /v1/patients/search?q=lastName%3D%3D%22Citizen%22 HTTP/1.1" 200 12',
            'http://127.0.0.1:8100 "GET /v1/patients/search?[redacted] HTTP/1.1" 200 12',
            "Citizen",
        ),
        ('"POST /forms/mini?token=abc123 HTTP/1.1" 403 0', '"POST /forms/mini?[redacted] HTTP/1.1" 403 0', "abc123"),
        (
            "Max retries exceeded with url: /v1/patients?email=jane%40x.com (Caused by ConnectTimeoutError())",
            "Max retries exceeded with url: /v1/patients?[redacted] (Caused by ConnectTimeoutError())",
            "jane",
        ),
        (
            "https://medirecords.example/v1/patients?dob=1980-02-29",
            "https://medirecords.example/v1/patients?[redacted]",
            "1980",
        ),
        ("<WSGIRequest: GET '/admin/?patient__email=x'>", "<WSGIRequest: GET '/admin/?[redacted]'>", "patient__email"),
    ],
)
def test_every_url_loses_its_query_string(text, kept, secret):
    assert redact_text(text) == kept
    assert secret not in redact_text(text)


def test_configured_secrets_are_redacted_wherever_they_appear(settings):
    settings.JOTFORM_WEBHOOK_TOKEN = "jotform-token-4c1f9e2a"
    settings.AZURE_CLIENT_SECRET = "azure~client~secret~77"
    redacted = redact_text("posted to /forms/mini/jotform-token-4c1f9e2a with azure~client~secret~77")
    assert "jotform-token" not in redacted
    assert "azure~client" not in redacted


def test_bearer_tokens_and_known_secret_fields_are_redacted():
    redacted = redact_text("Authorization: Bearer eyJ0eXAi.abc clientState=s3cr3t-state validationToken: vt-123")
    for secret in ("eyJ0eXAi", "s3cr3t-state", "vt-123"):
        assert secret not in redacted


@pytest.mark.parametrize("spelt", ["29 February 1980", "Feb 29, 1980", "datetime.date(1980, 2, 29)", "1980/02/29"])
def test_dates_of_birth_in_other_spellings_are_redacted(spelt):
    assert "1980" not in redact_text(f"born {spelt}")


def _record(message, *args, **extra):
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def _rendered(record):
    """A record as the configured handler writes it."""
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, HealthDataFilter) for f in h.filters))
    assert handler.filter(record)
    return handler.format(record)


def test_a_request_on_a_record_is_described_without_its_query_string(rf):
    request = rf.get("/forms/mini", {"token": "jotform-secret-token", "patient__email": "jane@example.com.au"})
    line = json.loads(_rendered(_record("Forbidden: %s", request.path, request=request, status_code=403)))
    assert line["request"] == "<WSGIRequest: GET /forms/mini>"
    assert "jotform-secret-token" not in json.dumps(line)
    assert "jane" not in json.dumps(line)


def test_a_request_in_the_message_args_loses_its_query_string_too(rf):
    request = rf.get("/admin/bookings/booking/", {"patient__email": "jane@example.com.au", "q": "Citizen"})
    line = _rendered(_record("odd request %r", request))
    assert "Citizen" not in line
    assert "jane" not in line


def test_objects_on_a_record_are_logged_as_scrubbed_text():
    class Leaky:
        def __str__(self):
            return "Patient Jane, jane@example.com.au, born 1980-02-29"

    line = json.loads(_rendered(_record("seen", thing=Leaky(), day=date(1980, 2, 29))))
    assert "jane@" not in line["thing"]
    assert "1980" not in line["thing"]
    assert line["day"] == "[redacted]"


def test_sql_keeps_its_shape_but_not_its_parameters():
    sql = (
        "INSERT INTO bookings_patient (first_name, last_name, date_of_birth) "
        "VALUES ('Jane', 'O''Citizen', '1980-02-29')"
    )
    record = logging.LogRecord(
        "django.db.backends",
        logging.DEBUG,
        __file__,
        1,
        "(%.3f) %s; args=%s; alias=%s",
        (0.001, sql, ("Jane", "O'Citizen", date(1980, 2, 29)), "default"),
        None,
    )
    record.__dict__.update(duration=0.001, sql=sql, params=("Jane", "O'Citizen", date(1980, 2, 29)), alias="default")
    line = _rendered(record)
    assert "INSERT INTO bookings_patient (first_name, last_name, date_of_birth)" in line
    for health_data in ("Jane", "Citizen", "1980"):
        assert health_data not in line


@pytest.mark.django_db
def test_djangos_request_records_reach_the_log_without_the_query_string(client, log_lines, caplog):
    caplog.set_level(logging.WARNING, logger="django.request")
    response = client.get("/no-such-page/", {"token": "jotform-secret-token", "patient__email": "jane@example.com.au"})

    assert response.status_code == 404
    [line] = [line for line in log_lines() if line["logger"] == "django.request"]
    assert line["message"] == "Not Found: /no-such-page/"
    assert "jotform-secret-token" not in json.dumps(line)
    assert "jane" not in json.dumps(line)


# --- Every handler scrubs, whoever logs ---------------------------------------------------


def _service_handlers():
    """Every handler on every logger, except pytest's own capture and the suite's check."""
    loggers = [logging.getLogger()] + [
        item for item in logging.Logger.manager.loggerDict.values() if isinstance(item, logging.Logger)
    ]
    for logger in loggers:
        for handler in filter(_is_the_services, logger.handlers):
            yield logger.name, handler


def _is_the_services(handler):
    module = type(handler).__module__
    return not isinstance(handler, logging.NullHandler) and not module.startswith(("_pytest", "tests.plugins"))


def test_every_handler_scrubs_what_it_writes():
    unscrubbed = [(name, handler) for name, handler in _service_handlers() if not is_redacting(handler)]
    assert unscrubbed == []


def test_no_logger_falls_through_to_pythons_last_resort_handler():
    """A logger that does not propagate and has no handler of its own is printed raw to stderr."""
    silent = [
        name
        for name, item in logging.Logger.manager.loggerDict.items()
        if isinstance(item, logging.Logger) and not item.propagate and not any(map(_is_the_services, item.handlers))
    ]
    assert silent == []


def test_with_log_level_debug_the_service_writes_only_scrubbed_json(tmp_path):
    """As the service starts (here, its settings and logging alone): what reaches stderr."""
    script = """
import logging, django
django.setup()
logging.getLogger("urllib3.connectionpool").debug(
    '%s://%s:%s "%s %s %s" %s %s', "http", "127.0.0.1", 8100, "GET",
    '/v1/patients/search?q=lastName%3D%3D%22Citizen%22', "HTTP/1.1", 200, 12)
logging.getLogger("django.server").warning('"%s" %s %s', "POST /forms/mini?token=jotform-secret-token HTTP/1.1", 403, 0)
logging.getLogger("django.request").error("Internal Server Error: %s", "/forms/mini")
logging.getLogger("clinic.test").debug("debug lines are written")
"""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "true",
        "LOG_LEVEL": "DEBUG",
        "VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, check=True
    )

    lines = [json.loads(line) for line in result.stderr.splitlines()]  # every line is the service's JSON
    by_logger = {line["logger"]: line for line in lines}
    assert "urllib3.connectionpool" not in by_logger
    assert by_logger["django.server"]["message"] == '"POST /forms/mini?[redacted] HTTP/1.1" 403 0'
    assert [line["logger"] for line in lines].count("django.request") == 1
    assert "clinic.test" in by_logger
    assert "jotform-secret-token" not in result.stderr
    assert "Citizen" not in result.stderr
