"""The MediRecords sandbox speaks the API as medirecords/README.md describes it.

Talks to a real server over HTTP with `requests`, as any client would; no database needed.
"""

import hashlib
import json
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from medirecords.sandbox import (
    APPOINTMENT_TYPES,
    INTERVAL_CODES,
    PRACTICE_ID,
    PROVIDERS,
    SANDBOX_PRACTITIONERS,
    FaultError,
    SandboxServer,
)
from medirecords.sandbox.__main__ import build_parser, main
from tests.medirecords.sandbox_bodies import MISSING, patient_body

TOKEN = "test-token"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
APPOINTMENTS = f"/v1/practices/{PRACTICE_ID}/appointments"
DIA = SANDBOX_PRACTITIONERS["dr-dia"]
NURSE = SANDBOX_PRACTITIONERS["nurse"]
RAMONA = SANDBOX_PRACTITIONERS["ramona"]
UNKNOWN_ID = "99999999-0000-4000-8000-000000000000"


class Api:
    """`requests` with the base URL and the bearer token filled in; paths start at the server root."""

    def __init__(self, sandbox: SandboxServer, token: str | None = TOKEN) -> None:
        self.sandbox = sandbox
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method, path, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 5)
        return self.session.request(method, self.sandbox.url + path, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def put(self, path, **kwargs):
        return self.request("PUT", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def sandbox():
    with SandboxServer(token=TOKEN) as server:
        yield server


@pytest.fixture
def api(sandbox):
    client = Api(sandbox)
    yield client
    client.session.close()


def create_patient(api, **changes):
    response = api.post("/v1/patients", json=patient_body(**changes))
    assert response.status_code == 201, response.text
    return response.json()


def booked_with(practitioner: dict[str, str]) -> dict[str, str]:
    """An appointment's fields naming `practitioner`, one of SANDBOX_PRACTITIONERS."""
    return {"providerId": practitioner["provider_id"], "appointmentTypeId": practitioner["appointment_type_id"]}


def appointment_body(patient_id, **changes):
    body = {
        "patientId": patient_id,
        **booked_with(DIA),
        "scheduleTime": "2025-03-10T09:00",
        # An integer, as public clients send it; the code system lists it as text.
        "appointmentIntervalCode": int(INTERVAL_CODES[45]),
        "notes": "first visit",
    }
    body.update(changes)
    return {name: value for name, value in body.items() if value is not MISSING}


def create_appointment(api, patient_id, **changes):
    response = api.post(APPOINTMENTS, json=appointment_body(patient_id, **changes))
    assert response.status_code == 201, response.text
    return response.json()


def error_parameters(response):
    assert response.status_code == 400, response.text
    return [error["parameter"] for error in response.json()["errors"]]


def search(api, q, **params):
    response = api.get("/v1/patients/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return response.json()


def found_last_names(api, q):
    return sorted(patient["lastName"] for patient in search(api, q)["data"])


class TestAuthentication:
    def test_a_request_without_a_token_is_unauthorized(self, sandbox):
        response = Api(sandbox, token=None).get("/v1/patients/search")
        assert response.status_code == 401
        assert response.json() == {"message": "Unauthorized"}

    @pytest.mark.parametrize("header", ["Bearer wrong-token", f"Basic {TOKEN}", TOKEN, "Bearer"])
    def test_a_wrong_token_or_scheme_is_unauthorized(self, sandbox, header):
        response = requests.get(sandbox.api_url + "/patients/search", headers={"Authorization": header}, timeout=5)
        assert response.status_code == 401
        assert response.json() == {"message": "Unauthorized"}

    def test_fhir_needs_the_token_too(self, sandbox):
        response = Api(sandbox, token=None).get(f"/fhir/v1/Patient/{UNKNOWN_ID}")
        assert response.status_code == 401
        assert response.json() == {"message": "Unauthorized"}

    def test_an_unknown_path_is_unauthorized_before_it_is_not_found(self, sandbox):
        assert Api(sandbox, token=None).get("/v1/nothing-here").status_code == 401

    def test_a_separate_fhir_token_is_the_only_one_fhir_accepts(self):
        with SandboxServer(token="rest", fhir_token="fhir") as sandbox:
            path = f"/fhir/v1/Patient/{UNKNOWN_ID}"
            assert Api(sandbox, token="rest").get(path).status_code == 401
            assert Api(sandbox, token="fhir").get(path).status_code == 404
            assert Api(sandbox, token="fhir").get("/v1/code-system/appointment-interval-code").status_code == 401
            assert Api(sandbox, token="rest").get("/v1/code-system/appointment-interval-code").status_code == 200

    def test_the_page_and_the_control_endpoints_need_no_token(self, sandbox):
        anonymous = Api(sandbox, token=None)
        assert anonymous.get("/").status_code == 200
        assert anonymous.get("/_sandbox/state").status_code == 200
        assert anonymous.get("/_sandbox/faults").status_code == 200


class TestRouting:
    def test_an_unknown_route_is_not_found(self, api):
        response = api.get("/v1/nothing-here")
        assert response.status_code == 404
        assert response.json() == {"message": "Not Found"}

    def test_a_known_route_with_another_method_is_not_allowed(self, api):
        response = api.get("/v1/patients")
        assert response.status_code == 405
        assert response.headers["Allow"] == "POST"

    @pytest.mark.parametrize("body", [b"{not json", b"", '{"lastName": "Zo\u00eb"'.encode()])
    def test_a_body_that_is_not_json_is_a_400_on_body(self, api, body):
        response = api.post("/v1/patients", data=body, headers={"Content-Type": "application/json"})
        assert response.json() == {
            "errors": [{"parameter": "body", "value": None, "message": "must be a valid JSON document"}]
        }

    def test_a_body_that_is_not_an_object_is_a_400_on_body(self, api):
        assert error_parameters(api.post("/v1/patients", json=[patient_body()])) == ["body"]

    def test_requests_are_not_written_to_stderr(self, api, capfd):
        api.get("/v1/code-system/appointment-interval-code")
        api.get("/")
        assert capfd.readouterr().err == ""


class TestPatientCreate:
    def test_answers_the_stored_patient(self, api):
        body = patient_body(
            titleCode=315890002,
            email="jane@example.com",
            mobilePhone="0412345678",
            homePhone="0298765432",
            usualDoctorId=DIA["provider_id"],
            contactMethod=1,
            notes="prefers mornings",
        )
        response = api.post("/v1/patients", json=body)

        assert response.status_code == 201
        patient = response.json()
        assert uuid.UUID(patient["id"]).version == 4
        assert {name: patient[name] for name in body} == body
        assert patient["fullName"] == "Jane Citizen"
        assert patient["genderCode"] == 1
        assert (patient["middleName"], patient["preferredName"], patient["workPhone"]) == (None, None, None)
        created = datetime.fromisoformat(patient["createdDateTime"])
        assert created.utcoffset() == timedelta(0)
        assert patient["updatedDateTime"] == patient["createdDateTime"]
        assert api.get(f"/v1/patients/{patient['id']}").json() == patient

    def test_first_name_may_be_null(self, api):
        patient = create_patient(api, firstName=None)
        assert patient["firstName"] is None
        assert patient["fullName"] == "Citizen"

    @pytest.mark.parametrize("field", ["defaultPracticeId", "lastName", "gender", "dob", "patientStatusCode"])
    def test_each_required_field(self, api, field):
        response = api.post("/v1/patients", json=patient_body(**{field: MISSING}))
        assert response.status_code == 400
        assert response.json() == {"errors": [{"parameter": field, "value": None, "message": "must not be null"}]}

    def test_every_failing_field_is_listed_at_once(self, api):
        response = api.post("/v1/patients", json={"mobilePhone": "123", "email": "nope"})
        assert error_parameters(response) == [
            "defaultPracticeId",
            "lastName",
            "gender",
            "dob",
            "patientStatusCode",
            "mobilePhone",
            "email",
        ]
        assert response.json()["errors"][5] == {
            "parameter": "mobilePhone",
            "value": "123",
            "message": "must match ^04\\d{8}$",
        }

    def test_the_practice_must_be_the_sandbox_practice(self, api):
        assert error_parameters(api.post("/v1/patients", json=patient_body(defaultPracticeId=UNKNOWN_ID))) == [
            "defaultPracticeId"
        ]

    def test_last_name_must_not_be_blank(self, api):
        assert error_parameters(api.post("/v1/patients", json=patient_body(lastName="  "))) == ["lastName"]

    @pytest.mark.parametrize("gender", [0, 4, "1", True, 1.5])
    def test_gender_is_1_2_or_3(self, api, gender):
        assert error_parameters(api.post("/v1/patients", json=patient_body(gender=gender))) == ["gender"]

    @pytest.mark.parametrize("gender", [1, 2, 3])
    def test_gender_code_repeats_gender(self, api, gender):
        assert create_patient(api, gender=gender)["genderCode"] == gender

    @pytest.mark.parametrize(
        "mobile", ["0312345678", "041234567", "04123456789", "+61412345678", "0412 345 678", "04l2345678", 412345678]
    )
    def test_mobile_format(self, api, mobile):
        assert error_parameters(api.post("/v1/patients", json=patient_body(mobilePhone=mobile))) == ["mobilePhone"]

    @pytest.mark.parametrize("mobile", ["0412345678", None])
    def test_a_well_formed_or_null_mobile_is_accepted(self, api, mobile):
        assert create_patient(api, mobilePhone=mobile)["mobilePhone"] == mobile

    @pytest.mark.parametrize(
        "dob", ["1980-2-29", "29/02/1980", "1981-02-29", "1980-02-29T00:00", "19800229", "", 19800229]
    )
    def test_dob_format(self, api, dob):
        response = api.post("/v1/patients", json=patient_body(dob=dob))
        assert error_parameters(response) == ["dob"]
        assert response.json()["errors"][0]["message"] == "must be a date in the format YYYY-MM-DD"

    def test_dob_in_the_future(self, api):
        future = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
        response = api.post("/v1/patients", json=patient_body(dob=future))
        assert response.json() == {
            "errors": [{"parameter": "dob", "value": future, "message": "must not be in the future"}]
        }

    def test_dob_today_is_accepted(self, api, time_machine):
        time_machine.move_to(datetime(2026, 12, 1, 21, 0, tzinfo=UTC), tick=False)

        patient = create_patient(api, dob="2026-12-01")

        assert api.get(f"/v1/patients/{patient['id']}").json()["dob"] == "2026-12-01"

    @pytest.mark.parametrize("title_code", [315890000, 315890004, "315890012"])
    def test_a_listed_title_code_is_accepted(self, api, title_code):
        assert create_patient(api, titleCode=title_code)["titleCode"] == title_code

    @pytest.mark.parametrize("title_code", [315890006, "Dr", True])
    def test_an_unlisted_title_code(self, api, title_code):
        assert error_parameters(api.post("/v1/patients", json=patient_body(titleCode=title_code))) == ["titleCode"]

    @pytest.mark.parametrize("email", ["jane", "jane@example", "a@b@example.com", "@example.com", "jane@.com", 5])
    def test_email_format(self, api, email):
        assert error_parameters(api.post("/v1/patients", json=patient_body(email=email))) == ["email"]


class TestPatientRead:
    def test_an_unknown_patient_is_not_found(self, api):
        response = api.get(f"/v1/patients/{UNKNOWN_ID}")
        assert response.status_code == 404
        assert response.json() == {"message": f"No Patient for id: {UNKNOWN_ID}"}

    @pytest.mark.parametrize(
        "path",
        [
            "/v1/patients/{id}/addresses",
            "/v1/patients/{id}/settings",
            "/v1/patients/{id}/relationships",
            "/v1/upload/patients/{id}/correspondences/inbounds",
        ],
    )
    def test_records_of_an_unknown_patient_are_not_found(self, api, path):
        response = api.get(path.format(id=UNKNOWN_ID))
        assert response.status_code == 404
        assert response.json() == {"message": f"No Patient for id: {UNKNOWN_ID}"}

    def test_exist_finds_by_email_whatever_the_case(self, api):
        patient = create_patient(api, email="Jane.Citizen@Example.com")
        create_patient(api, email="someone@example.com")
        response = api.get("/v1/patients/exist", params={"email": "jane.citizen@example.COM"})
        assert response.status_code == 200
        assert response.json() == [{"id": patient["id"]}]

    def test_exist_answers_an_empty_list_when_nobody_has_the_email(self, api):
        create_patient(api, email="jane@example.com")
        assert api.get("/v1/patients/exist", params={"email": "nobody@example.com"}).json() == []


class TestPaging:
    def test_pages_through_the_results(self, api):
        ids = [create_patient(api, lastName="Pager", firstName=f"P{number:02d}")["id"] for number in range(23)]

        pages = [search(api, "lastName==Pager", page=page, size=10) for page in range(4)]

        assert [[patient["id"] for patient in page["data"]] for page in pages] == [
            ids[:10],
            ids[10:20],
            ids[20:],
            [],
        ]
        summary = ["first", "last", "totalPages", "totalElements", "numberOfElements", "size", "page"]
        assert [[page[key] for key in summary] for page in pages] == [
            [True, False, 3, 23, 10, 10, 0],
            [False, False, 3, 23, 10, 10, 1],
            [False, True, 3, 23, 3, 10, 2],
            [False, True, 3, 23, 0, 10, 3],
        ]

    def test_the_default_page_is_the_first_twenty(self, api):
        for number in range(23):
            create_patient(api, lastName="Pager", firstName=f"P{number:02d}")
        page = search(api, "lastName==Pager")
        assert (page["page"], page["size"], page["numberOfElements"], page["totalPages"]) == (0, 20, 20, 2)

    def test_no_results_is_one_empty_first_and_last_page(self, api):
        page = search(api, "lastName==Nobody")
        assert page == {
            "data": [],
            "first": True,
            "last": True,
            "totalPages": 0,
            "totalElements": 0,
            "numberOfElements": 0,
            "size": 20,
            "page": 0,
        }

    @pytest.mark.parametrize("path", ["/v1/patients/search", APPOINTMENTS])
    def test_size_at_most_50(self, api, path):
        response = api.get(path, params={"size": 51})
        assert response.status_code == 400
        assert response.json() == {
            "errors": [{"parameter": "size", "value": "51", "message": "size must be between 0 and 50"}]
        }
        assert api.get(path, params={"size": 50}).status_code == 200

    def test_a_negative_size_or_page(self, api):
        assert error_parameters(api.get("/v1/patients/search", params={"size": -1, "page": -1})) == ["page", "size"]

    def test_a_size_that_is_not_a_number(self, api):
        assert error_parameters(api.get("/v1/patients/search", params={"size": "ten"})) == ["size"]


class TestSearch:
    @pytest.fixture
    def people(self, api):
        return {
            "jane citizen": create_patient(api, firstName="Jane", lastName="Citizen", email="jane@example.com"),
            "john citizen": create_patient(api, firstName="John", lastName="Citizen", mobilePhone="0412345678"),
            "jane smith": create_patient(api, firstName="Jane", lastName="Smith", dob="1975-06-01"),
        }

    def test_and(self, api, people):
        found = search(api, "firstName==Jane;lastName==Citizen")["data"]
        assert [patient["id"] for patient in found] == [people["jane citizen"]["id"]]

    def test_or(self, api, people):
        assert found_last_names(api, "lastName==Smith,firstName==John") == ["Citizen", "Smith"]

    def test_and_binds_tighter_than_or(self, api, people):
        found = search(api, "firstName==John,firstName==Jane;lastName==Smith")["data"]
        assert sorted(patient["id"] for patient in found) == sorted(
            [people["john citizen"]["id"], people["jane smith"]["id"]]
        )

    def test_parentheses_group(self, api, people):
        found = search(api, "(firstName==John,firstName==Jane);lastName==Smith")["data"]
        assert [patient["id"] for patient in found] == [people["jane smith"]["id"]]

    def test_names_compare_case_insensitively_but_exactly(self, api, people):
        assert len(search(api, "lastName==CITIZEN")["data"]) == 2
        assert search(api, "lastName==Citiz")["data"] == []
        assert search(api, "lastName==Citizens")["data"] == []

    def test_dob_email_and_mobile(self, api, people):
        assert [p["id"] for p in search(api, "dob==1975-06-01")["data"]] == [people["jane smith"]["id"]]
        assert [p["id"] for p in search(api, 'email=="JANE@example.com"')["data"]] == [people["jane citizen"]["id"]]
        assert [p["id"] for p in search(api, "mobilePhone==0412345678")["data"]] == [people["john citizen"]["id"]]

    def test_quoted_values_may_hold_quotes_commas_and_semicolons(self, api):
        tricky = create_patient(api, lastName='Smith, Jr; "Junior" O\'Neil')
        create_patient(api, lastName="Smith")
        found = search(api, 'lastName=="smith, jr; \\"junior\\" o\'neil"')["data"]
        assert [patient["id"] for patient in found] == [tricky["id"]]

    def test_a_unicode_name_with_an_apostrophe(self, api):
        patient = create_patient(api, lastName="O'Brien-Nguyễn")
        create_patient(api, lastName="OBrien-Nguyen")
        for q in [
            'lastName=="O\'Brien-Nguyễn"',
            "lastName=='o\\'brien-nguyễn'",
            'lastName=="O\'BRIEN-NGUYỄN"',
        ]:
            assert [p["id"] for p in search(api, q)["data"]] == [patient["id"]], q

    @pytest.mark.parametrize(
        "q",
        [
            "lastName",
            "lastName==",
            'lastName=="unterminated',
            "nickname==x",
            "lastName=like=x",
            "lastName!=x",
            "lastName==a;",
            "lastName==a,",
            "(lastName==a",
            "lastName==a)",
            "lastName==a b",
        ],
    )
    def test_a_malformed_expression_is_a_400_on_q(self, api, q):
        response = api.get("/v1/patients/search", params={"q": q})
        assert error_parameters(response) == ["q"]
        assert response.json()["errors"][0]["value"] == q


class TestPatientRecords:
    @pytest.fixture
    def patient(self, api):
        return create_patient(api)

    def test_addresses(self, api, patient):
        path = f"/v1/patients/{patient['id']}/addresses"
        body = {
            "addressType": 1,
            "addressLine1": "x" * 50,
            "addressLine2": "Unit 2",
            "cityCode": "Surry Hills",
            "postcode": "2010",
            "stateCode": "NSW",
            "countryCode": "AU",
        }
        created = api.post(path, json=body)
        assert created.status_code == 201
        assert {name: created.json()[name] for name in body} == body
        assert api.get(path).json() == {"data": [created.json()]}

    def test_address_line_1_is_at_most_50_characters(self, api, patient):
        response = api.post(f"/v1/patients/{patient['id']}/addresses", json={"addressLine1": "x" * 51})
        assert error_parameters(response) == ["addressLine1"]

    def test_settings_are_empty_until_set(self, api, patient):
        assert api.get(f"/v1/patients/{patient['id']}/settings").json() == {
            "patientId": patient["id"],
            "medicareNo": None,
            "medicareIRN": None,
            "medicareExpiry": None,
            "dvaNo": None,
            "ihiNo": None,
            "healthFundNo": None,
        }

    def test_settings_post_replaces_the_whole_object(self, api, patient):
        path = f"/v1/patients/{patient['id']}/settings"
        first = {"medicareNo": "2123456701", "medicareIRN": "1", "medicareExpiry": "2027-05", "dvaNo": "NX123456"}
        response = api.post(path, json=first)
        assert response.status_code == 200
        assert response.json() == api.get(path).json()
        assert api.get(path).json()["dvaNo"] == "NX123456"

        api.post(path, json={"ihiNo": "8003608166690503"})

        settings = api.get(path).json()
        assert (settings["ihiNo"], settings["medicareNo"], settings["dvaNo"]) == ("8003608166690503", None, None)

    @pytest.mark.parametrize("expiry", ["05/2027", "2027-13", "2027-5", "2027-05-01"])
    def test_medicare_expiry_is_a_month(self, api, patient, expiry):
        response = api.post(f"/v1/patients/{patient['id']}/settings", json={"medicareExpiry": expiry})
        assert error_parameters(response) == ["medicareExpiry"]

    def test_relationships(self, api, patient):
        path = f"/v1/patients/{patient['id']}/relationships"
        body = {
            "relationshipCode": "spouse",
            "contactName": "Sam Citizen",
            "contactMethod": 1,
            "mobilePhone": "0498765432",
            "isEmergency": True,
            "isNOK": False,
        }
        created = api.post(path, json=body)
        assert created.status_code == 201
        assert {name: created.json()[name] for name in body} == body
        assert api.get(path).json() == {"data": [created.json()]}

    def test_documents_keep_the_exact_bytes_and_list_without_them(self, api, sandbox, patient):
        path = f"/v1/upload/patients/{patient['id']}/correspondences/inbounds"
        content = bytes(range(256)) + b"\r\n--not-the-boundary\r\n\r\n" + bytes(range(255, -1, -1))
        fields = {
            "subject": "Referral letter",
            "practiceId": PRACTICE_ID,
            "patientId": patient["id"],
            "importDate": "2025-03-10",
            "category": "Referral",
            "senderType": "1",
            "senderId": DIA["provider_id"],
            "recipientId": DIA["provider_id"],
        }
        response = api.post(path, data=fields, files={"attachment": ("referral.pdf", content, "application/pdf")})

        assert response.status_code == 201, response.text
        document = response.json()
        assert {name: document[name] for name in fields} == fields
        assert (document["filename"], document["contentType"], document["size"]) == (
            "referral.pdf",
            "application/pdf",
            len(content),
        )
        assert document["sha256"] == hashlib.sha256(content).hexdigest()
        assert sandbox.store.document_content(document["id"]) == content
        assert api.get(path).json() == {"data": [document]}

    def test_a_document_needs_an_attachment(self, api, patient):
        path = f"/v1/upload/patients/{patient['id']}/correspondences/inbounds"
        response = api.post(path, files={"subject": (None, "No file")})
        assert error_parameters(response) == ["attachment"]

    def test_a_document_must_be_multipart(self, api, patient):
        path = f"/v1/upload/patients/{patient['id']}/correspondences/inbounds"
        assert error_parameters(api.post(path, json={"subject": "x"})) == ["body"]


class TestFhirPatient:
    def test_get_maps_the_stored_patient(self, api):
        patient = create_patient(api, email="jane@example.com", mobilePhone="0412345678")
        api.post(f"/v1/patients/{patient['id']}/settings", json={"medicareNo": "2123456701"})

        response = api.get(f"/fhir/v1/Patient/{patient['id']}")

        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/fhir+json"
        resource = response.json()
        assert resource["resourceType"] == "Patient"
        assert resource["id"] == patient["id"]
        assert resource["name"][0]["family"] == "Citizen"
        assert resource["name"][0]["given"] == ["Jane"]
        assert (resource["gender"], resource["birthDate"]) == ("female", "1980-02-29")
        assert {"system": "email", "value": "jane@example.com"} in resource["telecom"]
        assert {"system": "phone", "value": "0412345678", "use": "mobile"} in resource["telecom"]
        medicare = [
            i for i in resource["identifier"] if i["system"] == "http://ns.electronichealth.net.au/id/medicare-number"
        ]
        assert [identifier["value"] for identifier in medicare] == ["2123456701"]

    def test_put_round_trip(self, api):
        patient = create_patient(api)
        path = f"/fhir/v1/Patient/{patient['id']}"
        resource = api.get(path).json()
        resource.update(
            name=[{"use": "official", "family": "Nguyễn", "given": ["Mai", "Thi"]}],
            gender="other",
            birthDate="1990-01-02",
            telecom=[
                {"system": "email", "value": "mai@example.com"},
                {"system": "phone", "value": "0411111111", "use": "mobile"},
            ],
            identifier=[{"system": "http://ns.electronichealth.net.au/id/medicare-number", "value": "3123456701"}],
        )

        response = api.put(path, data=json.dumps(resource), headers={"Content-Type": "application/fhir+json"})

        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == "application/fhir+json"
        assert response.json() == api.get(path).json()
        stored = api.get(f"/v1/patients/{patient['id']}").json()
        assert {
            name: stored[name]
            for name in ("firstName", "middleName", "lastName", "fullName", "genderCode", "dob", "email", "mobilePhone")
        } == {
            "firstName": "Mai",
            "middleName": "Thi",
            "lastName": "Nguyễn",
            "fullName": "Mai Thi Nguyễn",
            "genderCode": 3,
            "dob": "1990-01-02",
            "email": "mai@example.com",
            "mobilePhone": "0411111111",
        }
        assert api.get(f"/v1/patients/{patient['id']}/settings").json()["medicareNo"] == "3123456701"

    @pytest.mark.parametrize(("fhir_gender", "code"), [("female", 1), ("male", 2), ("other", 3), ("unknown", 3)])
    def test_put_maps_gender(self, api, fhir_gender, code):
        patient = create_patient(api)
        path = f"/fhir/v1/Patient/{patient['id']}"
        resource = api.get(path).json() | {"gender": fhir_gender}
        assert api.put(path, json=resource).status_code == 200
        assert api.get(f"/v1/patients/{patient['id']}").json()["genderCode"] == code

    @pytest.mark.parametrize(
        "change",
        [
            {"resourceType": "Practitioner"},
            {"id": UNKNOWN_ID},
            {"birthDate": "1990-13-01"},
            {"birthDate": "1990"},
            {"gender": "f"},
            {"name": []},
        ],
    )
    def test_put_rejects_an_invalid_resource_with_an_operation_outcome(self, api, change):
        patient = create_patient(api)
        path = f"/fhir/v1/Patient/{patient['id']}"
        response = api.put(path, json=api.get(path).json() | change)
        assert response.status_code == 400
        assert response.headers["Content-Type"] == "application/fhir+json"
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert [(issue["severity"], issue["code"]) for issue in outcome["issue"]] == [("error", "invalid")]
        assert outcome["issue"][0]["diagnostics"]
        assert api.get(f"/v1/patients/{patient['id']}").json() == patient

    @pytest.mark.parametrize("method", ["GET", "PUT"])
    def test_an_unknown_patient_is_a_not_found_operation_outcome(self, api, method):
        response = api.request(method, f"/fhir/v1/Patient/{UNKNOWN_ID}", json={"resourceType": "Patient"})
        assert response.status_code == 404
        assert response.headers["Content-Type"] == "application/fhir+json"
        assert response.json() == {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "not-found", "diagnostics": f"No Patient for id: {UNKNOWN_ID}"}],
        }


class TestAppointments:
    @pytest.fixture
    def patient(self, api):
        return create_patient(api)

    def test_create_answers_the_stored_appointment(self, api, sandbox, patient):
        response = api.post(APPOINTMENTS, json=appointment_body(patient["id"], urgency=2, emailReminder=True))

        assert response.status_code == 201
        appointment = response.json()
        assert appointment["practiceId"] == PRACTICE_ID
        assert appointment["appointmentStatus"] == 2
        assert appointment["cancellationReason"] is None
        assert appointment["confirmationLink"] == f"{sandbox.url}/confirm/{appointment['id']}"
        assert appointment["updatedDateTime"] == appointment["createdDateTime"]
        body = appointment_body(patient["id"], urgency=2, emailReminder=True)
        assert {name: appointment[name] for name in body} == body
        assert api.get(f"{APPOINTMENTS}/{appointment['id']}").json() == appointment

    def test_every_missing_required_field_is_listed(self, api):
        assert error_parameters(api.post(APPOINTMENTS, json={})) == [
            "patientId",
            "providerId",
            "appointmentTypeId",
            "scheduleTime",
            "appointmentIntervalCode",
        ]

    @pytest.mark.parametrize("field", ["patientId", "providerId", "appointmentTypeId"])
    def test_references_must_exist(self, api, patient, field):
        response = api.post(APPOINTMENTS, json=appointment_body(patient["id"], **{field: UNKNOWN_ID}))
        assert error_parameters(response) == [field]

    @pytest.mark.parametrize(
        "schedule_time",
        [
            "2025-03-10T09:00:00",
            "2025-03-10T09:00+10:00",
            "2025-03-10T09:00Z",
            "2025-02-30T09:00",
            "2025-03-10T24:00",
            "2025-03-10 09:00",
            "2025-03-10",
        ],
    )
    def test_schedule_time_is_exactly_wall_clock_minutes(self, api, patient, schedule_time):
        response = api.post(APPOINTMENTS, json=appointment_body(patient["id"], scheduleTime=schedule_time))
        assert error_parameters(response) == ["scheduleTime"]

    @pytest.mark.parametrize("code", [3, 99, "5 min", None, "11", True])
    def test_the_interval_code_must_be_one_of_the_code_system(self, api, patient, code):
        response = api.post(APPOINTMENTS, json=appointment_body(patient["id"], appointmentIntervalCode=code))
        assert error_parameters(response) == ["appointmentIntervalCode"]

    @pytest.mark.parametrize("status", [1, 9, "2", True])
    def test_status_is_2_to_8(self, api, patient, status):
        response = api.post(APPOINTMENTS, json=appointment_body(patient["id"], appointmentStatus=status))
        assert error_parameters(response) == ["appointmentStatus"]

    def test_cancelling_needs_a_reason(self, api, patient):
        response = api.post(APPOINTMENTS, json=appointment_body(patient["id"], appointmentStatus=8))
        assert error_parameters(response) == ["cancellationReason"]

        appointment = create_appointment(api, patient["id"])
        path = f"{APPOINTMENTS}/{appointment['id']}"
        assert error_parameters(api.put(path, json=appointment | {"appointmentStatus": 8})) == ["cancellationReason"]
        # A code, typed as a number: words (or a number as text) are refused.
        for words in (" ", "Unwell", "3"):
            as_words = appointment | {"appointmentStatus": 8, "cancellationReason": words}
            assert error_parameters(api.put(path, json=as_words)) == ["cancellationReason"]

        cancelled = api.put(path, json=appointment | {"appointmentStatus": 8, "cancellationReason": 3})
        assert cancelled.status_code == 200
        assert (cancelled.json()["appointmentStatus"], cancelled.json()["cancellationReason"]) == (8, 3)

    def test_put_replaces_the_whole_object_but_keeps_what_the_server_set(self, api, patient):
        appointment = create_appointment(api, patient["id"])
        path = f"{APPOINTMENTS}/{appointment['id']}"
        changed = {name: value for name, value in appointment.items() if name != "notes"} | {
            "scheduleTime": "2025-03-12T14:15",
            "appointmentStatus": 3,
            "id": UNKNOWN_ID,
            "createdDateTime": "2000-01-01T00:00:00.000Z",
        }

        response = api.put(path, json=changed)

        assert response.status_code == 200
        updated = response.json()
        assert (updated["scheduleTime"], updated["appointmentStatus"], updated["notes"]) == (
            "2025-03-12T14:15",
            3,
            None,
        )
        assert updated["id"] == appointment["id"]
        assert updated["createdDateTime"] == appointment["createdDateTime"]
        assert updated["updatedDateTime"] >= appointment["updatedDateTime"]
        assert api.get(path).json() == updated

    def test_put_validates_like_create(self, api, patient):
        appointment = create_appointment(api, patient["id"])
        response = api.put(f"{APPOINTMENTS}/{appointment['id']}", json=appointment | {"scheduleTime": "2025-03-12"})
        assert error_parameters(response) == ["scheduleTime"]

    def test_delete(self, api, patient):
        appointment = create_appointment(api, patient["id"])
        path = f"{APPOINTMENTS}/{appointment['id']}"

        response = api.delete(path)

        assert response.status_code == 204
        assert response.content == b""
        assert api.get(path).status_code == 404
        assert api.delete(path).status_code == 404

    @pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
    def test_an_unknown_appointment_is_not_found(self, api, patient, method):
        response = api.request(method, f"{APPOINTMENTS}/{UNKNOWN_ID}", json=appointment_body(patient["id"]))
        assert response.status_code == 404
        assert response.json() == {"message": f"No Appointment for id: {UNKNOWN_ID}"}

    @pytest.mark.parametrize(
        "path", ["/appointments", "/appointments/" + UNKNOWN_ID, "/providers", "/appointment-types", ""]
    )
    def test_an_unknown_practice_is_not_found(self, api, path):
        response = api.get(f"/v1/practices/{UNKNOWN_ID}{path}")
        assert response.status_code == 404
        assert response.json() == {"message": f"No Practice for id: {UNKNOWN_ID}"}


class TestAppointmentList:
    @pytest.fixture
    def booked(self, api):
        jane = create_patient(api)["id"]
        john = create_patient(api, firstName="John")["id"]
        return {
            "a1": create_appointment(api, jane, scheduleTime="2025-03-10T09:00"),
            "a2": create_appointment(
                api, john, scheduleTime="2025-03-10T10:30", appointmentStatus=3, **booked_with(NURSE)
            ),
            "a3": create_appointment(api, jane, scheduleTime="2025-03-11T09:00"),
            "a4": create_appointment(
                api,
                jane,
                scheduleTime="2025-03-09T16:00",
                appointmentStatus=8,
                cancellationReason=3,
                **booked_with(RAMONA),
            ),
        }

    @staticmethod
    def listed(api, booked, **params):
        response = api.get(APPOINTMENTS, params=params)
        assert response.status_code == 200, response.text
        by_id = {appointment["id"]: name for name, appointment in booked.items()}
        return [by_id[appointment["id"]] for appointment in response.json()["data"]]

    def test_sorted_by_schedule_time(self, api, booked):
        assert self.listed(api, booked) == ["a4", "a1", "a2", "a3"]

    def test_the_date_range_includes_both_ends(self, api, booked):
        window = {"appointmentDateRangeStart": "2025-03-10T09:00", "appointmentDateRangeEnd": "2025-03-11T09:00"}
        assert self.listed(api, booked, **window) == ["a1", "a2", "a3"]
        assert self.listed(api, booked, appointmentDateRangeStart="2025-03-10T09:01") == ["a2", "a3"]
        assert self.listed(api, booked, appointmentDateRangeEnd="2025-03-10T08:59") == ["a4"]

    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            ({"providerId": DIA["provider_id"]}, ["a1", "a3"]),
            ({"appointmentTypeId": NURSE["appointment_type_id"]}, ["a2"]),
            ({"appointmentStatus": 8}, ["a4"]),
            ({"appointmentStatus": 2, "appointmentDateRangeStart": "2025-03-11T00:00"}, ["a3"]),
        ],
    )
    def test_filters(self, api, booked, filters, expected):
        assert self.listed(api, booked, **filters) == expected

    def test_patient_filter(self, api, booked):
        assert self.listed(api, booked, patientId=booked["a2"]["patientId"]) == ["a2"]

    @pytest.mark.parametrize("bound", ["appointmentDateRangeStart", "appointmentDateRangeEnd"])
    @pytest.mark.parametrize("value", ["2025-03-10", "2025-03-10T09:00:00", "2025-03-10T09:00+10:00", "soon"])
    def test_a_malformed_date_range_is_a_400(self, api, bound, value):
        assert error_parameters(api.get(APPOINTMENTS, params={bound: value})) == [bound]

    def test_pages(self, api, booked):
        page = api.get(APPOINTMENTS, params={"size": 3, "page": 1}).json()
        assert [appointment["id"] for appointment in page["data"]] == [booked["a3"]["id"]]
        assert (page["totalElements"], page["totalPages"], page["first"], page["last"]) == (4, 2, False, True)


