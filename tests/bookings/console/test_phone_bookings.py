"""Phone bookings in the staff console: find the patient, book, move, cancel; audited and synced."""

import threading
from datetime import date, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from bookings.admin import phone_views
from bookings.audit import AuditActor
from bookings.console import patient_search, phone_bookings
from bookings.console.patient_search import patient_query_parse
from bookings.console.phone_bookings import (
    PhoneBookingRefusedError,
    SlotTakenError,
    phone_booking_cancel,
    phone_booking_create,
    phone_booking_move,
)
from bookings.models import (
    AuditAction,
    AuditEntry,
    Booking,
    BookingKind,
    BookingStatus,
    Patient,
    PaymentStatus,
    SyncState,
)
from practitioners.models import BookingType, PractitionerKind, StaffProfile
from tests.bookings.factories import BookingFactory, PatientFactory, PhoneBookingFactory
from tests.bookings.sync_helpers import requests_of, seed_medirecords_patient, sydney
from tests.conftest import requires_postgresql

pytestmark = pytest.mark.django_db

PHONE_URL = "admin:bookings_booking_phone"
# Times are shown as a range joined by an en dash, e.g. 14:00 to 14:30.
DASH = "\u2013"
# The clock these tests run on: before every day they book (the earliest, Sun 4 Oct 2026,
# when daylight saving starts), so that a phone booking in the past is refused only where a
# test asks for one, whatever today's date.
NOW = sydney(2026, 9, 28, 9)


@pytest.fixture(autouse=True)
def practice_clock():
    with time_machine.travel(NOW, tick=True):
        yield


# --- The practice, the logins, the form -------------------------------------------------


@pytest.fixture
def nurse(sandbox_practitioner):
    return sandbox_practitioner(
        "nurse", display_name="Nurse", kind=PractitionerKind.NURSE_PRACTITIONER, default_duration_minutes=30
    )


@pytest.fixture
def consultant(sandbox_practitioner):
    return sandbox_practitioner(
        "consultant",
        display_name="Consultant",
        kind=PractitionerKind.CONSULTANT,
        booking_type=BookingType.FREE_INITIAL,
        fee=None,
    )


@pytest.fixture
def console(sandbox, mr_client, monkeypatch):
    """The console's MediRecords client is the sandbox's, backing off without sleeping."""
    monkeypatch.setattr(phone_views, "medirecords_client", lambda: mr_client)
    return mr_client


@pytest.fixture
def front_desk(django_user_model):
    # No password: the tests log in with force_login, and hashing one costs a third of a second.
    user = django_user_model.objects.create_user(username="reception", is_staff=True)
    user.groups.add(Group.objects.get(name="Front desk"))
    return user


@pytest.fixture
def desk(client, front_desk, console):
    """The test client logged in as the front desk (REMOTE_ADDR 127.0.0.1)."""
    client.force_login(front_desk)
    return client


@pytest.fixture
def desk_actor(front_desk):
    return AuditActor(user=front_desk, ip_address="192.0.2.10")


def booking_data(practitioner, **changes):
    """What the receptionist fills in: a new patient with `practitioner` on Tue 1 Dec 2026 at 14:00."""
    data = {
        "q": "",
        "patient": "new",
        "first_name": "Jane",
        "last_name": "Citizen",
        "date_of_birth": "29/02/1980",
        "mobile": "0412 345 678",
        "email": "Jane.Citizen@example.com.au",
        "practitioner": str(practitioner.pk),
        "date": "01/12/2026",
        "time": "14:00",
        "duration_minutes": "",
        "reason": "Follow-up on bloods",
        "payment_status": PaymentStatus.PAY_AT_CLINIC,
        "follows": "",
    }
    data.update(changes)
    return data


def phone_booking_of_a_new_patient(practitioner, actor, **changes):
    """The service asked for a booking with `practitioner` on Tue 1 Dec 2026 at 14:00, for a new
    patient who pays nothing, with `changes` applied."""
    arguments = {
        "practitioner": practitioner,
        "patient": PatientFactory(),
        "starts_at": sydney(2026, 12, 1, 14),
        "duration_minutes": None,
        "reason": "",
        "payment_status": PaymentStatus.NOT_REQUIRED,
        "follows": None,
        "actor": actor,
    }
    return phone_booking_create(**{**arguments, **changes})


def book(client, data):
    return client.post(reverse(PHONE_URL), data)


def form_errors(response):
    return response.context["form"].errors


