"""Staff logins: lockout after repeated failures, two-factor login, roles, one practitioner per login."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import IntegrityError
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from practitioners.models import StaffProfile
from practitioners.staff_roles import CONSULTANT, FRONT_DESK, PRACTICE_MANAGER, PRACTITIONER
from tests.practitioners.factories import PractitionerFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"
LOGIN_URL = "/admin/login/?next=/admin/"


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
