"""Staff logins: lockout after repeated failures, two-factor login, roles, one practitioner per login."""

import base64
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import IntegrityError
from django.http.response import HttpResponseBase
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from practitioners.models import StaffProfile
from practitioners.staff_roles import CONSULTANT, FRONT_DESK, PRACTICE_MANAGER, PRACTITIONER
from tests.practitioners.factories import PractitionerFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"
LOGIN_URL = "/admin/login/?next=/admin/"
# Codes are computed for a pinned clock, a minute apart, so no code is refused as reused.
CLOCK = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def receptionist(django_user_model):
    user = django_user_model.objects.create_user(username="reception", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=FRONT_DESK))
    return user


def login_post(client, *, password: str, otp_token: str | None = None):
    data = {"username": "reception", "password": password, "next": "/admin/"}
    if otp_token is not None:
        data["otp_token"] = otp_token
    return client.post(LOGIN_URL, data)


class TestLockout:
    def test_a_login_is_locked_after_the_failure_limit_even_with_the_right_password(
        self, client, receptionist, settings
    ):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            response = login_post(client, password="wrong-password")
            assert response.status_code == 200
            assert "Please enter the correct username and password" in response.text

        locked = login_post(client, password="wrong-password")
        assert locked.status_code == 429
        assert "Login locked" in locked.text

        still_locked = login_post(client, password=PASSWORD)
        assert still_locked.status_code == 429
        assert client.get("/admin/").status_code == 302

    def test_a_success_before_the_limit_clears_the_count(self, client, receptionist, settings):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            login_post(client, password="wrong-password")
        assert login_post(client, password=PASSWORD).status_code == 302
        client.logout()
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            login_post(client, password="wrong-password")
        assert login_post(client, password=PASSWORD).status_code == 302

    def test_another_address_is_not_locked_out_by_someone_guessing(self, client, receptionist, settings):
        for _ in range(settings.AXES_FAILURE_LIMIT):
            login_post(client, password="wrong-password")
        elsewhere = client.post(LOGIN_URL, {"username": "reception", "password": PASSWORD}, REMOTE_ADDR="198.51.100.7")
        assert elsewhere.status_code == 302


class TestTwoFactor:
    @pytest.fixture(autouse=True)
    def _two_factor_required(self, settings):
        settings.ADMIN_REQUIRE_TWO_FACTOR = True

    @pytest.fixture
    def device(self, receptionist):
        return TOTPDevice.objects.create(user=receptionist, name="phone", confirmed=True)

    def test_the_right_password_without_a_code_is_refused(self, client, device):
        response = login_post(client, password=PASSWORD, otp_token="")
        assert response.status_code == 200
        assert client.get("/admin/").status_code == 302

    def test_a_wrong_code_is_refused(self, client, device):
        right = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
        wrong = f"{(right + 1) % 10**device.digits:0{device.digits}d}"
        response = login_post(client, password=PASSWORD, otp_token=wrong)
        assert response.status_code == 200
        assert client.get("/admin/").status_code == 302

    def test_the_password_and_the_current_code_let_staff_in(self, client, device):
        code = f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):0{device.digits}d}"
        response = login_post(client, password=PASSWORD, otp_token=code)
        assert response.status_code == 302
        assert client.get("/admin/").status_code == 200

    def test_a_session_not_verified_by_a_device_sees_no_console(self, client, receptionist):
        client.force_login(receptionist)
        response = client.get("/admin/")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/admin/login/")

    def test_the_login_page_asks_for_the_code(self, client):
        assert 'name="otp_token"' in client.get(LOGIN_URL).text


class TestRoles:
    def test_every_role_exists_after_migrating(self):
        names = set(Group.objects.values_list("name", flat=True))
        assert {PRACTICE_MANAGER, FRONT_DESK, PRACTITIONER, CONSULTANT} <= names

    def test_the_command_puts_a_tampered_role_back(self, capsys):
        front_desk = Group.objects.get(name=FRONT_DESK)
        front_desk.permissions.clear()
        call_command("staff_roles")
        assert front_desk.permissions.filter(codename="add_booking").exists()
        assert not front_desk.permissions.filter(codename__in=["view_triage", "view_answers"]).exists()
        assert "Front desk: 18 permissions" in capsys.readouterr().out

    def test_only_the_consultant_and_the_manager_see_all_triage(self):
        holders = set(Group.objects.filter(permissions__codename="view_all_triage").values_list("name", flat=True))
        assert holders == {PRACTICE_MANAGER, CONSULTANT}