def field_errors(response, name):
    """The field's error messages as plain text."""
    return " ".join(form_errors(response).get(name, []))


def the_phone_booking():
    return Booking.objects.select_related("patient", "practitioner").get(kind=BookingKind.PHONE)


# --- The page ---------------------------------------------------------------------------


def test_the_booking_list_offers_book_by_phone(desk):
    page = desk.get(reverse("admin:bookings_booking_changelist")).content.decode()
    assert 'id="book-by-phone"' in page
    assert reverse(PHONE_URL) in page


def test_a_login_without_add_booking_is_refused(client, staff_user, console):
    client.force_login(staff_user)
    assert client.get(reverse(PHONE_URL)).status_code == 403
    assert 'id="book-by-phone"' not in client.get(reverse("admin:bookings_booking_changelist")).content.decode()


def test_the_page_offers_a_new_patient_the_practitioners_and_only_phone_payments(desk, nurse):
    page = desk.get(reverse(PHONE_URL))

    assert page.status_code == 200
    html = page.content.decode()
    for element in ("id_q", "id_patient_new", "id_first_name", "id_date", "id_time", "id_duration_minutes"):
        assert f'id="{element}"' in html
    assert page.context["form"]["patient"].value() == "new"
    assert "Nurse" in html
    payments = [value for value, _ in page.context["form"].fields["payment_status"].choices if value]
    assert payments == [PaymentStatus.NOT_REQUIRED, PaymentStatus.TAKEN_BY_PHONE, PaymentStatus.PAY_AT_CLINIC]


# --- Booking a new patient, one of ours, one of MediRecords' -----------------------------


