"""Finding the booking's patient in MediRecords, or creating them once, with placeholders."""

from datetime import date

import pytest

from bookings.descriptions import normalised_name
from bookings.models import Booking, Patient, SyncState
from bookings.push import sync
from bookings.push.errors import SyncNeedsAttentionError
from bookings.push.patient_matching import MatchResult, medirecords_mobile, patient_match_or_create
from tests.bookings.sync_helpers import booking_at, new_person, requests_of, seed_medirecords_patient, sydney

pytestmark = pytest.mark.django_db


@pytest.fixture
def dr_dia(sandbox_practitioner):
    return sandbox_practitioner("dr-dia")


def test_names_compare_without_case_accents_or_surrounding_space():
    assert normalised_name("  José  ") == normalised_name("jose")
    assert normalised_name("Núñez-O'Brien") == normalised_name("nunez-o'brien")
    assert normalised_name("Anne  Marie") == "anne marie"
    assert normalised_name("Jane") != normalised_name("Janet")


@pytest.mark.parametrize(
    ("e164", "expected"),
    [("+61412345678", "0412345678"), ("+61298765432", None), ("+6441234567", None), ("0412345678", None)],
)
def test_only_australian_mobiles_are_sent_in_medirecords_form(e164, expected):
    assert medirecords_mobile(e164) == expected


def test_a_new_person_is_created_with_placeholders_recorded_and_explained(sandbox, mr_client, dr_dia, settings):
    patient = new_person()
    booking = booking_at(dr_dia, sydney(2026, 12, 7), patient=patient)

    result = sync.booking_sync(booking_id=booking.pk, client=mr_client)

    assert result.outcome == SyncState.SYNCED
    [created] = sandbox.store.patients()
    assert created["dob"] == "1900-01-01"
    assert created["genderCode"] == 3
    assert (created["firstName"], created["lastName"]) == ("Jane", "Citizen")
    assert created["mobilePhone"] == "0412345678"
    assert created["email"] == "jane.citizen@example.com.au"
    assert "online booking" in created["notes"]
    assert "date of birth 1900-01-01" in created["notes"]
    assert "sex other" in created["notes"]
    patient.refresh_from_db()
    assert patient.medirecords_patient_id == created["id"]
    assert patient.placeholder_fields == ["date_of_birth", "sex"]


def test_placeholders_come_from_settings_and_an_unusable_mobile_is_left_out(sandbox, mr_client, settings):
    settings.MEDIRECORDS_PLACEHOLDER_DOB = date(1901, 1, 1)
    settings.MEDIRECORDS_PLACEHOLDER_LAST_NAME = "NOT GIVEN"
    patient = new_person(last_name="", mobile="+61298765432", sex="female")

    outcome = patient_match_or_create(patient=patient, client=mr_client)

    assert outcome.result == MatchResult.CREATED
    [created] = sandbox.store.patients()
    assert (created["dob"], created["lastName"], created["genderCode"]) == ("1901-01-01", "NOT GIVEN", 1)
    assert created["mobilePhone"] is None
    assert "Not known yet: mobile." in created["notes"]
    patient.refresh_from_db()
    assert patient.placeholder_fields == ["last_name", "date_of_birth", "mobile"]


def test_a_last_name_too_long_for_medirecords_waits_for_staff_and_is_kept_whole(sandbox, mr_client, dr_dia):
    long_last_name = "Citizen" + "x" * 193
    patient = new_person(last_name=long_last_name)
    booking = booking_at(dr_dia, sydney(2026, 12, 7), patient=patient)

    result = sync.booking_sync(booking_id=booking.pk, client=mr_client)

    assert result.outcome == SyncState.NEEDS_ATTENTION
    booking.refresh_from_db()
    assert booking.sync_state == SyncState.NEEDS_ATTENTION
    assert "last name is 200 characters, more than the 100 MediRecords holds" in booking.sync_error
    assert long_last_name not in booking.sync_error
    assert sandbox.store.patients() == []
    assert sandbox.store.appointments() == []
    patient.refresh_from_db()
    assert (patient.last_name, patient.medirecords_patient_id) == (long_last_name, "")
    assert patient.medirecords_create_attempted_at is None

    # Staff shorten it on the patient and retry: the booking goes through.
    Patient.objects.filter(pk=patient.pk).update(last_name="Citizen")
    Booking.objects.filter(pk=booking.pk).update(sync_state=SyncState.PENDING)
    assert sync.booking_sync(booking_id=booking.pk, client=mr_client).outcome == SyncState.SYNCED
    [created] = sandbox.store.patients()
    assert created["lastName"] == "Citizen"


