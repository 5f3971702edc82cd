import io
import json
import logging

import pytest

from bookings import inbox
from bookings.models import DeliverySource
from config.log_redaction import HealthDataFilter, redact_text
from tests.bookings.factories import InboundDeliveryFactory


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
        stored = inbox.delivery_store(source=DeliverySource.STRIPE, delivery_key="evt_corr", body=b"{}")
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
    inbox.delivery_process(delivery_id=delivery.pk)
    processed = next(line for line in log_lines() if line["message"] == "delivery processed")
    assert processed["correlation_id"] == "original-9"