def test_a_new_patient_is_booked_synced_and_audited(
    desk, front_desk, nurse, sandbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = book(desk, booking_data(nurse))

    booking = the_phone_booking()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:bookings_booking_change", args=[booking.pk])
    assert (booking.starts_at, booking.ends_at) == (sydney(2026, 12, 1, 14), sydney(2026, 12, 1, 14, 30))
    assert (booking.status, booking.payment_status) == (BookingStatus.BOOKED, PaymentStatus.PAY_AT_CLINIC)
    patient = booking.patient
    assert (patient.first_name, patient.last_name, patient.date_of_birth) == ("Jane", "Citizen", date(1980, 2, 29))
    assert (patient.mobile, patient.email) == ("+61412345678", "jane.citizen@example.com.au")

    # The sync ran against the sandbox: the patient and the appointment landed.
    assert booking.sync_state == SyncState.SYNCED
    assert [row["id"] for row in sandbox.store.patients()] == [patient.medirecords_patient_id]
    [appointment] = sandbox.store.appointments()
    assert appointment["id"] == booking.medirecords_appointment_id
    assert appointment["patientId"] == patient.medirecords_patient_id

    entry = AuditEntry.objects.get(booking=booking)
    assert entry.actor == front_desk
    assert (entry.action, entry.actor_username, entry.ip_address) == (
        AuditAction.PHONE_BOOKING_CREATED,
        "reception",
        "127.0.0.1",
    )
    assert entry.before == {}
    assert entry.after["starts_at"] == "2026-12-01T14:00:00+11:00"
    assert entry.after["practitioner"] == "Nurse"
    assert entry.after["kind"] == BookingKind.PHONE

    change_page = desk.get(response["Location"]).content.decode()
    assert f"made with Nurse on Tue 1 Dec 2026 14:00{DASH}14:30" in change_page


def test_a_time_already_passed_is_refused_and_nothing_is_sent(desk, front_desk, nurse, sync_requests):
    with time_machine.travel(sydney(2026, 12, 1, 14, 5), tick=False):
        desk.force_login(front_desk)  # the session from the clock's start has run out by then
        response = book(desk, booking_data(nurse, date="01/12/2026", time="14:00"))

    assert response.status_code == 200
    assert field_errors(response, "time") == (
        "Tue 1 Dec 2026 14:00 has already passed (practice time): a phone booking is for a time still to "
        "come. Check the date and choose a later time."
    )
    assert not Booking.objects.exists()
    assert sync_requests == []


def test_the_service_refuses_a_booking_in_the_past(nurse, desk_actor, sync_requests):
    with time_machine.travel(sydney(2026, 12, 1, 14), tick=False), pytest.raises(PhoneBookingRefusedError) as refused:
        phone_booking_of_a_new_patient(nurse, desk_actor)
    assert refused.value.field == "starts_at"
    assert "Tue 1 Dec 2026 14:00 has already passed" in str(refused.value)
    assert not Booking.objects.exists()
    assert sync_requests == []


def test_a_given_duration_is_kept(desk, nurse):
    book(desk, booking_data(nurse, duration_minutes="45"))
    booking = the_phone_booking()
    assert booking.ends_at - booking.starts_at == timedelta(minutes=45)


@pytest.mark.parametrize(
    "query",
    ["Jane Citizen", "citizen", "jane 29/02/1980", "1980-02-29", "0412 345 678", "+61412345678", "JANE@example.com"],
)
def test_our_patients_are_found_by_name_date_of_birth_mobile_or_email(desk, query):
    jane = PatientFactory(
        first_name="Jane",
        last_name="Citizen",
        date_of_birth=date(1980, 2, 29),
        mobile="+61412345678",
        email="jane@example.com",
    )
    PatientFactory(first_name="John", last_name="Smith", date_of_birth=date(1975, 1, 1))

    page = desk.post(reverse(PHONE_URL), {"q": query, "search": "Search"})

    choices = [choice for choice, _ in page.context["form"].fields["patient"].widget.choices]
    assert choices == [f"local:{jane.pk}", "new"]
    assert f'id="id_patient_local_{jane.pk}"' in page.content.decode()


def test_one_of_our_patients_is_booked(desk, nurse, sync_requests):
    jane = PatientFactory(first_name="Jane", last_name="Citizen")

    response = book(desk, booking_data(nurse, patient=f"local:{jane.pk}", first_name="", last_name="", q="Citizen"))

    assert response.status_code == 302
    booking = the_phone_booking()
    assert booking.patient == jane
    assert Patient.objects.count() == 1


def test_a_patient_another_login_may_not_see_cannot_be_posted(client, nurse, console):
    """A practitioner's own login sees only their patients; a posted id of another is refused."""
    practitioner_login(client, nurse, with_permissions=("bookings.add_booking",))
    stranger = PatientFactory()

    response = book(client, booking_data(nurse, patient=f"local:{stranger.pk}"))

    assert response.status_code == 200
    assert "Choose one of the patients found" in field_errors(response, "patient")
    assert not Booking.objects.exists()


def test_a_medirecords_patient_becomes_ours_with_their_details(
    desk, nurse, sandbox, mr_client, django_capture_on_commit_callbacks
):
    record = seed_medirecords_patient(
        mr_client, first_name="Maria", last_name="Rossi", dob=date(1975, 2, 1), mobile_phone="0412000111"
    )

    page = desk.post(reverse(PHONE_URL), {"q": "maria rossi 01/02/1975", "search": "Search"})
    assert f'id="id_patient_mr_{record.id}"' in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = book(desk, booking_data(nurse, patient=f"mr:{record.id}", first_name="", last_name=""))

    assert response.status_code == 302
    patient = the_phone_booking().patient
    assert patient.medirecords_patient_id == record.id
    assert (patient.first_name, patient.last_name, patient.date_of_birth) == ("Maria", "Rossi", date(1975, 2, 1))
    assert patient.mobile == "+61412000111"
    # Synced with the patient MediRecords holds: no second record made.
    assert len(sandbox.store.patients()) == 1
    assert sandbox.store.appointments()[0]["patientId"] == record.id

    # Booked again, the MediRecords patient is the same patient of ours.
    book(desk, booking_data(nurse, patient=f"mr:{record.id}", time="15:00"))
    assert Patient.objects.count() == 1
    assert Booking.objects.filter(patient=patient).count() == 2


def test_a_medirecords_patient_we_hold_is_offered_as_ours(desk, mr_client):
    record = seed_medirecords_patient(mr_client, first_name="Maria", last_name="Rossi", dob=date(1975, 2, 1))
    ours = PatientFactory(first_name="M", last_name="Rossi-Bianchi", medirecords_patient_id=record.id)

    page = desk.post(reverse(PHONE_URL), {"q": "Maria Rossi", "search": "Search"})

    choices = [choice for choice, _ in page.context["form"].fields["patient"].widget.choices]
    assert choices == [f"local:{ours.pk}", "new"]


def test_medirecords_is_searched_by_email(desk, mr_client, sandbox):
    record = seed_medirecords_patient(mr_client, first_name="Maria", last_name="Rossi", email="maria@example.com")

    page = desk.post(reverse(PHONE_URL), {"q": "maria@example.com", "search": "Search"})

    choices = [choice for choice, _ in page.context["form"].fields["patient"].widget.choices]
    assert choices == [f"mr:{record.id}", "new"]
    assert requests_of(sandbox, "GET", "/v1/patients/exist")


def test_a_mobile_searches_ours_only(desk, sandbox):
    page = desk.post(reverse(PHONE_URL), {"q": "0412 345 678", "search": "Search"})

    assert "MediRecords cannot be searched by mobile" in page.content.decode()
    assert requests_of(sandbox, "GET") == []


def test_when_medirecords_fails_ours_are_still_found_and_bookable(desk, nurse, sandbox, sync_requests):
    sandbox.set_faults(fail_next=[{"status": 500, "count": 5, "method": "GET", "path_prefix": "/v1/patients"}])
    jane = PatientFactory(first_name="Jane", last_name="Citizen")

    page = desk.post(reverse(PHONE_URL), {"q": "Jane Citizen", "search": "Search"})

    assert page.status_code == 200
    assert "MediRecords could not be searched just now" in page.content.decode()
    choices = [choice for choice, _ in page.context["form"].fields["patient"].widget.choices]
    assert choices == [f"local:{jane.pk}", "new"]
    assert book(desk, booking_data(nurse, patient=f"local:{jane.pk}")).status_code == 302


def test_the_search_is_posted_so_names_stay_out_of_addresses(desk, sandbox):
    jane = PatientFactory(first_name="Jane", last_name="Citizen")

    in_the_address = desk.get(reverse(PHONE_URL), {"q": "Jane Citizen"})
    posted = desk.post(reverse(PHONE_URL), {"q": "Jane Citizen", "search": "Search"})

    assert [choice for choice, _ in in_the_address.context["form"].fields["patient"].widget.choices] == ["new"]
    assert f"local:{jane.pk}" in [choice for choice, _ in posted.context["form"].fields["patient"].widget.choices]
    assert 'id="patient-search" role="search"' in posted.content.decode()
    assert '<form method="post" id="patient-search"' in posted.content.decode()


def test_a_new_patient_needs_names_a_date_of_birth_and_valid_contact_details(desk, nurse):
    response = book(
        desk, booking_data(nurse, first_name="", last_name="", date_of_birth="", mobile="02 9999 0000", email="jane@")
    )

    assert response.status_code == 200
    errors = form_errors(response)
    assert set(errors) == {"first_name", "last_name", "date_of_birth", "mobile", "email"}
    assert "Australian mobile" in str(errors["mobile"])
    assert not Booking.objects.exists()


def test_an_unknown_payment_is_refused(desk, nurse):
    response = book(desk, booking_data(nurse, payment_status=PaymentStatus.PAID))
    assert "payment_status" in form_errors(response)
    assert not Booking.objects.exists()


# --- Daylight saving --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "message"),
    [
        ("04/10/2026", "02:30 on Sun 4 Oct 2026 does not exist: daylight saving starts"),
        ("04/04/2027", "02:30 on Sun 4 Apr 2027 happens twice: daylight saving ends"),
    ],
)
def test_a_time_the_clocks_skip_or_repeat_is_refused(desk, nurse, day, message):
    response = book(desk, booking_data(nurse, date=day, time="02:30"))

    assert response.status_code == 200
    assert message in field_errors(response, "time")
    assert message in response.content.decode()
    assert not Booking.objects.exists()