def test_the_name_limit_is_a_setting_and_covers_the_first_name(sandbox, mr_client, settings):
    settings.MEDIRECORDS_NAME_MAX_LENGTH = 10
    patient = new_person(first_name="Janette-Louise", last_name="Citizen")

    with pytest.raises(SyncNeedsAttentionError, match="first name is 14 characters, more than the 10"):
        patient_match_or_create(patient=patient, client=mr_client)
    assert sandbox.store.patients() == []


def test_the_same_names_and_birth_date_link_despite_accents_and_case(sandbox, mr_client, dr_dia):
    existing = seed_medirecords_patient(mr_client, first_name="José", last_name="Núñez", dob=date(1975, 6, 1))
    seed_medirecords_patient(mr_client, first_name="Josefa", last_name="Núñez", dob=date(1975, 6, 1))
    patient = new_person(first_name=" jose", last_name="NUNEZ ", date_of_birth=date(1975, 6, 1))
    booking = booking_at(dr_dia, sydney(2026, 12, 7), patient=patient)

    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    patient.refresh_from_db()
    assert patient.medirecords_patient_id == existing.id
    assert patient.placeholder_fields == []
    assert len(sandbox.store.patients()) == 2
    [appointment] = sandbox.store.appointments()
    assert appointment["patientId"] == existing.id


def test_an_already_linked_patient_is_used_without_searching(sandbox, mr_client, dr_dia):
    existing = seed_medirecords_patient(mr_client)
    patient = new_person(medirecords_patient_id=existing.id)
    booking = booking_at(dr_dia, sydney(2026, 12, 7), patient=patient)

    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    assert requests_of(sandbox, "GET", "/v1/patients") == []
    assert sandbox.store.appointments()[0]["patientId"] == existing.id


def test_an_email_match_with_another_last_name_is_not_them(sandbox, mr_client):
    seed_medirecords_patient(mr_client, last_name="Other", email="jane.citizen@example.com.au")
    patient = new_person()

    outcome = patient_match_or_create(patient=patient, client=mr_client)

    assert outcome.result == MatchResult.CREATED
    assert len(sandbox.store.patients()) == 2


def test_an_email_match_with_the_same_last_name_is_them(sandbox, mr_client):
    existing = seed_medirecords_patient(mr_client, last_name="Cítizen", email="Jane.Citizen@example.com.au")
    patient = new_person()

    outcome = patient_match_or_create(patient=patient, client=mr_client)

    assert outcome.result == MatchResult.MATCHED
    assert outcome.medirecords_patient_id == existing.id
    assert len(sandbox.store.patients()) == 1


def test_several_email_matches_with_the_same_last_name_need_review(sandbox, mr_client):
    seed_medirecords_patient(mr_client, first_name="Jane", email="jane.citizen@example.com.au")
    seed_medirecords_patient(mr_client, first_name="John", email="jane.citizen@example.com.au")

    outcome = patient_match_or_create(patient=new_person(), client=mr_client)

    assert outcome.result == MatchResult.NEEDS_REVIEW
    assert {candidate.first_name for candidate in outcome.candidates} == {"Jane", "John"}


def test_several_candidates_wait_for_staff_with_the_candidates_stored(sandbox, mr_client, dr_dia):
    first = seed_medirecords_patient(mr_client)
    second = seed_medirecords_patient(mr_client, first_name="JANE")
    patient = new_person(date_of_birth=date(1980, 2, 29))
    booking = booking_at(dr_dia, sydney(2026, 12, 7), patient=patient)

    result = sync.booking_sync(booking_id=booking.pk, client=mr_client)

    assert result.outcome == SyncState.NEEDS_REVIEW
    booking.refresh_from_db()
    assert booking.sync_state == SyncState.NEEDS_REVIEW
    assert {candidate["id"] for candidate in booking.patient_candidates} == {first.id, second.id}
    assert booking.patient_candidates[0].keys() == {"id", "first_name", "last_name", "dob"}
    assert booking.patient_candidates[0]["dob"] == "1980-02-29"
    assert sandbox.store.appointments() == []
    assert len(sandbox.store.patients()) == 2


