"""The console's roles: one group each, holding exactly the permissions the role needs.

Which rows a role's login sees is decided elsewhere (`view_all_bookings`, `view_all_triage`
and the login's practitioner); the groups only say what kinds of things it may see and do.
Running `staff_roles_ensure` again puts every group back to this definition.
"""

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

PRACTICE_MANAGER = "Practice manager"
FRONT_DESK = "Front desk"
PRACTITIONER = "Practitioner"
CONSULTANT = "Consultant"

# Apps whose every permission the practice manager holds.
MANAGER_APPS = ("bookings", "forms_intake", "practitioners", "axes", "otp_totp", "otp_static")
MANAGER_EXTRA = (
    "auth.add_user",
    "auth.change_user",
    "auth.view_user",
    # Roles are defined here and put back after every migrate: the manager gives logins a
    # role but does not redefine one (which would also let a role grant itself anything).
    "auth.view_group",
    "admin.view_logentry",
)

FRONT_DESK_PERMISSIONS = (
    "bookings.add_booking",
    "bookings.change_booking",
    "bookings.view_booking",
    "bookings.view_all_bookings",
    "bookings.add_patient",
    "bookings.change_patient",
    "bookings.view_patient",
    "bookings.view_syncattempt",
    "bookings.view_inbounddelivery",
    "bookings.change_inbounddelivery",
    "bookings.view_notification",
    "bookings.change_notification",
    "practitioners.view_practitioner",
    "practitioners.view_graphsubscription",
    "practitioners.view_subscriptiongap",
    "forms_intake.view_formdefinition",
    "forms_intake.view_formsubmission",
    "forms_intake.change_formsubmission",
)

PRACTITIONER_PERMISSIONS = (
    "bookings.view_booking",
    "bookings.view_patient",
    "bookings.view_syncattempt",
    "bookings.view_notification",
    "practitioners.view_practitioner",
    "forms_intake.view_formsubmission",
    "forms_intake.view_answers",
    "forms_intake.view_triage",
)

CONSULTANT_PERMISSIONS = (*PRACTITIONER_PERMISSIONS, "forms_intake.view_all_triage")


def role_permissions() -> dict[str, Q]:
    """Each role's permissions as a filter on Permission."""
    return {
        PRACTICE_MANAGER: Q(content_type__app_label__in=MANAGER_APPS) | _named(MANAGER_EXTRA),
        FRONT_DESK: _named(FRONT_DESK_PERMISSIONS),
        PRACTITIONER: _named(PRACTITIONER_PERMISSIONS),
        CONSULTANT: _named(CONSULTANT_PERMISSIONS),
    }


@transaction.atomic
def staff_roles_ensure() -> dict[str, int]:
    """Create or reset the role groups; returns how many permissions each now holds."""
    held: dict[str, int] = {}
    for role, permissions in role_permissions().items():
        group, _ = Group.objects.get_or_create(name=role)
        granted = list(Permission.objects.filter(permissions))
        group.permissions.set(granted)
        held[role] = len(granted)
    return held


def _named(names: tuple[str, ...]) -> Q:
    query = Q(pk__in=[])
    for name in names:
        app_label, codename = name.split(".", 1)
        query |= Q(content_type__app_label=app_label, codename=codename)
    return query