def test_the_hour_after_the_clocks_go_forward_is_booked_in_daylight_time(desk, nurse):
    book(desk, booking_data(nurse, date="04/10/2026", time="03:00"))
    assert the_phone_booking().starts_at.isoformat() == "2026-10-03T16:00:00+00:00"


# --- Overlaps ---------------------------------------------------------------------------


def test_an_overlap_is_refused_naming_the_clash(desk, nurse):
    clash = PhoneBookingFactory(
        practitioner=nurse, starts_at=sydney(2026, 12, 1, 14), ends_at=sydney(2026, 12, 1, 14, 30)
    )

    response = book(desk, booking_data(nurse, time="14:15"))

    assert response.status_code == 200
    expected = f"Nurse already has Booking #{clash.pk} on Tue 1 Dec 2026 14:00{DASH}14:30."
    assert expected in field_errors(response, "time")
    assert Booking.objects.count() == 1


def test_an_overlap_with_a_calendar_booking_is_refused_too(desk, nurse):
    BookingFactory(practitioner=nurse, starts_at=sydney(2026, 12, 1, 13, 45), ends_at=sydney(2026, 12, 1, 14, 30))
    response = book(desk, booking_data(nurse))
    assert "Nurse already has Booking" in field_errors(response, "time")


def test_a_cancelled_booking_leaves_its_slot_free_and_back_to_back_is_fine(desk, nurse, sync_requests):
    PhoneBookingFactory(
        practitioner=nurse,
        starts_at=sydney(2026, 12, 1, 14),
        ends_at=sydney(2026, 12, 1, 14, 30),
        status=BookingStatus.CANCELLED,
    )
    PhoneBookingFactory(practitioner=nurse, starts_at=sydney(2026, 12, 1, 13, 30), ends_at=sydney(2026, 12, 1, 14))
    PhoneBookingFactory(practitioner=nurse, starts_at=sydney(2026, 12, 1, 14, 30), ends_at=sydney(2026, 12, 1, 15))

    response = book(desk, booking_data(nurse))

    assert response.status_code == 302
    assert Booking.objects.filter(status=BookingStatus.BOOKED).count() == 3


