"""Phone bookings in the staff console, through a real browser against the real server.

Front desk books a new patient with the Nurse and the booking shows in the list, on the day
at a glance and in the MediRecords sandbox; a practitioner's login sees its own bookings only.
"""

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import AbstractUser
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from bookings.models import Booking, BookingKind, SyncState
from medirecords.sandbox import SandboxServer
from practitioners import clients
from practitioners.models import Practitioner
from practitioners.staff_roles import FRONT_DESK, PRACTITIONER, staff_roles_ensure
from tests.bookings.factories import PatientFactory, PhoneBookingFactory
from tests.browser.conftest import AdminLogin
from tests.e2e.conftest import (  # noqa: F401
    practice_with_sandbox_ids,
    requires_distributed_setup,
    start_worker,
    wait_for,
    worker_queue,
)
from tests.staff import staff_login

pytestmark = pytest.mark.django_db(transaction=True)

SYDNEY = ZoneInfo("Australia/Sydney")
SANDBOX_TOKEN = "browser-sandbox-token"
PASSWORD = "a-long-test-password"
EN_DASH = "\u2013"
# The condition the end-to-end tests skip on: with PostgreSQL and Redis a real worker syncs.
DISTRIBUTED = not requires_distributed_setup.args[0]
# A worker process boots Django and Celery before it takes the task; in-process it is done.
SANDBOX_WAIT_SECONDS = 30.0 if DISTRIBUTED else 0.0


@pytest.fixture
def sandbox(settings) -> Iterator[SandboxServer]:
    """A MediRecords sandbox that the server's client (built once per process) talks to."""
    with SandboxServer(token=SANDBOX_TOKEN) as server:
        settings.MEDIRECORDS_API_URL = server.api_url
        settings.MEDIRECORDS_FHIR_URL = server.fhir_url
        settings.MEDIRECORDS_API_TOKEN = SANDBOX_TOKEN
        clients.medirecords_client.cache_clear()
        yield server
    clients.medirecords_client.cache_clear()


@pytest.fixture
def sync_in_worker(request, sandbox: SandboxServer) -> bool:
    """With PostgreSQL and Redis, a Celery worker process syncs, as in production; else the
    task runs eagerly in the live server's request once the booking commits.

    Started first, so the worker boots while the browser logs in and books.
    """
    if not DISTRIBUTED:
        return False
    start = request.getfixturevalue("start_worker")
    start(
        extra_environment={
            "MEDIRECORDS_API_URL": sandbox.api_url,
            "MEDIRECORDS_FHIR_URL": sandbox.fhir_url,
            "MEDIRECORDS_API_TOKEN": SANDBOX_TOKEN,
        }
    )
    return True


def practice_by_slug() -> dict[str, Practitioner]:
    """The practice file's practitioners, with the sandbox's ids, by slug."""
    return {practitioner.slug: practitioner for practitioner in practice_with_sandbox_ids()}


def login_with_password(role: str, practitioner: Practitioner | None = None) -> AbstractUser:
    # The roles come back after every flush of a transactional test, but only through post_migrate.
    staff_roles_ensure()
    user = staff_login(role, practitioner)
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    return user


def log_in_with_two_factor(page: Page, live_server_url: str, admin_login: AdminLogin, user: AbstractUser) -> None:
    """Log in as staff do with two-factor on: password and the authenticator app's current code."""
    device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    # Read on the clock in force (travelled, when a test travels), as the server reads it.
    code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    admin_login(page, live_server_url, user.get_username(), PASSWORD, otp_token=f"{code:0{device.digits}d}")
    expect(page).to_have_url(f"{live_server_url}/admin/")


def next_tuesday_whose_monday_morning_is_ahead(now: datetime) -> date:
    """The first Tuesday after today in Sydney whose Monday 09:00 has not yet come.

    Strictly after today; and on a Monday past 09:00 the week after, so the clock is only
    ever moved forward to that Monday morning.
    """
    today = now.astimezone(SYDNEY).date()
    tuesday = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
    if monday_morning_before(tuesday) <= now:
        tuesday += timedelta(days=7)
    return tuesday


