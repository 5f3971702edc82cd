"""Staff views of intake forms: definitions, submissions (answers only with permission), triage.

List views show statuses, ids and problems (field names and reasons) only. A submission's
answers are shown only to users with `forms_intake.view_answers`; triage assessments only to
users with `forms_intake.view_triage`.
"""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from bookings.admin.access import RowLevelAccessAdmin
from bookings.audit import AuditActor
from forms_intake import services
from forms_intake.models import FormDefinition, FormSubmission, SubmissionStatus, TriageAssessment
from forms_intake.selectors import submissions_visible_to, triage_visible_to

ANSWERS_PERMISSION = "forms_intake.view_answers"
TRIAGE_PERMISSION = "forms_intake.view_triage"


@admin.register(FormDefinition)
class FormDefinitionAdmin(admin.ModelAdmin[FormDefinition]):
    list_display = ["form_type", "jotform_form_id", "title", "updated_at"]


@admin.register(FormSubmission)
class FormSubmissionAdmin(RowLevelAccessAdmin[FormSubmission]):
    list_display = ["__str__", "form_type", "status", "booking", "patient", "problem_list", "received_at"]
    list_filter = ["status", "form_type"]
    search_fields = ["submission_id"]
    raw_id_fields = ["booking"]
    actions = ["accept_changes", "reject_changes"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[FormSubmission]:
        return submissions_visible_to(user=request.user).select_related("booking", "patient")

    def get_fields(self, request: HttpRequest, obj: FormSubmission | None = None) -> list[str]:  # type: ignore[override]
        fields = ["submission_id", "form_type", "status", "booking", "patient", "problem_list", "rejection_reason"]
        if request.user.has_perm(ANSWERS_PERMISSION):
            fields += ["pending_change_list", "answers_shown"]
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: FormSubmission | None = None) -> list[str]:
        readonly = ["submission_id", "form_type", "status", "patient", "problem_list", "rejection_reason"]
        readonly += ["pending_change_list", "answers_shown"]
        if obj is not None and obj.status != SubmissionStatus.UNMATCHED:
            readonly.append("booking")
        return readonly

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="problems")
    def problem_list(self, submission: FormSubmission) -> str:
        return "; ".join(f"{problem['field']}: {problem['reason']}" for problem in submission.problems) or "-"

    @admin.display(description="changes waiting for a decision")
    def pending_change_list(self, submission: FormSubmission) -> str:
        return (
            format_html_join(
                "",
                "<div>{}: {}</div>",
                ((change["field"], change["value"]) for change in submission.pending_changes or []),
            )
            or "-"
        )

    @admin.display(description="answers")
    def answers_shown(self, submission: FormSubmission) -> str:
        return format_html("<pre>{}</pre>", json.dumps(submission.answers or {}, indent=2, ensure_ascii=False))

    def save_model(self, request: HttpRequest, obj: FormSubmission, form: forms.ModelForm[Any], change: bool) -> None:
        """Choosing a booking for an unmatched submission links it and processes it again."""
        if change and "booking" in form.changed_data and obj.booking is not None:
            services.submission_booking_link(
                submission=obj, booking=obj.booking, actor=AuditActor.from_request(request)
            )
            return
        super().save_model(request, obj, form, change)

    @admin.action(description="Accept the waiting changes (push them to MediRecords)", permissions=["change"])
    def accept_changes(self, request: HttpRequest, queryset: QuerySet[FormSubmission]) -> None:
        actor = AuditActor.from_request(request)
        accepted = 0
        for submission in queryset.select_related("patient"):
            try:
                services.submission_changes_accept(submission=submission, actor=actor)
            except services.ChangesNotPushedError as not_pushed:
                self.message_user(request, f"{submission}: {not_pushed}", messages.ERROR)
            else:
                accepted += 1
        self.message_user(request, f"Changes accepted for {accepted} submissions.", messages.SUCCESS)

    @admin.action(description="Reject the waiting changes (keep what MediRecords holds)", permissions=["change"])
    def reject_changes(self, request: HttpRequest, queryset: QuerySet[FormSubmission]) -> None:
        actor = AuditActor.from_request(request)
        for submission in queryset:
            services.submission_changes_reject(submission=submission, actor=actor)
        self.message_user(request, f"Changes rejected for {queryset.count()} submissions.", messages.SUCCESS)


@admin.register(TriageAssessment)
class TriageAssessmentAdmin(RowLevelAccessAdmin[TriageAssessment]):
    list_display = ["__str__", "booking", "document_attached_at", "created_at"]
    fields = ["submission", "booking", "summary", "document_attached_at", "created_at"]
    readonly_fields = ["submission", "booking", "summary", "document_attached_at", "created_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[TriageAssessment]:
        return triage_visible_to(user=request.user).select_related("booking")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(TRIAGE_PERMISSION)

    def has_view_permission(self, request: HttpRequest, obj: TriageAssessment | None = None) -> bool:
        return request.user.has_perm(TRIAGE_PERMISSION)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TriageAssessment | None = None) -> bool:
        return False