def test_another_practitioner_s_slot_is_no_clash(desk, nurse, consultant, sync_requests):
    PhoneBookingFactory(practitioner=consultant, starts_at=sydney(2026, 12, 1, 14), ends_at=sydney(2026, 12, 1, 15))
    assert book(desk, booking_data(nurse)).status_code == 302


# --- The consultation it follows -------------------------------------------------------


@pytest.fixture
def jane():
    return PatientFactory(first_name="Jane", last_name="Citizen", date_of_birth=date(1980, 2, 29))


@pytest.fixture
def janes_consultation(consultant, jane):
    return BookingFactory(
        practitioner=consultant, patient=jane, starts_at=sydney(2026, 11, 20), ends_at=sydney(2026, 11, 20, 10, 45)
    )


def test_a_follow_up_is_linked_to_the_patient_s_consultation(desk, nurse, jane, janes_consultation, sync_requests):
    page = desk.post(reverse(PHONE_URL), {"q": "Jane Citizen", "search": "Search"})
    offered = [value for value, _ in page.context["form"].fields["follows"].widget.choices]
    assert offered == ["", janes_consultation.pk]

    response = book(desk, booking_data(nurse, patient=f"local:{jane.pk}", follows=str(janes_consultation.pk)))

    assert response.status_code == 302
    assert the_phone_booking().follows == janes_consultation


def cancelled_consultation(consultation, nurse):
    Booking.objects.filter(pk=consultation.pk).update(status=BookingStatus.CANCELLED)
    return consultation


def nurse_appointment(consultation, nurse):
    return BookingFactory(practitioner=nurse, patient=consultation.patient, starts_at=sydney(2026, 11, 1))


def another_patient_s_consultation(consultation, nurse):
    return BookingFactory(practitioner=consultation.practitioner, starts_at=sydney(2026, 11, 2))


def later_consultation(consultation, nurse):
    return BookingFactory(
        practitioner=consultation.practitioner, patient=consultation.patient, starts_at=sydney(2026, 12, 2)
    )


@pytest.mark.parametrize(
    ("make_follows", "message"),
    [
        (cancelled_consultation, "is cancelled"),
        (nurse_appointment, "not a consultant"),
        (another_patient_s_consultation, "another patient's"),
        (later_consultation, "not before this appointment"),
    ],
)
def test_a_follow_up_of_the_wrong_booking_is_refused(desk, nurse, jane, janes_consultation, make_follows, message):
    follows = make_follows(janes_consultation, nurse)

    response = book(desk, booking_data(nurse, patient=f"local:{jane.pk}", follows=str(follows.pk)))

    assert response.status_code == 200
    assert message in field_errors(response, "follows")
    assert not Booking.objects.filter(kind=BookingKind.PHONE).exists()


# --- Moving and cancelling ---------------------------------------------------------------


@pytest.fixture
def phone_booking(nurse):
    return PhoneBookingFactory(
        practitioner=nurse, starts_at=sydney(2026, 12, 1, 14), ends_at=sydney(2026, 12, 1, 14, 30), reason="Bloods"
    )


def move_url(booking):
    return reverse("admin:bookings_booking_move", args=[booking.pk])


def cancel_url(booking):
    return reverse("admin:bookings_booking_cancel", args=[booking.pk])


