from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.safestring import mark_safe
from django_otp.plugins.otp_static.admin import StaticDeviceAdmin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from practitioners import clients
from practitioners.authenticators import (
    authenticator_qr_code_svg,
    authenticator_secret_show_once_grant,
    authenticator_secret_show_once_take,
)
from practitioners.graph import subscriptions
from practitioners.graph.client import GraphClient, GraphError
from practitioners.models import GraphSubscription, Practitioner, StaffProfile, SubscriptionGap

SUBSCRIPTION_KEPT = frozenset(
    {subscriptions.RenewOutcome.RENEWED, subscriptions.RenewOutcome.REAUTHORIZED, subscriptions.RenewOutcome.RECREATED}
)


@admin.register(Practitioner)
class PractitionerAdmin(admin.ModelAdmin[Practitioner]):
    # Every URL we keep (Calendly, Stripe) is https; a bare host typed in means https too.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["display_name", "kind", "booking_type", "fee", "default_duration_minutes", "is_active"]
    list_filter = ["kind", "booking_type", "is_active"]
    search_fields = ["display_name", "slug"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["slug", "display_name", "kind", "is_active", "display_order"]}),
        ("Bookings", {"fields": ["booking_type", "fee", "default_duration_minutes"]}),
        ("Office 365", {"fields": ["o365_mailbox", "o365_calendar_id"]}),
        ("Calendly", {"fields": ["calendly_event_type_uri", "calendly_scheduling_url"]}),
        ("MediRecords", {"fields": ["medirecords_provider_id", "medirecords_appointment_type_id"]}),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]


@admin.register(GraphSubscription)
class GraphSubscriptionAdmin(admin.ModelAdmin[GraphSubscription]):
    """Subscriptions are kept by beat and `manage.py graph_subscriptions`; staff watch and nudge them.

    The client state is the secret Graph echoes in notifications: it is never shown.
    """

    list_display = [
        "practitioner",
        "receiver",
        "expires_at",
        "last_renewed_at",
        "is_healthy",
        "renewal_failures",
        "last_error",
        "resync_requested_at",
        "calendar_imported_at",
        "last_seen_on_graph_at",
    ]
    list_filter = ["is_healthy", "receiver"]
    list_select_related = ["practitioner"]
    search_fields = ["practitioner__display_name", "practitioner__slug", "graph_id"]
    exclude = ["client_state"]
    readonly_fields = [
        "practitioner",
        "graph_id",
        "resource",
        "receiver",
        "expires_at",
        "last_renewed_at",
        "renewal_failures",
        "is_healthy",
        "last_error",
        "delta_link",
        "calendar_imported_at",
        "last_seen_on_graph_at",
        "created_at",
        "updated_at",
    ]
    actions = ["renew_now", "recreate"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: GraphSubscription | None = None) -> bool:
        # A row deleted here would leave its subscription alive in Graph; the command deletes both.
        return False

    @admin.action(description="Renew now", permissions=["change"])
    def renew_now(self, request: HttpRequest, queryset: QuerySet[GraphSubscription]) -> None:
        client = self._graph_client(request)
        if client is None:
            return
        outcomes = [
            subscriptions.graph_subscription_renew(subscription=subscription, client=client)
            for subscription in queryset.select_related("practitioner")
        ]
        self._outcomes_report(request, outcomes)

    @admin.action(description="Recreate (new subscription, old one deleted)", permissions=["change"])
    def recreate(self, request: HttpRequest, queryset: QuerySet[GraphSubscription]) -> None:
        client = self._graph_client(request)
        if client is None:
            return
        recreated = 0
        for subscription in queryset.select_related("practitioner"):
            try:
                subscriptions.graph_subscription_replace(subscription=subscription, client=client)
            except (GraphError, ValueError) as error:
                self.message_user(request, f"{subscription.practitioner}: {error}", level=messages.ERROR)
            else:
                recreated += 1
        if recreated:
            self.message_user(request, f"{recreated} subscriptions recreated.", level=messages.SUCCESS)

    def _graph_client(self, request: HttpRequest) -> GraphClient | None:
        missing = clients.graph_settings_missing()
        if missing:
            self.message_user(
                request, f"Microsoft Graph is not configured: set {', '.join(missing)}.", level=messages.ERROR
            )
            return None
        return clients.graph_client()

    def _outcomes_report(self, request: HttpRequest, outcomes: list[subscriptions.RenewOutcome]) -> None:
        done = sum(outcome in SUBSCRIPTION_KEPT for outcome in outcomes)
        failed = len(outcomes) - done
        if done:
            self.message_user(request, f"{done} subscriptions renewed or recreated.", level=messages.SUCCESS)
        if failed:
            self.message_user(
                request, f"{failed} subscriptions failed; the last error is on each row.", level=messages.ERROR
            )


@admin.register(SubscriptionGap)
class SubscriptionGapAdmin(admin.ModelAdmin[SubscriptionGap]):
    """When a calendar was deaf (Graph had forgotten its subscription): recorded by upkeep, read here."""

    list_display = ["practitioner", "deaf_since", "detected_at", "recovered_at", "lost_graph_id"]
    list_select_related = ["practitioner"]
    list_filter = ["practitioner"]
    date_hierarchy = "detected_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: SubscriptionGap | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SubscriptionGap | None = None) -> bool:
        return False