class TestReferenceData:
    def test_providers(self, api):
        response = api.get(f"/v1/practices/{PRACTICE_ID}/providers", params={"status": "Active"})
        assert response.json() == {"data": list(PROVIDERS.values())}
        assert set(response.json()["data"][0]) == {"id", "firstName", "lastName", "fullName", "status"}
        assert api.get(f"/v1/practices/{PRACTICE_ID}/providers", params={"status": "Inactive"}).json() == {"data": []}

    def test_appointment_types(self, api):
        response = api.get(f"/v1/practices/{PRACTICE_ID}/appointment-types")
        assert response.json() == {"data": APPOINTMENT_TYPES}
        # Durations come as minutes or as text, as public notes on the API show both.
        durations = {t["name"]: t["duration"] for t in response.json()["data"]}
        assert (durations["GAPS coaching session"], durations["Nurse consultation"]) == ("1 hr", 30)

    def test_interval_codes(self, api):
        codes = api.get("/v1/code-system/appointment-interval-code").json()["data"]
        assert codes[:4] == [
            {"code": "2", "display": "5 min"},
            {"code": "4", "display": "10 min"},
            {"code": "6", "display": "15 min"},
            {"code": "7", "display": "20 min"},
        ]
        assert {int(code["display"].removesuffix(" min")): code["code"] for code in codes} == INTERVAL_CODES

    def test_regular_sessions_filter_by_user(self, api):
        path = f"/v1/practices/{PRACTICE_ID}/regular-sessions"
        sessions = api.get(path, params={"userId": RAMONA["provider_id"]}).json()["data"]
        assert [(s["dayOfWeek"], s["startTime"], s["endTime"]) for s in sessions] == [
            (day, "09:00", "17:00") for day in range(1, 6)
        ]
        assert {s["userId"] for s in sessions} == {RAMONA["provider_id"]}
        assert len(api.get(path).json()["data"]) == 5 * len(PROVIDERS)

    def test_every_practitioner_maps_to_a_provider_and_a_type(self):
        provider_ids = {provider["id"] for provider in PROVIDERS.values()}
        type_ids = {appointment_type["id"] for appointment_type in APPOINTMENT_TYPES}
        for practitioner in SANDBOX_PRACTITIONERS.values():
            assert practitioner["provider_id"] in provider_ids
            assert practitioner["appointment_type_id"] in type_ids