def test_a_phone_booking_s_page_offers_move_and_cancel_and_keeps_its_slot_read_only(desk, phone_booking):
    page = desk.get(reverse("admin:bookings_booking_change", args=[phone_booking.pk]))

    html = page.content.decode()
    assert move_url(phone_booking) in html
    assert cancel_url(phone_booking) in html
    editable = set(page.context["adminform"].form.fields)
    assert not editable & {"practitioner", "kind", "starts_at", "ends_at", "status"}
    assert "payment_status" in editable


def test_a_calendar_booking_s_page_offers_neither(desk):
    booking = BookingFactory()
    page = desk.get(reverse("admin:bookings_booking_change", args=[booking.pk]))
    assert move_url(booking) not in page.content.decode()
    assert "starts_at" in page.context["adminform"].form.fields


def test_a_move_needs_a_reason(desk, phone_booking):
    page = desk.get(move_url(phone_booking))
    assert page.status_code == 200
    assert page.context["form"].initial["time"].strftime("%H:%M") == "14:00"

    response = desk.post(move_url(phone_booking), move_data(phone_booking, reason=" "))

    assert response.status_code == 200
    assert "reason" in form_errors(response)
    phone_booking.refresh_from_db()
    assert phone_booking.reschedule_count == 0


def move_data(booking, **changes):
    data = {
        "practitioner": str(booking.practitioner_id),
        "date": "02/12/2026",
        "time": "09:30",
        "duration_minutes": "",
        "reason": "Patient asked for a morning",
    }
    data.update(changes)
    return data