def test_a_login_belongs_to_at_most_one_practitioner(receptionist):
    StaffProfile.objects.create(user=receptionist, practitioner=PractitionerFactory())
    with pytest.raises(IntegrityError):
        StaffProfile.objects.create(user=receptionist, practitioner=PractitionerFactory())


def test_passwords_are_checked_by_djangos_validators():
    from django.contrib.auth.password_validation import get_default_password_validators, validate_password
    from django.core.exceptions import ValidationError

    assert len(get_default_password_validators()) == 4
    with pytest.raises(ValidationError):
        validate_password("password1")


class TestFirstLogin:
    def test_the_first_login_is_created_once_with_a_generated_password(self, capsys, monkeypatch, django_user_model):
        monkeypatch.delenv("DJANGO_ADMIN_PASSWORD", raising=False)
        call_command("ensure_staff_login")
        first = capsys.readouterr().out
        assert first.startswith("Staff login created: admin / ")
        assert django_user_model.objects.get(username="admin").is_superuser
        call_command("ensure_staff_login")
        assert capsys.readouterr().out.strip() == "Staff login 'admin' is ready."

    def test_with_two_factor_required_its_authenticator_is_shown_once(self, capsys, settings):
        settings.ADMIN_REQUIRE_TWO_FACTOR = True
        call_command("ensure_staff_login")
        assert "otpauth://totp/" in capsys.readouterr().out
        assert TOTPDevice.objects.filter(user__username="admin", confirmed=True).count() == 1
        call_command("ensure_staff_login")
        assert "otpauth://" not in capsys.readouterr().out
        assert TOTPDevice.objects.count() == 1


# --- A practice manager cannot take over a superuser -------------------------------------------

SUPERUSER_PASSWORD = "the-owners-own-long-password"
TAKEN_OVER_PASSWORD = "chosen-by-the-practice-manager"
# Any 40 hex digits (a TOTP key) or otpauth secret a page shows.
HEX_KEY = re.compile(r"\b[0-9a-f]{40}\b")
OTPAUTH_SECRET = re.compile(r"secret=([A-Z2-7]+)")


def current_code(key: bytes, *, step: int = 30, digits: int = 6) -> str:
    return f"{totp(key, step, 0, digits, 0):0{digits}d}"


def secrets_shown(page: str) -> set[bytes]:
    """Every TOTP key a page gives away, as bytes."""
    keys = {bytes.fromhex(match) for match in HEX_KEY.findall(page)}
    for secret in OTPAUTH_SECRET.findall(page):
        keys.add(base64.b32decode(secret + "=" * (-len(secret) % 8)))
    return keys


class TwoFactorOn:
    """Two-factor login required, with the clock pinned at CLOCK; `self.clock` moves it on."""

    @pytest.fixture(autouse=True)
    def _two_factor_on(self, settings, time_machine):
        settings.ADMIN_REQUIRE_TWO_FACTOR = True
        time_machine.move_to(CLOCK, tick=False)
        self.clock = time_machine

    def logs_in_a_minute_on(self, *, username: str, password: str, key: bytes) -> bool:
        """Whether a fresh browser gets into the console with these, a minute on (a fresh code)."""
        self.clock.shift(timedelta(minutes=1))
        browser = Client()
        browser.post(LOGIN_URL, {"username": username, "password": password, "otp_token": current_code(key)})
        return browser.get("/admin/").status_code == 200


# The device add form's TOTP settings, as the form offers them.
TOTP_SETTINGS = {"step": 30, "t0": 0, "digits": 6, "tolerance": 1, "drift": 0, "throttling_failure_count": 0}


def device_pages(client: Client, device: TOTPDevice) -> Sequence[HttpResponseBase]:
    """The device list, then the device's change, config and QR code pages, as `client` gets them."""
    return [
        client.get(url)
        for url in (
            "/admin/otp_totp/totpdevice/",
            f"/admin/otp_totp/totpdevice/{device.pk}/change/",
            f"/admin/otp_totp/totpdevice/{device.pk}/config/",
            f"/admin/otp_totp/totpdevice/{device.pk}/qrcode/",
        )
    ]