def monday_morning_before(tuesday: date) -> datetime:
    monday = tuesday - timedelta(days=1)
    return datetime(monday.year, monday.month, monday.day, 9, 0, tzinfo=SYDNEY)


def test_front_desk_books_a_new_patient_by_phone_and_it_reaches_medirecords(
    page: Page, live_server, admin_login: AdminLogin, settings, sandbox: SandboxServer, sync_in_worker: bool
) -> None:
    settings.ADMIN_REQUIRE_TWO_FACTOR = True
    nurse = practice_by_slug()["nurse"]
    receptionist = login_with_password(FRONT_DESK)

    tuesday = next_tuesday_whose_monday_morning_is_ahead(datetime.now(tz=SYDNEY))
    # The day at a glance shows only today and tomorrow, so the server's clock is set to the
    # Monday morning before the booking. Only ever forward: the browser keeps its own clock, and
    # a session cookie whose expiry the server computed in the past would be dropped at once.
    # time-machine patches the clock for the whole process, the live server's thread included.
    with time_machine.travel(monday_morning_before(tuesday), tick=True):
        log_in_with_two_factor(page, live_server.url, admin_login, receptionist)

        page.goto(f"{live_server.url}/admin/bookings/booking/")
        page.click("#book-by-phone")
        expect(page).to_have_url(f"{live_server.url}/admin/bookings/booking/phone/")
        # Nobody was searched for, so a new patient is the choice already.
        expect(page.locator("#id_patient_new")).to_be_checked()
        page.check("#id_patient_new")
        page.fill("#id_first_name", "Matilda")
        page.fill("#id_last_name", "Phonebrook")
        page.fill("#id_date_of_birth", "14/03/1986")
        page.fill("#id_mobile", "0412 345 678")
        page.fill("#id_email", "matilda.phonebrook@example.com.au")
        page.select_option("#id_practitioner", label="Nurse")
        page.fill("#id_date", tuesday.isoformat())
        page.fill("#id_time", "14:00")
        page.select_option("#id_payment_status", "pay_at_clinic")
        with page.expect_navigation():
            page.click("#phone-booking-submit")

        booking = Booking.objects.select_related("patient").get()
        assert booking.practitioner_id == nurse.pk
        assert booking.kind == BookingKind.PHONE
        assert booking.starts_at == datetime(tuesday.year, tuesday.month, tuesday.day, 14, 0, tzinfo=SYDNEY)
        expect(page).to_have_url(f"{live_server.url}/admin/bookings/booking/{booking.pk}/change/")
        when = f"{tuesday:%a} {tuesday.day} {tuesday:%b %Y} 14:00{EN_DASH}14:30"
        expect(page.locator(".messagelist .success")).to_have_text(
            f"Booking #{booking.pk} made with Nurse on {when}; it is on its way to MediRecords."
        )

        page.goto(f"{live_server.url}/admin/bookings/booking/")
        row = page.locator("#result_list tbody tr").filter(
            has=page.get_by_role("link", name=f"Booking #{booking.pk}", exact=True)
        )
        expect(row).to_have_count(1)
        expect(row.locator(".field-practitioner")).to_have_text("Nurse")

        page.goto(f"{live_server.url}/admin/")
        expect(page.locator("#day-at-a-glance")).to_be_visible()
        tomorrow = page.locator("#glance-tomorrow-nurse .glance-booking")
        expect(tomorrow).to_have_count(1)
        expect(tomorrow).to_contain_text(f"14:00{EN_DASH}14:30")
        expect(tomorrow.get_by_role("link", name=f"Booking #{booking.pk}", exact=True)).to_be_visible()
        expect(page.locator("#glance-today-nurse")).to_have_count(0)

        def synced() -> tuple[dict[str, Any], dict[str, Any]] | None:
            patients = [
                record
                for record in sandbox.store.patients()
                if (record["firstName"], record["lastName"]) == ("Matilda", "Phonebrook")
            ]
            appointments = [
                record
                for record in sandbox.store.appointments()
                if record["providerId"] == nurse.medirecords_provider_id
            ]
            if len(patients) == 1 and len(appointments) == 1:
                return patients[0], appointments[0]
            return None

        def sync_outcome() -> str:
            booking.refresh_from_db()
            return (
                f"MediRecords did not receive the booking (worker: {sync_in_worker}); booking "
                f"{booking.sync_state}: {booking.sync_error!r}; sandbox requests: {sandbox.requests}"
            )

        patient, appointment = wait_for(synced, seconds=SANDBOX_WAIT_SECONDS, describe=sync_outcome)

    assert patient["dob"] == "1986-03-14"
    # MediRecords holds Australian mobiles as 04XXXXXXXX.
    assert patient["mobilePhone"] == "0412345678"
    assert patient["email"] == "matilda.phonebrook@example.com.au"
    assert appointment["patientId"] == patient["id"]
    assert appointment["appointmentTypeId"] == nurse.medirecords_appointment_type_id
    assert appointment["scheduleTime"] == f"{tuesday.isoformat()}T14:00"
    booking = wait_for(
        lambda: Booking.objects.filter(pk=booking.pk, sync_state=SyncState.SYNCED).select_related("patient").first(),
        seconds=SANDBOX_WAIT_SECONDS,
        describe=sync_outcome,
    )
    assert booking.medirecords_appointment_id == appointment["id"]
    assert booking.patient.medirecords_patient_id == patient["id"]