class TestFailNext:
    def test_429_with_retry_after_then_normal(self, api, sandbox):
        sandbox.set_faults(fail_next=[{"status": 429, "count": 1, "retry_after": 7}])
        path = "/v1/code-system/appointment-interval-code"

        limited = api.get(path)

        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "7"
        assert limited.json() == {"message": "Too Many Requests"}
        assert api.get(path).status_code == 200
        assert [request["status"] for request in sandbox.requests] == [429, 200]
        assert sandbox.faults["fail_next"] == []

    def test_429_without_its_own_retry_after_uses_the_setting(self, api, sandbox):
        sandbox.set_faults(retry_after_seconds=3, fail_next=[{"status": 429}])
        assert api.get("/v1/code-system/appointment-interval-code").headers["Retry-After"] == "3"

    def test_503_only_for_matching_requests_and_without_doing_anything(self, api, sandbox):
        sandbox.set_faults(fail_next=[{"status": 503, "count": 2, "method": "POST", "path_prefix": "/v1/patients"}])

        assert api.get("/v1/patients/search").status_code == 200
        failed = [api.post("/v1/patients", json=patient_body()) for _ in range(2)]
        assert api.post("/v1/patients", json=patient_body()).status_code == 201

        assert [response.status_code for response in failed] == [503, 503]
        assert failed[0].json() == {"message": "Internal Server Error"}
        assert len(sandbox.store.patients()) == 1

    def test_entries_apply_in_order(self, api, sandbox):
        sandbox.set_faults(fail_next=[{"status": 502}, {"status": 504}])
        path = "/v1/code-system/appointment-interval-code"
        assert [api.get(path).status_code for _ in range(3)] == [502, 504, 200]

    def test_drop_performs_the_request_but_never_answers(self, api, sandbox):
        sandbox.set_faults(fail_next=[{"drop": True, "method": "POST"}])

        with pytest.raises(requests.exceptions.ConnectionError):
            api.post("/v1/patients", json=patient_body(lastName="Dropwell"))

        assert [patient["lastName"] for patient in sandbox.store.patients()] == ["Dropwell"]
        assert sandbox.requests[-1]["status"] == "dropped"
        assert api.get("/v1/patients/search", params={"q": "lastName==Dropwell"}).json()["totalElements"] == 1

    def test_set_through_the_control_endpoint(self, sandbox):
        entry = {"status": 500, "count": 1, "path_prefix": "/v1/practices"}
        response = requests.post(sandbox.url + "/_sandbox/faults", json={"fail_next": [entry]}, timeout=5)
        assert response.status_code == 200
        assert response.json()["fail_next"] == [entry]
        assert requests.get(sandbox.url + "/_sandbox/faults", timeout=5).json() == response.json()

    @pytest.mark.parametrize(
        "changes",
        [
            {"fail_next": [{"count": 1}]},
            {"fail_next": [{"status": 429, "count": 0}]},
            {"fail_next": {"status": 429}},
            {"error_rate": 1.5},
            {"latency_ms": -1},
            {"retry_after_seconds": 1.5},
            {"nonsense": 1},
        ],
    )
    def test_bad_settings_are_refused_whole(self, sandbox, changes):
        response = requests.post(sandbox.url + "/_sandbox/faults", json=changes | {"timeout_seconds": 2}, timeout=5)
        assert error_parameters(response) == [next(iter(changes))]
        assert sandbox.faults["timeout_seconds"] == 30.0
        with pytest.raises(FaultError):
            sandbox.set_faults(**changes)


