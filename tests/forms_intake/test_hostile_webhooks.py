"""JotForm webhooks anyone can post: each is a 4xx that stores nothing, never a 500."""

import json
from datetime import date

import pytest

from bookings.models import InboundDelivery
from forms_intake.models import FormSubmission
from forms_intake.parsing import MalformedSubmissionError, webhook_fields
from forms_intake.validation import Problem, intake_validate
from tests.forms_intake.conftest import FULL_FORM_ID, SUBMISSION_ID, WEBHOOK_TOKEN, full_intake

pytestmark = pytest.mark.django_db

URL = f"/forms/full?token={WEBHOOK_TOKEN}"


def fields(**changes: str) -> dict[str, str]:
    """A webhook's form fields as JotForm posts them (multipart), with `changes` applied."""
    answers = {"q3_fullName": {"first": "Jane", "last": "Citizen"}, "q4_email": "jane.citizen@example.com.au"}
    return {"formID": FULL_FORM_ID, "submissionID": SUBMISSION_ID, "rawRequest": json.dumps(answers), **changes}


def assert_nothing_stored() -> None:
    assert not InboundDelivery.objects.exists()
    assert not FormSubmission.objects.exists()


class TestUnparseable:
    @pytest.mark.parametrize(
        "raw_request",
        ["[" * 5000 + "]" * 5000, '{"a": ' + "[" * 5000 + "]" * 5000 + "}", '{"a": ' + "[" * 40 + "]" * 40 + "}"],
        ids=["nested-5000", "nested-5000-in-object", "nested-deeper-than-any-form"],
    )
    def test_nesting_too_deep_is_a_bad_request(self, client, raw_request):
        response = client.post(URL, data=fields(rawRequest=raw_request))

        assert response.status_code == 400
        assert_nothing_stored()

    def test_an_integer_too_long_to_convert_is_a_bad_request(self, client):
        response = client.post(URL, data=fields(rawRequest='{"q1_x": ' + "1" * 5000 + "}"))

        assert response.status_code == 400
        assert_nothing_stored()

    def test_a_broken_multipart_body_is_a_bad_request(self, client):
        response = client.generic(
            "POST",
            URL,
            data=b"--x\r\nContent-Disposition: form-data; na",
            content_type="multipart/form-data; boundary=x",
        )

        assert response.status_code == 400
        assert_nothing_stored()


class TestIds:
    ODD_IDS = [
        ("submissionID", f"{SUBMISSION_ID}\x00"),
        ("formID", f"{FULL_FORM_ID}\x00"),
        ("submissionID", "6" * 65),
        ("formID", "2" * 33),
        ("submissionID", "63123 45678"),
        ("submissionID", "../6312345678901234567"),
    ]
    IDS = ["nul-in-submission", "nul-in-form", "submission-too-long", "form-too-long", "space", "path"]

    @pytest.mark.parametrize(("name", "value"), ODD_IDS, ids=IDS)
    def test_an_odd_id_is_malformed(self, name, value):
        with pytest.raises(MalformedSubmissionError):
            webhook_fields(fields(**{name: value}))

    @pytest.mark.parametrize(("name", "value"), ODD_IDS, ids=IDS)
    def test_an_odd_id_is_a_bad_request_that_stores_nothing(self, client, name, value):
        response = client.post(URL, data=fields(**{name: value}))

        assert response.status_code == 400
        assert_nothing_stored()

    @pytest.mark.parametrize(
        ("name", "value"),
        [("submissionID", f"{SUBMISSION_ID}\x00"), ("submissionID", "6" * 65), ("formID", "2" * 33)],
        ids=["nul", "submission-too-long", "form-too-long"],
    )
    def test_postgresql_never_sees_an_id_it_cannot_store(self, client, name, value):
        # Before ids were checked, PostgreSQL refused these with a 500 or a 503 instead of a 400,
        # and SQLite stored them. Checked before storing, they are a 400 on either database.
        response = client.post(URL, data=fields(**{name: value}))

        assert response.status_code == 400
        assert_nothing_stored()

    def test_jotforms_own_ids_are_accepted(self):
        webhook = webhook_fields(fields())
        assert (webhook.form_id, webhook.submission_id) == (FULL_FORM_ID, SUBMISSION_ID)


class TestOversized:
    def test_a_body_over_the_limit_is_413_with_the_limit_named(self, post_form, settings):
        body, content_type = full_intake()
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body) - 1

        response = post_form("/forms/full", body, content_type)

        assert response.status_code == 413
        assert response.json() == {
            "error": f"the body is larger than {len(body) - 1} bytes, the most this service accepts"
        }
        assert_nothing_stored()

    def test_a_body_at_the_limit_is_read(self, post_form, settings):
        body, content_type = full_intake()
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body)

        assert post_form("/forms/full", body, content_type).status_code != 413


@pytest.mark.usefixtures("one_rate_limit_window")
class TestRateLimit:
    def test_over_the_limit_is_429_with_retry_after_and_stores_nothing(self, client, settings):
        settings.RATELIMIT_JOTFORM = "2/m"
        for _ in range(2):
            assert client.post(URL, data=fields(formID="999")).status_code == 422  # counted, not ours

        FormSubmission.objects.all().delete()
        response = client.post(URL, data=fields())

        assert response.status_code == 429
        assert 1 <= int(response["Retry-After"]) <= 60
        assert_nothing_stored()

    def test_each_address_has_its_own_count(self, client, settings):
        settings.RATELIMIT_JOTFORM = "1/m"
        assert client.post(URL, data=fields(formID="999"), REMOTE_ADDR="192.0.2.1").status_code == 422
        assert client.post(URL, data=fields(formID="999"), REMOTE_ADDR="192.0.2.1").status_code == 429
        assert client.post(URL, data=fields(formID="999"), REMOTE_ADDR="192.0.2.2").status_code == 422


class TestFreeText:
    TODAY = date(2026, 11, 25)

    def test_a_name_too_long_to_store_is_refused_with_a_reason_not_cut(self):
        intake = intake_validate(values={"first_name": "Jane", "last_name": "C" * 101}, today=self.TODAY)

        assert "last_name" not in intake.values
        assert Problem("last_name", "is longer than 100 characters") in intake.problems
        assert intake.values["first_name"] == "Jane"

    def test_bidirectional_controls_are_stripped_from_names(self):
        intake = intake_validate(
            values={"first_name": "Ja\u202ene\u2066", "last_name": "\u2067Citizen"}, today=self.TODAY
        )
        assert (intake.values["first_name"], intake.values["last_name"]) == ("Jane", "Citizen")

    def test_long_free_text_keeps_what_fits_and_says_so(self):
        intake = intake_validate(values={"medications": "m" * 800}, today=self.TODAY)

        assert intake.values["medications"] == "m" * 500
        assert Problem("medications", "is longer than 500 characters: only the first 500 were kept") in intake.problems

    def test_text_that_fits_raises_no_problem(self):
        intake = intake_validate(values={"medications": "m" * 500}, today=self.TODAY)
        assert intake.problems == []
