"""The console under its Content-Security-Policy, in Chromium: every admin page staff open
loads and works without one violation, and the policy itself is the strict one."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth.base_user import AbstractBaseUser
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.bookings.factories import BookingFactory, InboundDeliveryFactory
from tests.browser.conftest import AdminLogin

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a-long-test-password"
# Before the bookings the factories make, so the change pages show upcoming ones.
NOW = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
# The browser's own report of each violation, collected in the page before any of its scripts run.
VIOLATION_RECORDER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""


@pytest.fixture
def _clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def watched_page(page: Page) -> tuple[Page, list[str]]:
    """The page, and every CSP complaint Chromium writes to its console or reports as an event."""
    complaints: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            complaints.append(message.text)

    page.on("console", on_console)
    page.add_init_script(VIOLATION_RECORDER)
    return page, complaints


@dataclass
class ManagerConsole:
    """A superuser logged in to the console in the watched page."""

    page: Page
    complaints: list[str]
    base: str  # the live server's address
    manager: AbstractBaseUser


@pytest.fixture
def manager_console(
    watched_page: tuple[Page, list[str]], live_server, admin_login: AdminLogin, django_user_model
) -> ManagerConsole:
    page, complaints = watched_page
    manager = django_user_model.objects.create_superuser(username="manager", password=PASSWORD)
    base = str(live_server.url).rstrip("/")
    admin_login(page, base, "manager", PASSWORD)
    return ManagerConsole(page=page, complaints=complaints, base=base, manager=manager)


def _visit(page: Page, url: str) -> list[str]:
    response = page.goto(url)
    assert response is not None, url
    assert response.status == 200, url
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.wait_for_load_state("load")
    violations: list[str] = page.evaluate("window.__cspViolations")
    return violations


@pytest.mark.usefixtures("_clock")
def test_the_admin_pages_staff_open_show_no_csp_violation(manager_console: ManagerConsole) -> None:
    page, complaints, base = manager_console.page, manager_console.complaints, manager_console.base
    manager = manager_console.manager
    expect(page.get_by_role("heading", name="Staff console", level=1)).to_be_visible()
    booking = BookingFactory.create()
    delivery = InboundDeliveryFactory.create()
    assert booking.patient is not None
    device = TOTPDevice.objects.create(user=manager, name="phone", confirmed=True)

    paths = [
        "/admin/",
        "/admin/bookings/booking/",
        f"/admin/bookings/booking/{booking.pk}/change/",
        "/admin/bookings/booking/phone/",
        "/admin/bookings/patient/",
        f"/admin/bookings/patient/{booking.patient.pk}/change/",
        "/admin/bookings/inbounddelivery/",
        f"/admin/bookings/inbounddelivery/{delivery.pk}/change/",
        "/admin/bookings/auditentry/",
        "/admin/bookings/notification/",
        "/admin/forms_intake/formsubmission/",
        "/admin/practitioners/practitioner/",
        f"/admin/practitioners/practitioner/{booking.practitioner.pk}/change/",
        "/admin/practitioners/graphsubscription/",
        "/admin/auth/user/",
        f"/admin/auth/user/{manager.pk}/change/",
        "/admin/auth/user/add/",
        "/admin/auth/group/add/",
        "/admin/otp_totp/totpdevice/",
        f"/admin/otp_totp/totpdevice/{device.pk}/change/",
        "/admin/axes/accessattempt/",
    ]
    violations = {path: found for path in paths if (found := _visit(page, f"{base}{path}"))}

    assert violations == {}
    assert complaints == []


@pytest.mark.usefixtures("_clock")
def test_the_consoles_scripts_still_run_under_the_policy(manager_console: ManagerConsole) -> None:
    """The admin's own JavaScript (the changelist's select-all, the filter widget) is allowed."""
    page, complaints, base = manager_console.page, manager_console.complaints, manager_console.base
    BookingFactory.create_batch(2)

    _visit(page, f"{base}/admin/bookings/booking/")
    page.locator("#action-toggle").check()
    expect(page.locator("input.action-select:checked")).to_have_count(2)
    expect(page.locator(".action-counter")).to_contain_text("2 of 2 selected")

    _visit(page, f"{base}/admin/auth/group/add/")
    expect(page.locator("#id_permissions_filter, #id_permissions_input").first).to_be_visible()

    assert complaints == []


def test_the_two_factor_login_page_shows_no_csp_violation(
    watched_page: tuple[Page, list[str]], live_server, settings
) -> None:
    settings.ADMIN_REQUIRE_TWO_FACTOR = True
    page, complaints = watched_page

    assert _visit(page, f"{str(live_server.url).rstrip('/')}/admin/login/") == []
    expect(page.locator("#id_otp_token")).to_be_visible()
    assert complaints == []


@pytest.mark.usefixtures("_clock")
def test_a_new_authenticators_code_is_drawn_once_under_the_policy(manager_console: ManagerConsole) -> None:
    """The one page that shows a new device's QR code draws it (not an empty box) with no violation."""
    page, complaints, base = manager_console.page, manager_console.complaints, manager_console.base

    _visit(page, f"{base}/admin/otp_totp/totpdevice/add/")
    page.fill("#id_user", str(manager_console.manager.pk))
    page.fill("#id_name", "manager's phone")
    page.click("input[name=_save]")
    page.wait_for_load_state("load")

    expect(page.get_by_text("shown only this once")).to_be_visible()
    drawn = page.evaluate(
        "Math.max(0, ...Array.from(document.querySelectorAll('#content svg *'),"
        " (shape) => shape.getBBox().width * shape.getBBox().height))"
    )
    assert drawn > 1000  # a QR code's modules cover most of its square
    assert page.evaluate("window.__cspViolations") == []
    assert complaints == []