class TestRandomFaults:
    PATH = "/v1/code-system/appointment-interval-code"

    def test_latency_delays_and_is_recorded(self, api, sandbox):
        sandbox.set_faults(latency_ms=150)
        started = time.monotonic()
        assert api.get(self.PATH).status_code == 200
        assert time.monotonic() - started >= 0.15
        assert sandbox.requests[-1]["duration_ms"] >= 150

    def test_error_rate(self, api, sandbox):
        sandbox.set_faults(seed=1, error_rate=1.0)
        response = api.get(self.PATH)
        assert response.status_code == 500
        assert response.json() == {"message": "Internal Server Error"}

    def test_rate_limit_rate(self, api, sandbox):
        sandbox.set_faults(seed=1, rate_limit_rate=1.0, retry_after_seconds=2)
        response = api.get(self.PATH)
        assert (response.status_code, response.headers["Retry-After"]) == (429, "2")

    def test_drop_create_rate_drops_creates_only(self, api, sandbox):
        sandbox.set_faults(seed=1, drop_create_rate=1.0)
        patient = sandbox.store.patient_create(patient_body())[1]
        assert api.get(f"/v1/patients/{patient['id']}").status_code == 200
        with pytest.raises(requests.exceptions.ConnectionError):
            api.post("/v1/patients", json=patient_body())
        with pytest.raises(requests.exceptions.ConnectionError):
            api.post(APPOINTMENTS, json=appointment_body(patient["id"]))
        assert len(sandbox.store.patients()) == 2
        assert len(sandbox.store.appointments()) == 1

    def test_timeout_rate_answers_late(self, api, sandbox):
        sandbox.set_faults(seed=1, timeout_rate=1.0, timeout_seconds=0.1)
        started = time.monotonic()
        assert api.get(self.PATH).status_code == 200
        assert time.monotonic() - started >= 0.1

    def test_a_client_that_gives_up_gets_a_timeout(self, api, sandbox):
        sandbox.set_faults(seed=1, timeout_rate=1.0, timeout_seconds=5)
        with pytest.raises(requests.exceptions.ReadTimeout):
            api.get(self.PATH, timeout=0.1)
        assert sandbox.requests[-1]["status"] is None, "seen, but not answered yet"

    def test_a_rate_of_zero_never_fires(self, api, sandbox):
        sandbox.set_faults(seed=1, error_rate=0.0, rate_limit_rate=0.0, timeout_rate=0.0, drop_create_rate=0.0)
        assert {api.get(self.PATH).status_code for _ in range(20)} == {200}

    def test_faults_never_touch_the_page_or_the_control_endpoints(self, sandbox):
        sandbox.set_faults(error_rate=1.0, fail_next=[{"status": 503, "count": 5}])
        assert requests.get(sandbox.url + "/", timeout=5).status_code == 200
        assert requests.get(sandbox.url + "/_sandbox/state", timeout=5).status_code == 200
        assert requests.get(sandbox.url + "/_sandbox/requests", timeout=5).status_code == 200
        assert sandbox.faults["fail_next"][0]["count"] == 5