class TestAManagerCannotTakeOverASuperuser(TwoFactorOn):
    """Each attack is followed by a real login as the superuser with what it could have won."""

    @pytest.fixture
    def owner(self, django_user_model):
        owner = django_user_model.objects.create_superuser(username="owner", password=SUPERUSER_PASSWORD)
        TOTPDevice.objects.create(user=owner, name="owner's phone", confirmed=True)
        return owner

    @pytest.fixture
    def manager(self, django_user_model, client, owner):
        """A practice manager logged in with password and code, as in production."""
        manager = django_user_model.objects.create_user(username="manager", password=PASSWORD, is_staff=True)
        manager.groups.add(Group.objects.get(name=PRACTICE_MANAGER))
        device = TOTPDevice.objects.create(user=manager, name="manager's phone", confirmed=True)
        response = client.post(
            LOGIN_URL, {"username": "manager", "password": PASSWORD, "otp_token": current_code(device.bin_key)}
        )
        assert response.status_code == 302
        return client

    def owner_login(self, *, password: str, key: bytes) -> bool:
        """Whether a fresh browser gets into the console as the superuser with these, a minute on."""
        return self.logs_in_a_minute_on(username="owner", password=password, key=key)

    def test_the_login_works_with_what_the_owner_holds(self, owner):
        """The check after each attack is real: with the right password and secret it gets in."""
        assert self.owner_login(password=SUPERUSER_PASSWORD, key=owner.totpdevice_set.get().bin_key)

    def test_a_manager_cannot_set_a_superusers_password(self, manager, owner):
        url = f"/admin/auth/user/{owner.pk}/password/"
        assert manager.get(url).status_code == 404
        posted = manager.post(url, {"password1": TAKEN_OVER_PASSWORD, "password2": TAKEN_OVER_PASSWORD})
        assert posted.status_code == 404

        owner.refresh_from_db()
        assert owner.check_password(SUPERUSER_PASSWORD)
        # Even holding the owner's phone, the manager's password does not open the owner's login.
        assert not self.owner_login(password=TAKEN_OVER_PASSWORD, key=owner.totpdevice_set.get().bin_key)

    @pytest.mark.parametrize("page", ["change", "history", "delete"])
    def test_a_superusers_login_pages_answer_as_for_a_missing_login(self, manager, owner, page):
        assert manager.get(f"/admin/auth/user/{owner.pk}/{page}/").status_code == 404
        assert manager.get(f"/admin/auth/user/999999/{page}/").status_code == 404

    def test_the_login_list_and_its_lookup_leave_superusers_out(self, manager, owner):
        for url in ("/admin/auth/user/", "/admin/auth/user/?_to_field=id&_popup=1"):
            page = manager.get(url).text
            assert ">manager<" in page
            assert ">owner<" not in page

    def test_a_manager_cannot_read_a_superusers_authenticator_secret(self, manager, owner):
        device = owner.totpdevice_set.get()
        pages = device_pages(manager, device)
        assert [page.status_code for page in pages] == [200, 404, 404, 404]
        assert "owner&#x27;s phone" not in pages[0].text
        assert "owner's phone" not in pages[0].text
        stolen = set().union(*(secrets_shown(page.content.decode(errors="replace")) for page in pages))
        assert device.bin_key not in stolen
        for key in stolen:
            assert not self.owner_login(password=SUPERUSER_PASSWORD, key=key)

    def test_a_manager_cannot_give_a_superuser_an_authenticator_it_knows(self, manager, owner):
        known_key = "00" * 20
        response = manager.post(
            "/admin/otp_totp/totpdevice/add/",
            {
                "user": owner.pk,
                "name": "planted",
                "confirmed": "on",
                "key": known_key,
                **TOTP_SETTINGS,
            },
        )
        assert response.status_code == 200  # the form again, with an error on the login chosen
        assert not TOTPDevice.objects.filter(name="planted").exists()
        assert not self.owner_login(password=SUPERUSER_PASSWORD, key=bytes(20))

    def test_a_manager_cannot_give_a_superuser_backup_codes_it_knows(self, manager, owner):
        response = manager.post(
            "/admin/otp_static/staticdevice/add/",
            {
                "user": owner.pk,
                "name": "planted codes",
                "confirmed": "on",
                "throttling_failure_count": 0,
                "token_set-TOTAL_FORMS": 1,
                "token_set-INITIAL_FORMS": 0,
                "token_set-0-token": "planted-code",
            },
        )
        assert response.status_code == 200
        assert not StaticDevice.objects.filter(user=owner).exists()

    def test_a_superusers_backup_codes_are_not_listed_to_a_manager(self, manager, owner):
        codes = StaticDevice.objects.create(user=owner, name="owner's codes", confirmed=True)
        assert manager.get(f"/admin/otp_static/staticdevice/{codes.pk}/change/").status_code == 404
        assert "owner" not in manager.get("/admin/otp_static/staticdevice/").text.split("<tbody>")[-1]

    def test_a_manager_cannot_delete_a_superusers_authenticator(self, manager, owner):
        device = owner.totpdevice_set.get()
        assert manager.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"}).status_code == 404
        assert TOTPDevice.objects.filter(pk=device.pk).exists()

    def test_a_manager_still_manages_the_logins_below_superuser(self, manager, receptionist):
        url = f"/admin/auth/user/{receptionist.pk}/password/"
        assert manager.get(url).status_code == 200
        new_password = "a-new-long-test-password"
        response = manager.post(url, {"password1": new_password, "password2": new_password, "usable_password": "true"})
        assert response.status_code == 302
        receptionist.refresh_from_db()
        assert receptionist.check_password(new_password)


