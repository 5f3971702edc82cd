"""What every request meets before any view: the caller's correlation id checked, the login
page's guesses counted per address, and a Content-Security-Policy on every response."""

import pytest
from django.contrib.auth.models import Group

from bookings.models import InboundDelivery
from practitioners.staff_roles import FRONT_DESK
from tests.bookings.conftest import dr_dia, dr_dia_subscription, fixture_bytes  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"


class TestCorrelationId:
    @pytest.mark.parametrize("given", ["req-1234", "b3bc92d03ff0409694296282a6d35cca", "a.b_c-D", "x" * 64])
    def test_a_short_safe_id_is_kept(self, client, given):
        assert client.get("/healthz", HTTP_X_CORRELATION_ID=given)["X-Correlation-ID"] == given

    @pytest.mark.parametrize(
        "given",
        ["x" * 65, "x" * 5000, "abc\r\nSet-Cookie: a=b", "<script>", "a b", "naïve", "a/b", "a;b"],
        ids=["65", "5000", "header-injection", "markup", "space", "non-ascii", "slash", "semicolon"],
    )
    def test_anything_else_is_replaced_by_a_new_id(self, client, given):
        echoed = client.get("/healthz", HTTP_X_CORRELATION_ID=given)["X-Correlation-ID"]

        assert echoed != given
        assert len(echoed) == 32
        assert echoed.isalnum()

    def test_the_inbox_stores_the_new_id_not_the_callers(self, client, dr_dia_subscription):  # noqa: F811
        response = client.post(
            "/booking/practitioner",
            data=fixture_bytes("graph-notification-created.json"),
            content_type="application/json",
            HTTP_X_CORRELATION_ID="c" * 5000,
        )

        assert response.status_code == 202
        delivery = InboundDelivery.objects.get()
        assert delivery.correlation_id == response["X-Correlation-ID"]
        assert len(delivery.correlation_id) <= 64


@pytest.mark.usefixtures("one_rate_limit_window")
class TestLoginRateLimit:
    @pytest.fixture
    def receptionist(self, django_user_model):
        user = django_user_model.objects.create_user(username="reception", password=PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get(name=FRONT_DESK))
        return user

    def test_guesses_over_the_limit_are_429_even_with_the_right_password(self, client, receptionist, settings):
        settings.RATELIMIT_LOGIN = "3/m"
        for username in ("someone", "anyone", "nobody"):  # other logins: axes locks none of them
            assert client.post("/admin/login/", {"username": username, "password": "guess"}).status_code == 200

        response = client.post("/admin/login/?next=/admin/", {"username": "reception", "password": PASSWORD})

        assert response.status_code == 429
        assert 1 <= int(response["Retry-After"]) <= 60
        assert "_auth_user_id" not in client.session
        assert client.get("/admin/login/").status_code == 200, "reading the page is not a guess"
        other_address = client.post(
            "/admin/login/?next=/admin/", {"username": "reception", "password": PASSWORD}, REMOTE_ADDR="192.0.2.9"
        )
        assert other_address.status_code == 302

    def test_the_default_lets_a_person_mistype_a_few_times(self, client, receptionist):
        for _ in range(4):
            assert client.post("/admin/login/", {"username": "reception", "password": "typo"}).status_code == 200
        response = client.post("/admin/login/?next=/admin/", {"username": "reception", "password": PASSWORD})
        assert response.status_code == 302


class TestContentSecurityPolicy:
    EXPECTED = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }

    @pytest.mark.parametrize(
        ("method", "path"),
        [("get", "/admin/login/"), ("get", "/healthz"), ("get", "/admin/"), ("post", "/booking/practitioner")],
    )
    def test_every_response_carries_the_strict_policy(self, client, method, path):
        response = getattr(client, method)(path)

        directives = dict(
            part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";") if part.strip()
        )
        for directive, value in self.EXPECTED.items():
            assert directives[directive] == value
        assert "unsafe-inline" not in response["Content-Security-Policy"]
        assert "unsafe-eval" not in response["Content-Security-Policy"]


class TestLimitedViewsKeepTheirProtections:
    def test_the_receivers_stay_csrf_exempt_and_the_login_stays_csrf_protected(self, settings):
        from django.test import Client

        settings.JOTFORM_WEBHOOK_TOKEN = "webhook-token"
        strict = Client(enforce_csrf_checks=True)

        assert (
            strict.post("/booking/practitioner", data=b'{"value": []}', content_type="application/json").status_code
            == 202
        )
        assert strict.post("/forms/full?token=webhook-token", data={}).status_code == 400  # read, not refused
        assert strict.post("/admin/login/", {"username": "a", "password": "b"}).status_code == 403
        assert b"CSRF" in strict.post("/admin/login/", {"username": "a", "password": "b"}).content
