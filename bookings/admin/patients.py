"""Patients: our mirror of who is booked, as far as the login may see."""

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from bookings.admin.access import RowLevelAccessAdmin, changed_fields_save
from bookings.models import (
    Patient,
)
from bookings.selectors import patients_visible_to


@admin.register(Patient)
class PatientAdmin(RowLevelAccessAdmin[Patient]):
    list_display = ["__str__", "last_name", "first_name", "date_of_birth", "medirecords_patient_id", "has_placeholders"]
    search_fields = ["last_name", "first_name", "email", "mobile", "medirecords_patient_id"]

    readonly_fields = ["created_at", "updated_at", "medirecords_create_attempted_at", "sync_lease_until"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Patient]:
        return patients_visible_to(user=request.user)

    def save_model(self, request: HttpRequest, obj: Patient, form: forms.ModelForm[Patient], change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        changed_fields_save(obj, form)

    @admin.display(boolean=True, description="Placeholders in MediRecords")
    def has_placeholders(self, patient: Patient) -> bool:
        return bool(patient.placeholder_fields)
