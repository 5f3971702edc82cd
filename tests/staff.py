"""Staff logins for tests: a user in one of the console's roles, optionally a practitioner's own."""

import itertools

from django.contrib.auth.models import Group, User

from practitioners.models import Practitioner, StaffProfile

_numbers = itertools.count(1)


def staff_login(role: str | None, practitioner: Practitioner | None = None, *, is_staff: bool = True) -> User:
    """A login in `role` (a group made by `staff_roles_ensure`; None for no role) with its profile.

    The password is unusable: tests log in with `client.force_login`.
    """
    name = (role or "no-role").lower().replace(" ", "-")
    user: User = User.objects.create_user(username=f"{name}-{next(_numbers)}", password=None, is_staff=is_staff)
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    StaffProfile.objects.create(user=user, practitioner=practitioner)
    return user