class TestAnAuthenticatorSecretIsShownOnce(TwoFactorOn):
    @pytest.fixture
    def owner_client(self, django_user_model, client):
        owner = django_user_model.objects.create_superuser(username="owner", password=SUPERUSER_PASSWORD)
        device = TOTPDevice.objects.create(user=owner, name="owner's phone", confirmed=True)
        client.post(
            LOGIN_URL, {"username": "owner", "password": SUPERUSER_PASSWORD, "otp_token": current_code(device.bin_key)}
        )
        assert client.get("/admin/").status_code == 200
        return client

    def add_device(self, client, user) -> tuple[TOTPDevice, str]:
        response = client.post(
            "/admin/otp_totp/totpdevice/add/",
            {
                "user": user.pk,
                "name": "reception phone",
                "confirmed": "on",
                **TOTP_SETTINGS,
            },
            follow=True,
        )
        assert response.status_code == 200
        return TOTPDevice.objects.get(name="reception phone"), response.content.decode()

    def test_whoever_adds_a_device_sees_its_secret_once_and_it_works(self, owner_client, receptionist):
        add_page = owner_client.get("/admin/otp_totp/totpdevice/add/").text
        assert 'name="key"' not in add_page

        device, shown = self.add_device(owner_client, receptionist)
        assert secrets_shown(shown) == {device.bin_key}
        assert "<svg" in shown
        assert "shown only this once" in shown

        # The secret shown is the device's: the receptionist gets in with it.
        assert self.logs_in_a_minute_on(username="reception", password=PASSWORD, key=device.bin_key)

    def test_after_that_no_page_shows_it_to_anyone_a_superuser_neither(self, owner_client, receptionist):
        device, _ = self.add_device(owner_client, receptionist)
        pages = device_pages(owner_client, device)
        assert [page.status_code for page in pages] == [200, 200, 403, 403]
        for page in pages:
            assert device.bin_key not in secrets_shown(page.content.decode(errors="replace"))
            assert device.key not in page.content.decode(errors="replace")

    def test_a_backup_code_is_not_shown_once_its_device_exists(self, owner_client, receptionist):
        device = StaticDevice.objects.create(user=receptionist, name="backup", confirmed=True)
        device.token_set.create(token="backup-code-1234")
        page = owner_client.get(f"/admin/otp_static/staticdevice/{device.pk}/change/")
        assert page.status_code == 200
        assert "backup-code-1234" not in page.text


# --- The client address: believed from the configured proxies only -----------------------------

PROXY = "10.0.0.5"
ATTACKER = "203.0.113.66"
REAL_CLIENT = "198.51.100.20"


def forged_chains(count: int, *, ending: str = "") -> list[str]:
    """X-Forwarded-For values a client makes up, a different address each time."""
    return [f"192.0.2.{number}{ending}" for number in range(1, count + 1)]


@pytest.fixture
def behind_a_tls_proxy(settings):
    """What production runs with (DJANGO_DEBUG off): the scheme comes from the proxy."""
    settings.BEHIND_TLS_PROXY = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def guesses_then_the_right_password(client, settings, *, forwarded: list[str], peer: str):
    """Fail the limit with a new X-Forwarded-For each time, then try the right password."""
    for header in forwarded[: settings.AXES_FAILURE_LIMIT]:
        client.post(
            LOGIN_URL,
            {"username": "reception", "password": "wrong-password"},
            REMOTE_ADDR=peer,
            HTTP_X_FORWARDED_FOR=header,
        )
    right = client.post(
        LOGIN_URL,
        {"username": "reception", "password": PASSWORD},
        REMOTE_ADDR=peer,
        HTTP_X_FORWARDED_FOR=forwarded[settings.AXES_FAILURE_LIMIT],
    )
    return right.status_code


