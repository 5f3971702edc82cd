"""The staff console: Django's admin site with two-factor login and the day at a glance."""

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django_otp.admin import OTPAdminAuthenticationForm
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice

from bookings.console.day_at_a_glance import day_at_a_glance


class TwoFactorLoginForm(OTPAdminAuthenticationForm):
    """Password and code on one page: the code is checked against the login's authenticator app.

    django-otp asks which device a code is from, so that a guess is not counted against every
    device; staff have one authenticator app each, so that one is chosen unless they pick
    another (a backup code) from the list.
    """

    def _chosen_device(self, user: Any) -> Device | None:
        chosen: Device | None = super()._chosen_device(user)  # type: ignore[no-untyped-call]
        if chosen is None:
            apps = list(TOTPDevice.objects.devices_for_user(user, confirmed=True)[:2])  # type: ignore[no-untyped-call]
            if len(apps) == 1:
                chosen = apps[0]
        return chosen


class ClinicAdminSite(admin.AdminSite):
    site_header = "Clinic operations"
    site_title = "Clinic operations"
    index_title = "Staff console"
    index_template = "admin/clinic_index.html"

    @property
    def login_form(self) -> type[AdminAuthenticationForm]:  # type: ignore[override]
        """With two-factor on, the login form asks for the code of the staff member's device."""
        return TwoFactorLoginForm if settings.ADMIN_REQUIRE_TWO_FACTOR else AdminAuthenticationForm

    @property
    def login_template(self) -> str | None:  # type: ignore[override]
        return "otp/admin111/login.html" if settings.ADMIN_REQUIRE_TWO_FACTOR else None

    def has_permission(self, request: HttpRequest) -> bool:
        """Staff only, and with two-factor on, only once this session's login passed its code."""
        if not super().has_permission(request):
            return False
        return not settings.ADMIN_REQUIRE_TWO_FACTOR or bool(request.user.is_verified())  # type: ignore[union-attr]

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        context = {"glance": day_at_a_glance(user=request.user), **(extra_context or {})}
        return super().index(request, extra_context=context)