class StaffProfileInline(admin.StackedInline[StaffProfile, Any]):
    model = StaffProfile
    can_delete = False
    max_num = 1
    verbose_name_plural = "practitioner"
    fields = ["practitioner"]


User = get_user_model()
admin.site.unregister(User)


class BelowSuperuserAdmin:
    """Model admins for logins and their devices: a login that is not a superuser manages
    those below superuser only.

    Otherwise a practice manager could set a superuser's password or read or replace its
    second factor, log in as it and hand out any right. Rows of superusers are left out of
    the queryset, and their pages (change, password, history, delete) answer 404, as for a
    login that does not exist, so they do not even tell that it exists.
    """

    superuser_lookup = "is_superuser"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset: QuerySet[Any] = super().get_queryset(request)  # type: ignore[misc]
        if request.user.is_superuser:
            return queryset
        return queryset.exclude(**{self.superuser_lookup: True})

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None) -> Any:
        found = super().get_object(request, object_id, from_field)  # type: ignore[misc]
        if found is None:
            raise Http404("No such row.")
        return found


def logins_below_superuser(request: HttpRequest) -> QuerySet[Any]:
    """The logins a device may be given by this request's login."""
    logins = User.objects.all()
    return logins if request.user.is_superuser else logins.exclude(is_superuser=True)


@admin.register(User)
class StaffUserAdmin(BelowSuperuserAdmin, UserAdmin):  # type: ignore[type-arg]
    """Django's user admin, with the practitioner a login belongs to.

    Logins are individual: one per person, never shared. A login that has acted on bookings
    cannot be deleted (its audit entries point at it); deactivate it instead.
    """

    inlines = [StaffProfileInline]
    list_display = ["username", "first_name", "last_name", "is_active", "is_staff", "role_names", "practitioner"]
    list_filter = ["is_active", "is_staff", "groups"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("staff_profile__practitioner").prefetch_related("groups")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        """Logins get their rights from their role; only a superuser hands out more than a role gives."""
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_superuser", "user_permissions"]
        return readonly

    @admin.display(description="roles")
    def role_names(self, user: Any) -> str:
        return ", ".join(group.name for group in user.groups.all()) or "-"

    @admin.display(description="practitioner")
    def practitioner(self, user: Any) -> str:
        profile = getattr(user, "staff_profile", None)
        return str(profile.practitioner) if profile is not None and profile.practitioner else "-"


# --- Second factors: of logins below superuser only, and secrets shown once ---------------------

# django-otp registers its own admins on this site when the admin autodiscovers its apps
# (listed before this one); these replace them.
admin.site.unregister(TOTPDevice)
admin.site.unregister(StaticDevice)


@admin.register(TOTPDevice)
class AuthenticatorDeviceAdmin(BelowSuperuserAdmin, TOTPDeviceAdmin):
    """django-otp's TOTP device admin without any page that shows a device's secret.

    The key is never a form field (a new device gets a random one); the page after adding a
    device shows its QR code once to the login that added it, and the config and QR code
    pages are refused from then on (practitioners/authenticators.py).
    """

    superuser_lookup = "user__is_superuser"
    readonly_fields = ["created_at", "last_used_at"]

    def get_list_display(self, request: HttpRequest) -> list[str]:  # type: ignore[override]
        shown = super().get_list_display(request)  # type: ignore[no-untyped-call]
        return [name for name in shown if name != "qrcode_link"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> list[tuple[str | None, dict[str, Any]]]:  # type: ignore[override]
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[no-untyped-call]
        hidden = {"key", "qrcode_link"}
        return [
            (name, {**options, "fields": [field for field in options["fields"] if field not in hidden]})
            for name, options in fieldsets
            if any(field not in hidden for field in options["fields"])
        ]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user":
            kwargs["queryset"] = logins_below_superuser(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def response_add(self, request: HttpRequest, obj: TOTPDevice, post_url_continue: str | None = None) -> Any:
        authenticator_secret_show_once_grant(session=request.session, device=obj)
        self.message_user(
            request,
            "Scan this code into the authenticator app now: it is shown only this once.",
            level=messages.WARNING,
        )
        return HttpResponseRedirect(reverse("admin:otp_totp_totpdevice_config", kwargs={"pk": obj.pk}))

    def config_view(self, request: HttpRequest, pk: int) -> TemplateResponse:
        device = self.get_object(request, str(pk))
        if not self.has_view_or_change_permission(request, device):
            raise PermissionDenied
        if not authenticator_secret_show_once_take(session=request.session, device=device):
            raise PermissionDenied("An authenticator's secret is shown once, when the device is added.")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Authenticator for {device.user}",
            "device": device,
            "qr_code_svg": mark_safe(authenticator_qr_code_svg(device=device)),  # noqa: S308 - our own SVG
        }
        response = TemplateResponse(request, "admin/otp_totp/authenticator_once.html", context)
        add_never_cache_headers(response)
        return response

    def qrcode_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        # The one page that shows the secret carries its QR code inline; no URL serves it again.
        self.get_object(request, str(pk))  # a device the login may not see is not found
        raise PermissionDenied


@admin.register(StaticDevice)
class BackupCodesDeviceAdmin(BelowSuperuserAdmin, StaticDeviceAdmin):
    """django-otp's backup-code admin; the codes are hidden once the device exists
    (OTP_ADMIN_HIDE_SENSITIVE_DATA)."""

    superuser_lookup = "user__is_superuser"

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user":
            kwargs["queryset"] = logins_below_superuser(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