class TestControl:
    def test_requests_are_recorded_without_the_control_calls(self, api, sandbox):
        api.get("/v1/patients/search", params={"q": "lastName==Citizen"})
        api.get(f"/v1/patients/{UNKNOWN_ID}")
        requests.get(sandbox.url + "/_sandbox/state", timeout=5)

        recorded = requests.get(sandbox.url + "/_sandbox/requests", timeout=5).json()["data"]

        assert [(r["method"], r["path"], r["query"], r["status"]) for r in recorded] == [
            ("GET", "/v1/patients/search", "q=lastName%3D%3DCitizen", 200),
            ("GET", f"/v1/patients/{UNKNOWN_ID}", "", 404),
        ]
        assert recorded[0]["time"] <= recorded[1]["time"]
        assert recorded == sandbox.requests

    def test_state_holds_everything(self, api, sandbox):
        patient = create_patient(api)
        create_appointment(api, patient["id"])
        state = requests.get(sandbox.url + "/_sandbox/state", timeout=5).json()
        assert [p["id"] for p in state["patients"]] == [patient["id"]]
        assert len(state["appointments"]) == 1
        assert len(state["providers"]) == len(PROVIDERS)

    def test_reset_forgets_everything_and_restores_the_starting_faults(self):
        with SandboxServer(token=TOKEN, faults={"latency_ms": 1}) as sandbox:
            api = Api(sandbox)
            create_patient(api)
            sandbox.set_faults(latency_ms=50, fail_next=[{"status": 500}])

            response = requests.post(sandbox.url + "/_sandbox/reset", timeout=5)

            assert response.status_code == 204
            assert sandbox.store.patients() == []
            assert sandbox.requests == []
            assert (sandbox.faults["latency_ms"], sandbox.faults["fail_next"]) == (1, [])
            assert len(api.get(f"/v1/practices/{PRACTICE_ID}/providers").json()["data"]) == len(PROVIDERS)

    def test_the_page_escapes_what_it_shows(self, api, sandbox):
        patient = create_patient(api, firstName="<script>alert(1)</script>", lastName="<b>&")
        create_appointment(api, patient["id"])

        response = requests.get(sandbox.url + "/", timeout=5)

        assert response.headers["Content-Type"].startswith("text/html")
        assert "<script>" not in response.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &lt;b&gt;&amp;" in response.text
        assert patient["id"] in response.text
        assert "Dr Dia" in response.text

    def test_the_data_file_keeps_the_state_across_restarts(self, tmp_path):
        data_file = tmp_path / "sandbox.json"
        with SandboxServer(token=TOKEN, data_file=data_file) as sandbox:
            api = Api(sandbox)
            patient = create_patient(api)
            appointment = create_appointment(api, patient["id"])
            path = f"/v1/upload/patients/{patient['id']}/correspondences/inbounds"
            document = api.post(path, files={"attachment": ("a.bin", b"\x00\xff", "application/octet-stream")}).json()

        assert json.loads(data_file.read_text(encoding="utf-8"))["patients"]
        assert [file.name for file in tmp_path.iterdir()] == ["sandbox.json"]

        with SandboxServer(token=TOKEN, data_file=data_file) as sandbox:
            api = Api(sandbox)
            assert api.get(f"/v1/patients/{patient['id']}").json() == patient
            assert api.get(f"{APPOINTMENTS}/{appointment['id']}").json() == appointment
            assert sandbox.store.document_content(document["id"]) == b"\x00\xff"

    def test_a_file_that_is_not_sandbox_data_is_refused(self, tmp_path):
        data_file = tmp_path / "other.json"
        data_file.write_text('{"version": 99}', encoding="utf-8")
        with pytest.raises(ValueError, match="not a sandbox data file"):
            SandboxServer(data_file=data_file)