def audited_address(client, django_user_model, monkeypatch, *, peer: str, forwarded: str):
    """The address the audit trail records for a staff action sent with these."""
    from bookings.models import AuditEntry, SyncState
    from bookings.push import tasks
    from tests.bookings.factories import BookingFactory

    monkeypatch.setattr(tasks.booking_sync_task, "delay", lambda booking_id: None)
    manager = django_user_model.objects.create_user(username="auditor", password=None, is_staff=True)
    manager.groups.add(Group.objects.get(name=PRACTICE_MANAGER))
    client.force_login(manager)
    stuck = BookingFactory.create(sync_state=SyncState.NEEDS_ATTENTION)
    client.post(
        "/admin/bookings/booking/",
        {"action": "retry_sync", "_selected_action": [stuck.pk]},
        REMOTE_ADDR=peer,
        HTTP_X_FORWARDED_FOR=forwarded,
    )
    return AuditEntry.objects.get(booking=stuck).ip_address


@pytest.mark.usefixtures("behind_a_tls_proxy")
class TestClientAddressTrustingNoProxy:
    """The default: X-Forwarded-For is ignored, whoever sends it."""

    def test_rotating_the_header_does_not_escape_the_lockout(self, client, receptionist, settings):
        forged = forged_chains(settings.AXES_FAILURE_LIMIT + 1)
        assert guesses_then_the_right_password(client, settings, forwarded=forged, peer=ATTACKER) == 429

    def test_the_audit_trail_records_the_peer(self, client, django_user_model, monkeypatch):
        assert audited_address(client, django_user_model, monkeypatch, peer=ATTACKER, forwarded="192.0.2.1") == ATTACKER


@pytest.mark.usefixtures("behind_a_tls_proxy")
class TestClientAddressFromTrustedProxyAddresses:
    @pytest.fixture(autouse=True)
    def _trust_the_proxy(self, settings):
        settings.TRUSTED_PROXY_IPS = [PROXY]

    def test_a_direct_client_naming_the_proxy_itself_does_not_escape_the_lockout(self, client, receptionist, settings):
        forged = forged_chains(settings.AXES_FAILURE_LIMIT + 1, ending=f", {PROXY}")
        assert guesses_then_the_right_password(client, settings, forwarded=forged, peer=ATTACKER) == 429

    def test_a_client_forging_through_the_proxy_is_locked_by_the_address_the_proxy_saw(
        self, client, receptionist, settings
    ):
        forged = forged_chains(settings.AXES_FAILURE_LIMIT + 1, ending=f", {REAL_CLIENT}")
        assert guesses_then_the_right_password(client, settings, forwarded=forged, peer=PROXY) == 429
        # Someone else behind the same proxy is not locked out by it.
        elsewhere = client.post(
            LOGIN_URL,
            {"username": "reception", "password": PASSWORD},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR="198.51.100.99",
        )
        assert elsewhere.status_code == 302

    def test_the_audit_trail_records_the_client_the_proxy_saw(self, client, django_user_model, monkeypatch):
        address = audited_address(
            client, django_user_model, monkeypatch, peer=PROXY, forwarded=f"192.0.2.1, {REAL_CLIENT}"
        )
        assert address == REAL_CLIENT

    def test_the_audit_trail_records_a_direct_client_as_itself(self, client, django_user_model, monkeypatch):
        address = audited_address(
            client, django_user_model, monkeypatch, peer=ATTACKER, forwarded=f"{REAL_CLIENT}, {PROXY}"
        )
        assert address == ATTACKER


@pytest.mark.usefixtures("behind_a_tls_proxy")
class TestClientAddressFromAProxyCount:
    @pytest.fixture(autouse=True)
    def _two_proxies(self, settings):
        settings.TRUSTED_PROXY_COUNT = 2

    def test_a_client_forging_through_the_proxies_is_locked_by_the_address_they_saw(
        self, client, receptionist, settings
    ):
        # The outer proxy appends the client it saw, the inner one the outer proxy.
        forged = forged_chains(settings.AXES_FAILURE_LIMIT + 1, ending=f", {REAL_CLIENT}, 10.0.0.9")
        assert guesses_then_the_right_password(client, settings, forwarded=forged, peer=PROXY) == 429

    def test_the_audit_trail_records_the_client_the_proxies_saw(self, client, django_user_model, monkeypatch):
        address = audited_address(
            client, django_user_model, monkeypatch, peer=PROXY, forwarded=f"192.0.2.1, {REAL_CLIENT}, 10.0.0.9"
        )
        assert address == REAL_CLIENT

    def test_a_chain_shorter_than_the_proxies_is_not_believed(self, client, django_user_model, monkeypatch):
        assert audited_address(client, django_user_model, monkeypatch, peer=ATTACKER, forwarded="") == ATTACKER