def test_a_practitioner_login_cannot_see_another_practitioners_booking(
    page: Page, live_server, admin_login: AdminLogin, settings
) -> None:
    # Two-factor on, as in production; the row-level checks do not depend on it.
    settings.ADMIN_REQUIRE_TWO_FACTOR = True
    practitioners = practice_by_slug()
    dia = practitioners["dr-dia"]
    nurse_patient = PatientFactory.create(first_name="Nerida", last_name="Nursewell")
    dia_patient = PatientFactory.create(first_name="Diana", last_name="Diaway")
    nurse_booking = PhoneBookingFactory.create(practitioner=practitioners["nurse"], patient=nurse_patient)
    dia_booking = PhoneBookingFactory.create(practitioner=dia, patient=dia_patient)
    dr_dia_login = login_with_password(PRACTITIONER, dia)

    log_in_with_two_factor(page, live_server.url, admin_login, dr_dia_login)

    page.goto(f"{live_server.url}/admin/bookings/booking/")
    results = page.locator("#result_list")
    expect(results.get_by_role("link", name=f"Booking #{dia_booking.pk}", exact=True)).to_be_visible()
    expect(results.get_by_role("link", name=f"Booking #{nurse_booking.pk}", exact=True)).to_have_count(0)
    expect(results.locator("tbody tr")).to_have_count(1)

    page.goto(f"{live_server.url}/admin/bookings/booking/?q={nurse_patient.last_name}")
    expect(page.locator("#changelist-search input[name=q]")).to_have_value(nurse_patient.last_name)
    expect(page.get_by_role("link", name=f"Booking #{nurse_booking.pk}", exact=True)).to_have_count(0)
    expect(page.locator("#result_list")).to_have_count(0)

    # Its own booking opens, so the refusal below is about whose booking it is.
    response = page.goto(f"{live_server.url}/admin/bookings/booking/{dia_booking.pk}/change/")
    assert response is not None
    assert response.status == 200

    response = page.goto(f"{live_server.url}/admin/bookings/booking/{nurse_booking.pk}/change/")
    assert response is not None
    assert response.status in {403, 404}, f"{response.status} at {page.url}"
    text = page.locator("body").inner_text()
    assert nurse_patient.first_name not in text
    assert nurse_patient.last_name not in text