def test_a_move_is_audited_and_synced(desk, phone_booking, sync_requests, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = desk.post(move_url(phone_booking), move_data(phone_booking))

    assert response.status_code == 302
    phone_booking.refresh_from_db()
    assert (phone_booking.starts_at, phone_booking.ends_at) == (sydney(2026, 12, 2, 9, 30), sydney(2026, 12, 2, 10))
    assert phone_booking.reschedule_count == 1
    assert phone_booking.rescheduled_at is not None
    assert sync_requests == [phone_booking.pk]
    entry = AuditEntry.objects.get(booking=phone_booking)
    assert (entry.action, entry.reason, entry.actor_username, entry.ip_address) == (
        AuditAction.BOOKING_MOVED,
        "Patient asked for a morning",
        "reception",
        "127.0.0.1",
    )
    assert entry.before == {"starts_at": "2026-12-01T14:00:00+11:00", "ends_at": "2026-12-01T14:30:00+11:00"}
    assert entry.after == {"starts_at": "2026-12-02T09:30:00+11:00", "ends_at": "2026-12-02T10:00:00+11:00"}


def test_a_move_to_a_time_already_passed_is_refused(desk, front_desk, phone_booking, sync_requests, desk_actor):
    with time_machine.travel(sydney(2026, 11, 30, 12), tick=False):
        desk.force_login(front_desk)  # the session from the clock's start has run out by then
        response = desk.post(move_url(phone_booking), move_data(phone_booking, date="30/11/2026", time="11:00"))
        assert response.status_code == 200
        assert "Mon 30 Nov 2026 11:00 has already passed" in field_errors(response, "time")

        with pytest.raises(PhoneBookingRefusedError, match="has already passed") as refused:
            phone_booking_move(
                booking=phone_booking,
                practitioner=phone_booking.practitioner,
                starts_at=sydney(2026, 11, 30, 11),
                duration_minutes=None,
                reason="Patient asked",
                actor=desk_actor,
            )
    assert refused.value.field == "starts_at"
    phone_booking.refresh_from_db()
    assert (phone_booking.starts_at, phone_booking.reschedule_count) == (sydney(2026, 12, 1, 14), 0)
    assert sync_requests == []
    assert not AuditEntry.objects.filter(booking=phone_booking).exists()


def test_a_move_onto_another_booking_is_refused(desk, phone_booking):
    clash = PhoneBookingFactory(
        practitioner=phone_booking.practitioner, starts_at=sydney(2026, 12, 2, 9), ends_at=sydney(2026, 12, 2, 10)
    )

    response = desk.post(move_url(phone_booking), move_data(phone_booking))

    assert f"Nurse already has Booking #{clash.pk} on Wed 2 Dec 2026 09:00{DASH}10:00." in str(
        form_errors(response)["time"]
    )


def test_a_booking_moved_within_its_own_slot_is_no_clash_with_itself(desk, phone_booking, sync_requests):
    response = desk.post(move_url(phone_booking), move_data(phone_booking, date="01/12/2026", time="14:15"))
    assert response.status_code == 302


def test_a_cancellation_needs_a_reason_is_audited_and_synced(
    desk, phone_booking, sync_requests, django_capture_on_commit_callbacks
):
    assert "reason" in form_errors(desk.post(cancel_url(phone_booking), {"reason": ""}))

    with django_capture_on_commit_callbacks(execute=True):
        response = desk.post(cancel_url(phone_booking), {"reason": "Patient unwell"})

    assert response.status_code == 302
    phone_booking.refresh_from_db()
    assert phone_booking.status == BookingStatus.CANCELLED
    assert phone_booking.cancelled_at is not None
    assert sync_requests == [phone_booking.pk]
    entry = AuditEntry.objects.get(booking=phone_booking)
    assert (entry.action, entry.reason, entry.ip_address) == (
        AuditAction.BOOKING_CANCELLED,
        "Patient unwell",
        "127.0.0.1",
    )
    assert (entry.before, entry.after) == ({"status": "booked"}, {"status": "cancelled"})

    again = desk.post(cancel_url(phone_booking), {"reason": "Again"})
    assert again.status_code == 200
    assert "cancelled already" in " ".join(form_errors(again).get("__all__", []))
    assert AuditEntry.objects.filter(booking=phone_booking).count() == 1


def test_a_calendar_booking_is_not_moved_or_cancelled_here(desk):
    booking = BookingFactory()
    response = desk.post(cancel_url(booking), {"reason": "No"}, follow=True)
    assert "Only a phone booking can be cancelled here" in response.content.decode()
    booking.refresh_from_db()
    assert booking.status == BookingStatus.BOOKED


def practitioner_login(client, practitioner, *, with_permissions=()):
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user(username=f"login-{practitioner.slug}", is_staff=True)
    user.groups.add(Group.objects.get(name="Practitioner"))
    for name in with_permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    StaffProfile.objects.create(user=user, practitioner=practitioner)
    client.force_login(user)
    return user


def test_a_practitioner_s_login_cannot_move_or_cancel_another_s_booking(client, phone_booking, consultant):
    practitioner_login(client, consultant)
    for url in (move_url(phone_booking), cancel_url(phone_booking)):
        assert client.get(url).status_code == 404
        assert client.post(url, {"reason": "Mine now"}).status_code == 404
    phone_booking.refresh_from_db()
    assert phone_booking.status == BookingStatus.BOOKED


def test_a_practitioner_s_login_may_see_but_not_change_their_own(client, phone_booking, nurse):
    practitioner_login(client, nurse)
    assert client.get(reverse("admin:bookings_booking_change", args=[phone_booking.pk])).status_code == 200
    assert client.post(cancel_url(phone_booking), {"reason": "Mine"}).status_code == 403
    assert client.get(reverse(PHONE_URL)).status_code == 403


# --- The ordinary change form -----------------------------------------------------------


def test_a_change_saved_through_the_change_form_is_audited(desk, phone_booking, sync_requests):
    change_url = reverse("admin:bookings_booking_change", args=[phone_booking.pk])
    form = desk.get(change_url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(
        {
            "payment_status": PaymentStatus.TAKEN_BY_PHONE,
            "sync_attempts-TOTAL_FORMS": "0",
            "sync_attempts-INITIAL_FORMS": "0",
        }
    )

    response = desk.post(change_url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    entry = AuditEntry.objects.get(booking=phone_booking)
    assert (entry.action, entry.ip_address) == (AuditAction.BOOKING_CHANGED, "127.0.0.1")
    assert entry.before == {"payment_status": PaymentStatus.PAY_AT_CLINIC}
    assert entry.after == {"payment_status": PaymentStatus.TAKEN_BY_PHONE}
    # Payment is not something MediRecords holds: no sync for it.
    assert sync_requests == []


# --- The services on their own ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0412 345 678", {"mobile": "+61412345678"}),
        ("(04) 1234-5678", {"mobile": "+61412345678"}),
        ("Citizen, Jane 29/02/1980", {"name_words": ("Citizen", "Jane"), "date_of_birth": date(1980, 2, 29)}),
        ("1980-02-29", {"date_of_birth": date(1980, 2, 29)}),
        ("Jane@Example.COM", {"email": "jane@example.com"}),
        ("02 9999 0000", {"problem": "02 9999 0000 is not an Australian mobile number."}),
    ],
)
def test_the_search_box_is_read_as_names_dates_mobiles_and_emails(text, expected):
    assert patient_query_parse(text) == patient_search.PatientQuery(**expected)


def test_only_phone_bookings_are_moved_or_cancelled_by_the_services(nurse, desk_actor):
    booking = BookingFactory(practitioner=nurse)
    with pytest.raises(PhoneBookingRefusedError, match="not made by phone"):
        phone_booking_cancel(booking=booking, reason="No", actor=desk_actor)
    with pytest.raises(PhoneBookingRefusedError, match="not made by phone"):
        phone_booking_move(
            booking=booking,
            practitioner=nurse,
            starts_at=sydney(2026, 12, 9),
            duration_minutes=None,
            reason="No",
            actor=desk_actor,
        )


def test_slot_taken_names_the_winner(nurse, desk_actor, sync_requests):
    first = phone_booking_of_a_new_patient(nurse, desk_actor)
    with pytest.raises(SlotTakenError) as taken:
        phone_booking_of_a_new_patient(nurse, desk_actor, starts_at=sydney(2026, 12, 1, 14, 29), duration_minutes=5)
    assert taken.value.clash == first
    assert str(taken.value) == f"Nurse already has Booking #{first.pk} on Tue 1 Dec 2026 14:00{DASH}14:30."


# --- PostgreSQL: the race, and the constraint behind it -----------------------------------

requires_slot_constraint = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (DATABASE_URL): the exclusion constraint on phone bookings exists only there",
)


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_receptionists_booking_one_slot_at_once_get_one_booking(nurse, front_desk, sync_requests):
    patients = [PatientFactory(), PatientFactory()]
    barrier = threading.Barrier(2)
    outcomes: dict[int, object] = {}

    def receptionist(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = phone_booking_create(
                practitioner=nurse,
                patient=patients[index],
                starts_at=sydney(2026, 12, 1, 14),
                duration_minutes=30,
                reason="",
                payment_status=PaymentStatus.PAY_AT_CLINIC,
                follows=None,
                actor=AuditActor(user=front_desk, ip_address="192.0.2.10"),
            )
        except Exception as error:  # noqa: BLE001 - handed to the test's thread to judge
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=receptionist, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    [winner] = Booking.objects.filter(kind=BookingKind.PHONE)
    refused = [outcome for outcome in outcomes.values() if not isinstance(outcome, Booking)]
    assert len(refused) == 1
    assert isinstance(refused[0], SlotTakenError), refused[0]
    assert refused[0].clash.pk == winner.pk
    assert f"Booking #{winner.pk}" in str(refused[0])
    assert AuditEntry.objects.filter(action=AuditAction.PHONE_BOOKING_CREATED).count() == 1


@requires_slot_constraint
def test_the_database_itself_refuses_overlapping_phone_bookings(nurse):
    PhoneBookingFactory(practitioner=nurse, starts_at=sydney(2026, 12, 1, 14), ends_at=sydney(2026, 12, 1, 14, 30))
    # A calendar booking may overlap (Office 365 holds what it holds), and so may a cancelled one.
    BookingFactory(practitioner=nurse, starts_at=sydney(2026, 12, 1, 14), ends_at=sydney(2026, 12, 1, 14, 30))
    PhoneBookingFactory(
        practitioner=nurse,
        starts_at=sydney(2026, 12, 1, 14),
        ends_at=sydney(2026, 12, 1, 14, 30),
        status=BookingStatus.CANCELLED,
    )

    with pytest.raises(IntegrityError, match="booking_phone_slot_free"), transaction.atomic():
        PhoneBookingFactory(
            practitioner=nurse, starts_at=sydney(2026, 12, 1, 14, 15), ends_at=sydney(2026, 12, 1, 14, 45)
        )


@requires_slot_constraint
def test_the_constraint_s_refusal_becomes_slot_taken(nurse, desk_actor, sync_requests, monkeypatch):
    """Had our own check missed the clash, the database's refusal still names it."""
    clash = PhoneBookingFactory(
        practitioner=nurse, starts_at=sydney(2026, 12, 1, 14), ends_at=sydney(2026, 12, 1, 14, 30)
    )
    real_slot_clash = phone_bookings.slot_clash
    calls = []

    def missing_the_first_time(**arguments):
        calls.append(arguments)
        return None if len(calls) == 1 else real_slot_clash(**arguments)

    monkeypatch.setattr(phone_bookings, "slot_clash", missing_the_first_time)

    with pytest.raises(SlotTakenError) as taken:
        phone_booking_of_a_new_patient(nurse, desk_actor)

    assert taken.value.clash == clash
    assert len(calls) == 2
    assert Booking.objects.count() == 1
