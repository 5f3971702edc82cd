"""What every console page of bookings shares: row-level access, and saving only what changed."""

from typing import Any, Generic, TypeVar

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import Model
from django.http import Http404, HttpRequest

ModelT = TypeVar("ModelT", bound=Model)


class RowLevelAccessAdmin(admin.ModelAdmin[ModelT], Generic[ModelT]):
    """A model admin whose `get_queryset` holds only the rows the login may see.

    Django answers an id it cannot find by redirecting to the index with "doesn't exist";
    here the change, history and delete pages of such an id are a plain 404, the same for a
    row that exists but belongs to another practitioner as for one that never existed.
    """

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None) -> ModelT | None:
        found = super().get_object(request, object_id, from_field)
        if found is None:
            raise Http404("No such row.")
        return found


class ReadOnlyAdmin:
    """Mixed in before a model admin whose rows are evidence: nobody adds, changes or deletes one here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def changed_fields_save(instance: models.Model, form: forms.ModelForm[Any]) -> list[str]:
    """Save only the fields the form changed; returns them.

    A sync writes ids and state to the same rows while staff have the page open: saving the
    whole row as it was read would put back what the sync has since written.
    """
    concrete = {field.name for field in instance._meta.concrete_fields}
    changed = [name for name in form.changed_data if name in concrete]
    if changed:
        instance.save(update_fields=[*changed, "updated_at"])
    return changed