def test_staff_linking_a_candidate_lets_the_sync_carry_on(
    sandbox, mr_client, dr_dia, django_capture_on_commit_callbacks, staff_actor
):
    from bookings.push.review import booking_patient_link

    chosen = seed_medirecords_patient(mr_client)
    seed_medirecords_patient(mr_client, first_name="JANE")
    booking = booking_at(dr_dia, sydney(2026, 12, 7), patient=new_person(date_of_birth=date(1980, 2, 29)))
    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    with django_capture_on_commit_callbacks(execute=True):
        booking_patient_link(
            booking_id=booking.pk, medirecords_patient_id=chosen.id, client=mr_client, actor=staff_actor
        )

    booking.refresh_from_db()
    assert booking.sync_state == SyncState.SYNCED
    assert booking.patient_candidates == []
    assert booking.patient.medirecords_patient_id == chosen.id
    [appointment] = sandbox.store.appointments()
    assert appointment["patientId"] == chosen.id
    assert len(sandbox.store.patients()) == 2
    [entry] = booking.audit_entries.all()
    assert (entry.action, entry.actor_username, entry.ip_address) == ("patient_linked", "frontdesk", "192.0.2.10")
    assert entry.after == {"patient": f"Patient #{booking.patient_id}", "medirecords_patient_id": chosen.id}


def test_staff_choosing_a_new_patient_creates_one_without_asking_again(
    sandbox, mr_client, dr_dia, django_capture_on_commit_callbacks, staff_actor
):
    from bookings.push.review import booking_patient_create_new

    seed_medirecords_patient(mr_client)
    seed_medirecords_patient(mr_client, first_name="JANE")
    patient = new_person(date_of_birth=date(1980, 2, 29))
    booking = booking_at(dr_dia, sydney(2026, 12, 7), patient=patient)
    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    with django_capture_on_commit_callbacks(execute=True):
        booking_patient_create_new(booking_id=booking.pk, actor=staff_actor)

    booking.refresh_from_db()
    patient.refresh_from_db()
    assert booking.sync_state == SyncState.SYNCED
    assert patient.medirecords_create_new is True
    assert len(sandbox.store.patients()) == 3
    assert sandbox.store.appointments()[0]["patientId"] == patient.medirecords_patient_id
    assert [entry.action for entry in booking.audit_entries.all()] == ["patient_create_new"]


def test_a_patient_create_whose_answer_was_lost_is_found_not_repeated(sandbox, mr_client, dr_dia):
    patient = new_person()
    booking = booking_at(dr_dia, sydney(2026, 12, 7), patient=patient)
    sandbox.set_faults(fail_next=[{"drop": True, "count": 1, "method": "POST", "path_prefix": "/v1/patients"}])

    first = sync.booking_sync(booking_id=booking.pk, client=mr_client)
    assert first.retry_in_seconds is not None
    assert len(sandbox.store.patients()) == 1  # it was created; we never heard
    second = sync.booking_sync(booking_id=booking.pk, client=mr_client)

    assert second.outcome == SyncState.SYNCED
    [created] = sandbox.store.patients()
    patient.refresh_from_db()
    assert patient.medirecords_patient_id == created["id"]
    assert patient.placeholder_fields == ["date_of_birth", "sex"]
    assert len(requests_of(sandbox, "POST", "/v1/patients")) == 1
    assert len(sandbox.store.appointments()) == 1


def test_two_of_our_patients_found_to_be_one_person_share_the_record(sandbox, mr_client, dr_dia):
    existing = seed_medirecords_patient(mr_client)
    holder = new_person(email="jane@elsewhere.example", medirecords_patient_id=existing.id)
    patient = new_person(date_of_birth=date(1980, 2, 29))
    booking = booking_at(dr_dia, sydney(2026, 12, 7), patient=patient)

    sync.booking_sync(booking_id=booking.pk, client=mr_client)

    booking.refresh_from_db()
    assert booking.patient == holder
    assert Patient.objects.get(pk=patient.pk).medirecords_patient_id == ""
    assert sandbox.store.appointments()[0]["patientId"] == existing.id
