"""The client's retry and error rules, with the HTTP layer replaced by `responses`.

The same rules are exercised over real HTTP against the sandbox in test_client_contract.py;
here the sleeps are recorded instead of slept, so every branch is cheap to reach.
"""

import pytest
import requests
import responses

from medirecords import MediRecordsClient
from medirecords.errors import (
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    ValidationError,
    is_transient,
)
from tests.retries import assert_a_long_wait_is_left_to_the_caller, assert_one_try_and_three_retries

BASE = "https://api.medirecords.test/v1"
PRACTICE = "00000000-0000-4000-8000-000000000001"
PATIENT_URL = f"{BASE}/patients/p-1"
PATIENT = {"id": "p-1", "lastName": "Citizen", "firstName": "Jane", "dob": "1980-02-29", "genderCode": 1}


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(sleeps):
    return MediRecordsClient(BASE, "token", PRACTICE, max_retries=3, sleep=sleeps.append)


@responses.activate
def test_a_get_is_retried_after_a_503_with_back_off(client, sleeps):
    responses.get(PATIENT_URL, status=503)
    responses.get(PATIENT_URL, json=PATIENT)

    assert client.patient_get("p-1").last_name == "Citizen"
    assert len(responses.calls) == 2
    assert len(sleeps) == 1
    assert 0 <= sleeps[0] <= client.backoff_seconds


@responses.activate
def test_a_429_waits_as_long_as_retry_after_says(client, sleeps):
    responses.get(PATIENT_URL, status=429, headers={"Retry-After": "2"})
    responses.get(PATIENT_URL, json=PATIENT)

    client.patient_get("p-1")
    assert sleeps == [2.0]


@responses.activate
def test_a_retry_after_longer_than_the_client_will_wait_is_raised_to_the_caller(client, sleeps):
    responses.get(PATIENT_URL, status=429, headers={"Retry-After": "600"})

    with pytest.raises(RateLimitedError) as raised:
        client.patient_get("p-1")
    assert_a_long_wait_is_left_to_the_caller(raised.value, sleeps, is_transient=is_transient)


@responses.activate
def test_retries_stop_after_the_limit(client, sleeps):
    for _ in range(5):
        responses.get(PATIENT_URL, status=502)

    with pytest.raises(ServerError):
        client.patient_get("p-1")
    assert_one_try_and_three_retries(sleeps)


@responses.activate
def test_a_dropped_connection_on_get_is_retried(client, sleeps):
    responses.get(PATIENT_URL, body=requests.ConnectionError("reset"))
    responses.get(PATIENT_URL, json=PATIENT)
    assert client.patient_get("p-1").id == "p-1"
    assert len(sleeps) == 1


@responses.activate
def test_a_post_is_never_retried_after_a_server_error(client, sleeps):
    responses.post(f"{BASE}/patients", status=503)
    with pytest.raises(ServerError):
        client.patient_create(_new_patient())
    assert len(responses.calls) == 1
    assert sleeps == []


@responses.activate
def test_a_post_timeout_is_a_transport_error_not_a_retry(client, sleeps):
    responses.post(f"{BASE}/patients", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(TransportError):
        client.patient_create(_new_patient())
    assert len(responses.calls) == 1
    assert sleeps == []


@responses.activate
def test_a_400_lists_the_fields_but_its_message_leaves_out_the_values(client):
    responses.post(
        f"{BASE}/patients",
        status=400,
        json={"errors": [{"parameter": "mobilePhone", "value": "0298765432", "message": "must match ^04\\d{8}$"}]},
    )
    with pytest.raises(ValidationError) as raised:
        client.patient_create(_new_patient())
    [error] = raised.value.errors
    assert (error.parameter, error.value) == ("mobilePhone", "0298765432")
    assert "mobilePhone" in str(raised.value)
    assert "0298765432" not in str(raised.value)
    assert not is_transient(raised.value)


@responses.activate
def test_a_fhir_operation_outcome_becomes_a_validation_error():
    client = MediRecordsClient(BASE, "token", PRACTICE, fhir_url="https://api.medirecords.test/fhir/v1")
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "diagnostics": "bad birthDate"}]}
    responses.get("https://api.medirecords.test/fhir/v1/Patient/p-1", json={"resourceType": "Patient", "id": "p-1"})
    responses.put("https://api.medirecords.test/fhir/v1/Patient/p-1", status=400, json=outcome)
    from medirecords import DemographicsUpdate

    with pytest.raises(ValidationError, match="bad birthDate"):
        client.patient_update_demographics("p-1", DemographicsUpdate(last_name="Citizen"))


@responses.activate
def test_a_success_that_is_not_json_is_a_transport_error(client):
    responses.get(PATIENT_URL, body="<html>gateway</html>", status=200)
    with pytest.raises(TransportError, match="not JSON"):
        client.patient_get("p-1")


@responses.activate
def test_not_found_carries_the_message(client):
    responses.get(PATIENT_URL, status=404, json={"message": "No Patient for id: p-1"})
    with pytest.raises(NotFoundError, match="No Patient for id"):
        client.patient_get("p-1")


@responses.activate
def test_every_call_carries_the_bearer_token_and_a_timeout(client, monkeypatch):
    seen_timeouts = []
    original = requests.Session.request

    def spy(self, *args, **kwargs):
        seen_timeouts.append(kwargs.get("timeout"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    responses.get(PATIENT_URL, json=PATIENT)
    client.patient_get("p-1")
    assert responses.calls[0].request.headers["Authorization"] == "Bearer token"
    assert seen_timeouts == [client.timeout]


def _new_patient():
    from datetime import date

    from medirecords import Gender, NewPatient

    return NewPatient(last_name="Citizen", first_name="Jane", gender=Gender.FEMALE, dob=date(1980, 2, 29))
