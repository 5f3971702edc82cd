"""The suite's log privacy check finds a patient's data in every spelling it knows."""

from datetime import date

import pytest

from tests.plugins.log_privacy import STATE_KEY, Needles, leaks_in


@pytest.fixture
def jane():
    needles = Needles()
    needles.patient(
        first_name="Jane",
        last_name="Citizen",
        email="jane.citizen@example.com.au",
        mobile="+61412345678",
        date_of_birth=date(1980, 2, 29),
    )
    needles.medicare("2123 45670 1")
    needles.answers({"q15_currentMedications": "Levothyroxine 50mcg daily", "submitSource": "form"})
    needles.secret("jotform-token-4c1f9e2a", "JOTFORM_WEBHOOK_TOKEN")
    return needles


def found(line, needles):
    return {label for label, _ in leaks_in(line, [needles])}


@pytest.mark.parametrize(
    ("line", "label"),
    [
        ("rang from +61 412 345 678", "patient phone"),
        ("rang from 0412 345 678", "patient phone"),
        ("rang from 0412345678", "patient phone"),
        ("rang from 0412-345-678", "patient phone"),
        ("rang from %2B61412345678", "patient phone"),
        ("born 1980-02-29", "patient date of birth"),
        ("born 29/02/1980", "patient date of birth"),
        ("born 29.2.1980", "patient date of birth"),
        ("born 02/29/1980", "patient date of birth"),
        ("born 29 February 1980", "patient date of birth"),
        ("dob%3D%3D%221980-02-29%22", "patient date of birth"),
        ("born datetime.date(1980, 2, 29)", "patient date of birth"),
        ('{"message": "JANE"}', "patient first name"),
        ("search lastName==%22Citizen%22", "patient last name"),
        ("mail to jane.citizen%40example.com.au", "patient email"),
        ("medicare 2123456701", "Medicare number"),
        ("takes levothyroxine 50mcg daily", "form answer"),
        ("posted /forms/mini?token=jotform-token-4c1f9e2a", "JOTFORM_WEBHOOK_TOKEN"),
    ],
)
def test_each_spelling_is_found(jane, line, label):
    assert label in found(line, jane)


@pytest.mark.parametrize(
    "line",
    [
        '{"time": "1980-02-29 21:11:05,680", "message": "booking applied", "booking_id": 12}',
        "Janet Citizens form submitted 2026-12-03T23:30:00+00:00",
        "GET /v1/patients?[redacted] 200 in 0.2 ms",
        # Random hex ids (correlation and task ids) hold runs of digits by chance.
        '{"correlation_id": "8a3a8a0db3f6419800229c757771df3", "task_id": "b8238c93-2902-1980-96a7-50044302761e"}',
    ],
)
def test_ordinary_lines_are_not_taken_for_a_leak(jane, line):
    assert found(line, jane) == set()


@pytest.mark.django_db
def test_the_patients_and_secrets_a_test_makes_are_searched_for(request, settings):
    from tests.bookings.factories import PatientFactory

    PatientFactory(first_name="Quenby", email="quenby@example.com.au", mobile="+61498765432")
    settings.JOTFORM_WEBHOOK_TOKEN = "overridden-token-123"
    needles = request.config.stash[STATE_KEY].test_needles

    assert found("hello Quenby", needles) == {"patient first name"}
    assert "patient email" in found("mail quenby@example.com.au", needles)
    assert found("call 0498 765 432", needles) == {"patient phone"}
    assert found("/forms/mini?token=overridden-token-123", needles) == {"JOTFORM_WEBHOOK_TOKEN"}