class TestCommandLine:
    def test_defaults(self):
        args = build_parser().parse_args([])
        assert (args.port, args.host, args.token, args.data_file) == (8100, "127.0.0.1", "sandbox-token", None)
        assert (args.latency_ms, args.error_rate, args.rate_limit_rate, args.drop_create_rate) == (0, 0.0, 0.0, 0.0)
        assert (args.retry_after, args.seed) == (1, None)

    def test_every_option(self):
        args = build_parser().parse_args(
            [
                "--port=9000",
                "--host=127.0.0.2",
                "--token=t",
                "--data-file=state.json",
                "--latency-ms=20",
                "--error-rate=0.1",
                "--rate-limit-rate=0.2",
                "--retry-after=5",
                "--drop-create-rate=0.3",
                "--seed=42",
            ]
        )
        assert (args.port, args.host, args.token, args.data_file) == (9000, "127.0.0.2", "t", "state.json")
        assert (args.latency_ms, args.error_rate, args.rate_limit_rate, args.drop_create_rate) == (20, 0.1, 0.2, 0.3)
        assert (args.retry_after, args.seed) == (5, 42)

    @pytest.mark.parametrize("option", ["--error-rate=1.5", "--rate-limit-rate=-0.1", "--latency-ms=-1", "--port=x"])
    def test_bad_values_are_refused(self, option, capsys):
        with pytest.raises(SystemExit):
            build_parser().parse_args([option])

    def test_main_fails_cleanly_on_a_bad_data_file(self, tmp_path, capsys):
        data_file = tmp_path / "broken.json"
        data_file.write_text("not json", encoding="utf-8")
        handlers = [signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)]
        assert main(["--port=0", f"--data-file={data_file}"]) == 1
        assert "not a sandbox data file" in capsys.readouterr().err
        assert [signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)] == handlers

    def test_serves_until_terminated(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            [sys.executable, "-m", "medirecords.sandbox", "--port", str(port), "--token", "cli-token"],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    page = requests.get(url + "/", timeout=1)
                    break
                except requests.exceptions.ConnectionError:
                    assert process.poll() is None, process.communicate()
                    assert time.monotonic() < deadline, "the sandbox did not start within 10 seconds"
                    time.sleep(0.05)
            assert page.status_code == 200
            headers = {"Authorization": "Bearer cli-token"}
            assert requests.get(f"{url}/v1/practices/{PRACTICE_ID}", headers=headers, timeout=5).status_code == 200

            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()

        assert process.returncode == 0, stderr
        assert stdout.splitlines() == [f"MediRecords sandbox serving on {url} (API {url}/v1)"]
