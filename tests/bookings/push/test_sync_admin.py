"""The staff console's side of the sync: state in the list, retry, and choosing the patient."""

from datetime import date

import pytest
from django.urls import reverse

from bookings.models import Booking, SyncAttempt, SyncOutcome, SyncState
from bookings.push import sync
from tests.bookings.factories import BookingFactory
from tests.bookings.sync_helpers import booking_at, new_person, seed_medirecords_patient, sydney

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:bookings_booking_changelist"


@pytest.fixture
def dr_dia(sandbox_practitioner):
    return sandbox_practitioner("dr-dia")


@pytest.fixture
def booking_needing_review(sandbox, mr_client, dr_dia):
    first = seed_medirecords_patient(mr_client)
    second = seed_medirecords_patient(mr_client, first_name="JANE")
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person(date_of_birth=date(1980, 2, 29)))
    sync.booking_sync(booking_id=booking.pk, client=mr_client)
    booking.refresh_from_db()
    assert booking.sync_state == SyncState.NEEDS_REVIEW
    return booking, first, second


def link_url(booking):
    return reverse("admin:bookings_booking_link_patient", args=[booking.pk])


def test_the_booking_list_shows_and_filters_by_sync_state(admin_client):
    attention = BookingFactory(sync_state=SyncState.NEEDS_ATTENTION)
    synced = BookingFactory(sync_state=SyncState.SYNCED)

    page = admin_client.get(reverse(CHANGELIST), {"sync_state__exact": SyncState.NEEDS_ATTENTION})

    assert page.status_code == 200
    shown = {booking.pk for booking in page.context["cl"].result_list}
    assert shown == {attention.pk}
    assert synced.pk not in shown
    assert "Needs attention" in page.content.decode()


def test_retry_sync_requeues_bookings_that_wait_for_staff(
    admin_client, sync_requests, django_capture_on_commit_callbacks
):
    attention = BookingFactory(sync_state=SyncState.NEEDS_ATTENTION, sync_error="MediRecords refused: providerId")
    synced = BookingFactory(sync_state=SyncState.SYNCED)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse(CHANGELIST), {"action": "retry_sync", "_selected_action": [attention.pk, synced.pk]}, follow=True
        )

    assert response.status_code == 200
    attention.refresh_from_db()
    assert (attention.sync_state, attention.sync_error) == (SyncState.PENDING, "")
    assert Booking.objects.get(pk=synced.pk).sync_state == SyncState.SYNCED
    assert sync_requests == [attention.pk]


def test_the_link_action_leads_to_the_booking_s_link_page(admin_client, booking_needing_review):
    booking, _, _ = booking_needing_review

    response = admin_client.post(reverse(CHANGELIST), {"action": "link_patient", "_selected_action": [booking.pk]})

    assert response.status_code == 302
    assert response["Location"] == link_url(booking)


def test_the_link_page_lists_the_candidates_and_linking_one_syncs_the_booking(
    admin_client, sandbox, booking_needing_review, django_capture_on_commit_callbacks
):
    booking, first, second = booking_needing_review
    page = admin_client.get(link_url(booking))
    assert page.status_code == 200
    assert first.id in page.content.decode()
    assert second.id in page.content.decode()
    change_page = admin_client.get(reverse("admin:bookings_booking_change", args=[booking.pk])).content.decode()
    assert "Choose the patient" in change_page

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(link_url(booking), {"candidate": second.id, "link": "Link"})

    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.sync_state == SyncState.SYNCED
    assert booking.patient.medirecords_patient_id == second.id
    assert sandbox.store.appointments()[0]["patientId"] == second.id


def test_an_id_medirecords_does_not_know_is_refused(admin_client, booking_needing_review):
    booking, _, _ = booking_needing_review

    response = admin_client.post(
        link_url(booking), {"medirecords_patient_id": "00000000-0000-4000-8000-00000000dead", "link": "Link"}
    )

    assert response.status_code == 200
    assert "MediRecords has no patient" in response.content.decode()
    booking.refresh_from_db()
    assert booking.sync_state == SyncState.NEEDS_REVIEW
    assert booking.patient.medirecords_patient_id == ""


def test_choosing_none_of_them_creates_a_new_patient(
    admin_client, sandbox, booking_needing_review, django_capture_on_commit_callbacks
):
    booking, first, second = booking_needing_review

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(link_url(booking), {"create_new": "Create"})

    assert response.status_code == 302
    booking.refresh_from_db()
    assert booking.sync_state == SyncState.SYNCED
    assert booking.patient.medirecords_patient_id not in ("", first.id, second.id)
    assert len(sandbox.store.patients()) == 3


def test_sync_attempts_are_shown_read_only(admin_client, sandbox, mr_client, dr_dia):
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person())
    sync.booking_sync(booking_id=booking.pk, client=mr_client)
    attempt = SyncAttempt.objects.filter(booking=booking).first()
    assert attempt.outcome == SyncOutcome.OK

    change_page = admin_client.get(reverse("admin:bookings_booking_change", args=[booking.pk]))
    assert "Appointment create" in change_page.content.decode()
    assert admin_client.get(reverse("admin:bookings_syncattempt_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:bookings_syncattempt_change", args=[attempt.pk])).status_code == 200
    assert admin_client.get(reverse("admin:bookings_syncattempt_add")).status_code == 403


def test_a_staff_edit_saves_only_what_changed_and_requests_a_sync(admin_client, sync_requests, dr_dia):
    booking = booking_at(dr_dia, sydney(2026, 12, 8), patient=new_person(), reason="Check-up")
    change_url = reverse("admin:bookings_booking_change", args=[booking.pk])
    form = admin_client.get(change_url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(
        {
            "reason": "Check-up and bloods",
            "starts_at_0": "2026-12-08",
            "starts_at_1": "09:00:00",
            "ends_at_0": "2026-12-08",
            "ends_at_1": "09:45:00",
            "sync_attempts-TOTAL_FORMS": "0",
            "sync_attempts-INITIAL_FORMS": "0",
        }
    )
    data = {key: value for key, value in data.items() if key not in ("starts_at", "ends_at")}
    # Meanwhile a sync learnt the appointment's id; the staff member's page never saw it.
    Booking.objects.filter(pk=booking.pk).update(medirecords_appointment_id="appointment-from-the-sync")

    response = admin_client.post(change_url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    booking.refresh_from_db()
    assert booking.reason == "Check-up and bloods"
    assert booking.medirecords_appointment_id == "appointment-from-the-sync"
    assert booking.sync_requested_generation == 1
