"""The staff console's access matrix: every role against every model and action, allowed and refused.

Roles are the groups of `practitioners.staff_roles` (made by the post_migrate hook), plus a
staff login with no role and a login that is not staff. The Practitioner login is Dr Dia's
own, the Consultant login the Consultant's. Which rows a Practitioner or Consultant login
sees is decided by `bookings_visible_to`, `patients_visible_to`, `submissions_visible_to` and
`triage_visible_to`; the tests below the matrix check those rows one way in at a time.

A row a login may not see is "refused": 403, 404, or Django's redirect for a row that does
not exist (the admin answers a change or history URL of a row outside its queryset that
way). Refused rows must be indistinguishable from rows that do not exist, and never shown.
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser, Permission
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bookings.models import (
    AuditAction,
    AuditEntry,
    Booking,
    BookingKind,
    BookingStatus,
    DeliverySource,
    DeliveryStatus,
    InboundDelivery,
    Notification,
    NotificationChannel,
    NotificationKind,
    NotificationStatus,
    Patient,
    SyncAttempt,
    SyncOperation,
    SyncOutcome,
    SyncState,
)
from forms_intake.models import FormDefinition, FormSubmission, FormType, SubmissionStatus, TriageAssessment
from practitioners.models import BookingType, GraphSubscription, Practitioner, PractitionerKind, SubscriptionGap
from practitioners.staff_roles import CONSULTANT, FRONT_DESK, PRACTICE_MANAGER, PRACTITIONER
from tests.bookings.factories import BookingFactory, InboundDeliveryFactory, PatientFactory
from tests.practitioners.factories import GraphSubscriptionFactory, PractitionerFactory
from tests.staff import staff_login

pytestmark = pytest.mark.django_db

NO_ROLE = "Staff without a role"
NOT_STAFF = "Not staff"
ROLES = [PRACTICE_MANAGER, FRONT_DESK, PRACTITIONER, CONSULTANT, NO_ROLE, NOT_STAFF]

LOGIN = "login"  # redirected to the console's login page
PHONE_PAGE = "phone page"  # bookings are added on the phone booking page

# Text only the rows' health data and bodies hold: a page showing it has shown the data.
DIA_ANSWER = "Levothyroxine-dia-answer"
NURSE_ANSWER = "Metformin-nurse-answer"
SHARED_TRIAGE = "Shared-triage-summary"
PRIVATE_TRIAGE = "Private-triage-summary"
JOTFORM_BODY = "Jotform-body-answer"

BOOKING = "bookings.Booking"
PATIENT = "bookings.Patient"
SYNC_ATTEMPT = "bookings.SyncAttempt"
DELIVERY = "bookings.InboundDelivery"
AUDIT_ENTRY = "bookings.AuditEntry"
NOTIFICATION = "bookings.Notification"
SUBMISSION = "forms_intake.FormSubmission"
TRIAGE = "forms_intake.TriageAssessment"
FORM_DEFINITION = "forms_intake.FormDefinition"
PRACTITIONER_MODEL = "practitioners.Practitioner"
SUBSCRIPTION = "practitioners.GraphSubscription"
SUBSCRIPTION_GAP = "practitioners.SubscriptionGap"
USER = "auth.User"

ACTIONS = ("changelist", "change", "add", "delete")
# What a login gets from a model's admin pages, in the order of ACTIONS: (changelist, change
# view of a row it may see, add view, delete view). 200 allowed; 403 refused; LOGIN sent to
# the login page; PHONE_PAGE sent to the phone booking page.
ALL_ALLOWED = (200, 200, 200, 200)
READ_ONLY = (200, 200, 403, 403)
REFUSED = (403, 403, 403, 403)
# No permission, and the row is outside what the login may see: its pages answer as for a
# row that does not exist (404), so they do not even tell that it exists.
ROW_HIDDEN = (403, 404, 403, 404)
TO_LOGIN = (LOGIN, LOGIN, LOGIN, LOGIN)

STAFF_ROLES = [role for role in ROLES if role != NOT_STAFF]
# fmt: off
# What each staff role gets from each model's admin pages, one column a role in the order
# of STAFF_ROLES (practice manager, front desk, practitioner, consultant, no role). A login
# that is not staff is sent to the login page from every one.
STAFF_ANSWERS: dict[str, tuple[tuple[int | str, ...], ...]] = {
    BOOKING:            ((200, 200, PHONE_PAGE, 200), (200, 200, PHONE_PAGE, 403), READ_ONLY, READ_ONLY, ROW_HIDDEN),
    PATIENT:            (ALL_ALLOWED,                 (200, 200, 200, 403),        READ_ONLY, READ_ONLY, ROW_HIDDEN),
    SYNC_ATTEMPT:       (READ_ONLY,                   READ_ONLY,                   READ_ONLY, READ_ONLY, ROW_HIDDEN),
    DELIVERY:           (READ_ONLY,                   READ_ONLY,                   REFUSED,   REFUSED,   REFUSED),
    NOTIFICATION:       (READ_ONLY,                   READ_ONLY,                   READ_ONLY, READ_ONLY, ROW_HIDDEN),
    AUDIT_ENTRY:        (READ_ONLY,                   REFUSED,                     REFUSED,   REFUSED,   REFUSED),
    SUBMISSION:         ((200, 200, 403, 200),        READ_ONLY,                   READ_ONLY, READ_ONLY, ROW_HIDDEN),
    TRIAGE:             ((200, 200, 403, 200),        ROW_HIDDEN,                  READ_ONLY, READ_ONLY, ROW_HIDDEN),
    FORM_DEFINITION:    (ALL_ALLOWED,                 READ_ONLY,                   REFUSED,   REFUSED,   REFUSED),
    PRACTITIONER_MODEL: (ALL_ALLOWED,                 READ_ONLY,                   READ_ONLY, READ_ONLY, REFUSED),
    SUBSCRIPTION:       (READ_ONLY,                   READ_ONLY,                   REFUSED,   REFUSED,   REFUSED),
    SUBSCRIPTION_GAP:   (READ_ONLY,                   READ_ONLY,                   REFUSED,   REFUSED,   REFUSED),
    USER:               ((200, 200, 200, 403),        REFUSED,                     REFUSED,   REFUSED,   REFUSED),
}
# fmt: on
MATRIX: dict[str, dict[str, tuple[int | str, ...]]] = {
    model: {**dict(zip(STAFF_ROLES, answers, strict=True)), NOT_STAFF: TO_LOGIN}
    for model, answers in STAFF_ANSWERS.items()
}

# Registered models outside the matrix that only the practice manager's index lists.
MANAGER_ALSO_LISTS = {
    "auth.Group",
    "axes.AccessAttempt",
    "axes.AccessFailureLog",
    "axes.AccessLog",
    "otp_static.StaticDevice",
    "otp_totp.TOTPDevice",
}


@dataclass
class Clinic:
    """The practice's rows: Dr Dia's, the Nurse's and the Consultant's, and a patient they share."""

    dr_dia: Practitioner
    nurse: Practitioner
    consultant: Practitioner
    dia_patient: Patient
    nurse_patient: Patient
    consultant_patient: Patient  # booked with the Consultant only
    shared_patient: Patient  # booked with the Consultant, then with Dr Dia
    dia_booking: Booking
    nurse_booking: Booking
    consultant_booking: Booking
    shared_consultant_booking: Booking
    shared_dia_booking: Booking
    dia_attempt: SyncAttempt
    nurse_attempt: SyncAttempt
    consultant_attempt: SyncAttempt
    dia_notification: Notification
    consultant_notification: Notification
    dia_submission: FormSubmission
    nurse_submission: FormSubmission
    shared_triage: TriageAssessment  # the shared patient's: Dr Dia needs it
    private_triage: TriageAssessment  # the consultant patient's: Dr Dia never sees it
    jotform_delivery: InboundDelivery
    graph_delivery: InboundDelivery
    audit_entry: AuditEntry
    definition: FormDefinition
    subscription: GraphSubscription
    subscription_gap: SubscriptionGap
    somebody: AbstractUser

    def row(self, model: str, role: str) -> models.Model:
        """A row of `model` that a login in `role` may see (for the Consultant, its own)."""
        consultant = role == CONSULTANT
        rows: dict[str, models.Model] = {
            BOOKING: self.consultant_booking if consultant else self.dia_booking,
            PATIENT: self.consultant_patient if consultant else self.dia_patient,
            SYNC_ATTEMPT: self.consultant_attempt if consultant else self.dia_attempt,
            NOTIFICATION: self.consultant_notification if consultant else self.dia_notification,
            DELIVERY: self.jotform_delivery,
            AUDIT_ENTRY: self.audit_entry,
            SUBMISSION: self.private_triage.submission if consultant else self.dia_submission,
            TRIAGE: self.shared_triage,
            FORM_DEFINITION: self.definition,
            PRACTITIONER_MODEL: self.dr_dia,
            SUBSCRIPTION: self.subscription,
            SUBSCRIPTION_GAP: self.subscription_gap,
            USER: self.somebody,
        }
        return rows[model]

    def practitioner_of(self, role: str) -> Practitioner | None:
        return {PRACTITIONER: self.dr_dia, CONSULTANT: self.consultant}.get(role)


def triage_make(booking: Booking, *, submission_id: str, summary: str) -> TriageAssessment:
    submission = FormSubmission.objects.create(
        submission_id=submission_id,
        form_type=FormType.TRIAGE,
        jotform_form_id="251234567890002",
        status=SubmissionStatus.PROCESSED,
        answers={"symptoms": summary},
        booking=booking,
        patient=booking.patient,
    )
    return TriageAssessment.objects.create(
        submission=submission, booking=booking, answers={"symptoms": summary}, summary=summary
    )


def submission_make(booking: Booking, *, submission_id: str, answer: str) -> FormSubmission:
    return FormSubmission.objects.create(
        submission_id=submission_id,
        form_type=FormType.FULL,
        jotform_form_id="251234567890123",
        status=SubmissionStatus.NEEDS_ATTENTION,
        answers={"medications": answer},
        pending_changes=[{"field": "medications", "value": answer}],
        booking=booking,
        patient=booking.patient,
    )


def notification_make(booking: Booking) -> Notification:
    return Notification.objects.create(
        booking=booking,
        kind=NotificationKind.CONFIRMATION,
        channel=NotificationChannel.PATIENT_EMAIL,
        sequence=0,
        status=NotificationStatus.FAILED,
        attempts=5,
    )


def attempt_make(booking: Booking) -> SyncAttempt:
    return SyncAttempt.objects.create(
        booking=booking, operation=SyncOperation.PATIENT_SEARCH, outcome=SyncOutcome.FAILED, http_status=500
    )


@pytest.fixture(autouse=True)
def _console_settings(settings):
    """The matrix is about roles: no second factor to pass, and a known key for health data."""
    settings.ADMIN_REQUIRE_TWO_FACTOR = False
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]


@pytest.fixture
def clinic() -> Clinic:
    dr_dia = PractitionerFactory.create(slug="dr-dia", display_name="Dr Dia")
    nurse = PractitionerFactory.create(slug="nurse", display_name="Nurse", kind=PractitionerKind.NURSE_PRACTITIONER)
    consultant = PractitionerFactory.create(
        slug="consultant",
        display_name="Consultant",
        kind=PractitionerKind.CONSULTANT,
        booking_type=BookingType.FREE_INITIAL,
        fee=None,
    )
    dia_patient = PatientFactory.create(last_name="Harrowgate")
    nurse_patient = PatientFactory.create(last_name="Quillfeather")
    consultant_patient = PatientFactory.create(last_name="Brackenbury")
    shared_patient = PatientFactory.create(last_name="Ormsby")
    # Dr Dia's and the Nurse's bookings are within the hour: the index's day at a glance lists them.
    soon = timezone.now() + timedelta(hours=1)
    dia_booking = BookingFactory.create(practitioner=dr_dia, patient=dia_patient, starts_at=soon)
    nurse_booking = BookingFactory.create(
        practitioner=nurse,
        starts_at=soon,
        patient=nurse_patient,
        sync_state=SyncState.NEEDS_REVIEW,
        patient_candidates=[{"id": "mr-1", "first_name": "Ada", "last_name": "Quillfeather", "dob": None}],
    )
    consultant_booking = BookingFactory.create(
        practitioner=consultant, patient=consultant_patient, kind=BookingKind.FREE_INITIAL
    )
    shared_consultant_booking = BookingFactory.create(
        practitioner=consultant, patient=shared_patient, kind=BookingKind.FREE_INITIAL
    )
    shared_dia_booking = BookingFactory.create(
        practitioner=dr_dia, patient=shared_patient, follows=shared_consultant_booking
    )
    somebody = get_user_model().objects.create_user(username="somebody", password=None)
    return Clinic(
        dr_dia=dr_dia,
        nurse=nurse,
        consultant=consultant,
        subscription=GraphSubscriptionFactory.create(practitioner=dr_dia),
        subscription_gap=SubscriptionGap.objects.create(
            practitioner=dr_dia, lost_graph_id="lost", deaf_since=timezone.now(), detected_at=timezone.now()
        ),
        dia_patient=dia_patient,
        nurse_patient=nurse_patient,
        consultant_patient=consultant_patient,
        shared_patient=shared_patient,
        somebody=somebody,
        audit_entry=AuditEntry.objects.create(
            actor=somebody,
            actor_username="somebody",
            action=AuditAction.SYNC_RETRIED,
            booking=nurse_booking,
            subject=str(nurse_booking),
            before={"sync_state": SyncState.NEEDS_ATTENTION},
            after={"sync_state": SyncState.PENDING},
        ),
        dia_booking=dia_booking,
        nurse_booking=nurse_booking,
        consultant_booking=consultant_booking,
        shared_consultant_booking=shared_consultant_booking,
        shared_dia_booking=shared_dia_booking,
        dia_attempt=attempt_make(dia_booking),
        nurse_attempt=attempt_make(nurse_booking),
        consultant_attempt=attempt_make(consultant_booking),
        dia_notification=notification_make(dia_booking),
        consultant_notification=notification_make(consultant_booking),
        dia_submission=submission_make(dia_booking, submission_id="6300000000000000001", answer=DIA_ANSWER),
        nurse_submission=submission_make(nurse_booking, submission_id="6300000000000000002", answer=NURSE_ANSWER),
        shared_triage=triage_make(
            shared_consultant_booking, submission_id="6300000000000000003", summary=SHARED_TRIAGE
        ),
        private_triage=triage_make(consultant_booking, submission_id="6300000000000000004", summary=PRIVATE_TRIAGE),
        jotform_delivery=InboundDeliveryFactory.create(
            source=DeliverySource.JOTFORM,
            body=f'{{"q3_fullName": "Ada Quillfeather", "q9_medications": "{JOTFORM_BODY}"}}'.encode(),
            status=DeliveryStatus.FAILED,
            last_error="handler failed",
        ),
        graph_delivery=InboundDeliveryFactory.create(source=DeliverySource.GRAPH, body=b'{"value": []}'),
        definition=FormDefinition.objects.get_or_create(
            form_type=FormType.FULL, defaults={"jotform_form_id": "251234567890123"}
        )[0],
    )


def logged_in(client: Client, clinic: Clinic, role: str) -> Client:
    """`client` logged in with `role` (the Practitioner as Dr Dia, the Consultant as the Consultant)."""
    if role == NOT_STAFF:
        user = staff_login(None, is_staff=False)
    elif role == NO_ROLE:
        user = staff_login(None)
    else:
        user = staff_login(role, clinic.practitioner_of(role))
    client.force_login(user)
    return client


def admin_url(model: str, action: str, *args: object) -> str:
    app_label, model_name = model.lower().split(".")
    return reverse(f"admin:{app_label}_{model_name}_{action}", args=args)


def assert_answer(response, expected: int | str) -> None:
    if expected == LOGIN:
        assert response.status_code == 302, response
        assert response.url.startswith(reverse("admin:login")), response.url
    elif expected == PHONE_PAGE:
        assert response.status_code == 302, response
        assert response.url == reverse("admin:bookings_booking_phone"), response.url
    else:
        assert response.status_code == expected, response


def assert_refused_like_a_missing_row(client: Client, url: str, missing_url: str, *, never: tuple[str, ...] = ()):
    """The URL of a row the login may not see answers as for a row that does not exist."""
    response = client.get(url)
    missing = client.get(missing_url)
    assert response.status_code in {403, 404}, (url, response.status_code)
    assert response.status_code == missing.status_code, (url, response.status_code, missing.status_code)
    page = response.content.decode()
    for text in never:
        assert text not in page, (url, text)


def assert_row_refused(
    client: Client, model: str, row: models.Model, *, page: str = "change", never: tuple[str, ...] = ()
) -> None:
    """`page` of `row` answers as the same page of a row that does not exist."""
    missing_pk = 987654
    assert_refused_like_a_missing_row(
        client, admin_url(model, page, row.pk), admin_url(model, page, missing_pk), never=never
    )


# --- The matrix: role by model by action ------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "model", "action", "expected"),
    [
        pytest.param(role, model, action, answers[index], id=f"{model}-{action}-{role}")
        for model, by_role in MATRIX.items()
        for role, answers in by_role.items()
        for index, action in enumerate(ACTIONS)
    ],
)
def test_access_matrix(client, clinic, role, model, action, expected):
    client = logged_in(client, clinic, role)
    args = (clinic.row(model, role).pk,) if action in {"change", "delete"} else ()
    assert_answer(client.get(admin_url(model, action, *args)), expected)


def test_the_matrix_covers_every_role_and_model():
    assert set(MATRIX) == {
        BOOKING,
        PATIENT,
        SYNC_ATTEMPT,
        DELIVERY,
        NOTIFICATION,
        AUDIT_ENTRY,
        SUBMISSION,
        TRIAGE,
        FORM_DEFINITION,
        PRACTITIONER_MODEL,
        SUBSCRIPTION,
        SUBSCRIPTION_GAP,
        USER,
    }
    for by_role in MATRIX.values():
        assert list(by_role) == ROLES


# --- The index: every role gets it, listing only what the role may see ----------------------


def index_models(response) -> set[str]:
    return {
        f"{app['app_label']}.{model['object_name']}" for app in response.context["app_list"] for model in app["models"]
    }


@pytest.mark.parametrize("role", ROLES)
def test_the_index_lists_only_what_the_role_may_see(client, clinic, role):
    response = logged_in(client, clinic, role).get(reverse("admin:index"))
    if role == NOT_STAFF:
        assert_answer(response, LOGIN)
        return
    assert response.status_code == 200
    expected = {model for model, by_role in MATRIX.items() if by_role[role][0] == 200}
    if role == PRACTICE_MANAGER:
        expected |= MANAGER_ALSO_LISTS
    assert index_models(response) == expected
    page = response.content.decode()
    for model in set(MATRIX) - expected:
        assert admin_url(model, "changelist") not in page, model
    # Nor does the day at a glance show bookings the login may not see.
    if role in {PRACTITIONER, CONSULTANT, NO_ROLE}:
        assert admin_url(BOOKING, "change", clinic.nurse_booking.pk) not in page
    if role == PRACTITIONER and 'id="day-at-a-glance"' in page:
        assert admin_url(BOOKING, "change", clinic.dia_booking.pk) in page


# --- Admin actions: posting over a row the login may not act on does nothing ----------------


def action_post(client: Client, model: str, action: str, row: models.Model):
    return client.post(admin_url(model, "changelist"), {"action": action, "_selected_action": [row.pk], "index": "0"})


ACTING_ROLES = {PRACTICE_MANAGER, FRONT_DESK}


@pytest.mark.parametrize("role", ROLES)
def test_retry_sync_acts_only_for_roles_that_change_bookings(client, clinic, role):
    response = action_post(logged_in(client, clinic, role), BOOKING, "retry_sync", clinic.nurse_booking)
    retried = AuditEntry.objects.filter(action=AuditAction.SYNC_RETRIED).exclude(pk=clinic.audit_entry.pk)
    clinic.nurse_booking.refresh_from_db()
    if role in ACTING_ROLES:
        assert response.status_code == 302
        assert clinic.nurse_booking.sync_state == SyncState.PENDING
        assert retried.count() == 1
    else:
        assert response.status_code in {200, 302, 403}
        assert clinic.nurse_booking.sync_state == SyncState.NEEDS_REVIEW
        assert not retried.exists()
        if role == NOT_STAFF:
            assert_answer(response, LOGIN)


@pytest.mark.parametrize("role", ROLES)
def test_link_patient_action_leads_only_roles_that_change_bookings_to_the_link_page(client, clinic, role):
    response = action_post(logged_in(client, clinic, role), BOOKING, "link_patient", clinic.nurse_booking)
    link_url = reverse("admin:bookings_booking_link_patient", args=[clinic.nurse_booking.pk])
    if role in ACTING_ROLES:
        assert response.status_code == 302
        assert response.url == link_url
    else:
        assert response.status_code in {200, 302, 403}
        assert response.get("Location") != link_url
        assert "Quillfeather" not in response.content.decode()


@pytest.mark.parametrize("role", ROLES)
def test_replay_acts_only_for_roles_that_change_deliveries(client, clinic, role):
    response = action_post(logged_in(client, clinic, role), DELIVERY, "replay", clinic.jotform_delivery)
    clinic.jotform_delivery.refresh_from_db()
    replayed = AuditEntry.objects.filter(action=AuditAction.DELIVERY_REPLAYED)
    if role in ACTING_ROLES:
        assert response.status_code == 302
        assert clinic.jotform_delivery.status == DeliveryStatus.RECEIVED
        assert replayed.count() == 1
    else:
        assert_answer(response, LOGIN if role == NOT_STAFF else 403)
        assert clinic.jotform_delivery.status == DeliveryStatus.FAILED
        assert not replayed.exists()


# --- Row level: a Practitioner login (Dr Dia) sees Dr Dia's rows only ------------------------


def listed(client: Client, url: str) -> set[int]:
    response = client.get(url)
    assert response.status_code == 200, url
    return {row.pk for row in response.context["cl"].result_list}


@pytest.fixture
def dia_client(client, clinic) -> Client:
    return logged_in(client, clinic, PRACTITIONER)


def test_the_booking_list_shows_dr_dias_bookings_only(dia_client, clinic):
    assert listed(dia_client, admin_url(BOOKING, "changelist")) == {clinic.dia_booking.pk, clinic.shared_dia_booking.pk}


def test_searching_the_booking_list_finds_nothing_of_the_nurses(dia_client, clinic):
    assert listed(dia_client, admin_url(BOOKING, "changelist") + "?q=Quillfeather") == set()
    assert listed(dia_client, admin_url(BOOKING, "changelist") + "?q=Harrowgate") == {clinic.dia_booking.pk}


def test_filtering_the_booking_list_by_the_nurses_patient_finds_nothing(dia_client, clinic):
    url = admin_url(BOOKING, "changelist") + f"?patient__id__exact={clinic.nurse_patient.pk}"
    response = dia_client.get(url)
    assert response.status_code in {200, 302}
    if response.status_code == 200:
        assert list(response.context["cl"].result_list) == []


@pytest.mark.parametrize("page", ["change", "history", "delete"])
def test_the_nurses_booking_pages_are_refused(dia_client, clinic, page):
    assert_row_refused(
        dia_client, BOOKING, clinic.nurse_booking, page=page, never=("Quillfeather", str(clinic.nurse_booking))
    )


def test_the_nurses_booking_link_patient_page_is_refused(dia_client, clinic):
    url = reverse("admin:bookings_booking_link_patient", args=[clinic.nurse_booking.pk])
    missing = reverse("admin:bookings_booking_link_patient", args=[987654])
    assert_refused_like_a_missing_row(dia_client, url, missing, never=("Quillfeather", "mr-1"))
    response = dia_client.post(url, {"create_new": "1"})
    assert response.status_code in {403, 404}
    clinic.nurse_patient.refresh_from_db()
    assert not clinic.nurse_patient.medirecords_create_new
    assert not AuditEntry.objects.filter(action=AuditAction.PATIENT_CREATE_NEW).exists()


def test_dr_dias_own_booking_pages_are_shown(dia_client, clinic):
    assert dia_client.get(admin_url(BOOKING, "change", clinic.dia_booking.pk)).status_code == 200
    assert dia_client.get(admin_url(BOOKING, "history", clinic.dia_booking.pk)).status_code == 200


def test_the_patient_list_shows_dr_dias_patients_only(dia_client, clinic):
    patients = {clinic.dia_patient.pk, clinic.shared_patient.pk}
    assert listed(dia_client, admin_url(PATIENT, "changelist")) == patients
    assert listed(dia_client, admin_url(PATIENT, "changelist") + "?q=Quillfeather") == set()


@pytest.mark.parametrize("page", ["change", "history", "delete"])
def test_the_nurses_patient_pages_are_refused(dia_client, clinic, page):
    assert_row_refused(dia_client, PATIENT, clinic.nurse_patient, page=page, never=("Quillfeather",))


def test_the_raw_id_lookup_popup_offers_dr_dias_patients_only(dia_client, clinic):
    url = admin_url(PATIENT, "changelist") + "?_to_field=id&_popup=1"
    assert listed(dia_client, url) == {clinic.dia_patient.pk, clinic.shared_patient.pk}
    page = dia_client.get(url).content.decode()
    assert "Quillfeather" not in page
    assert "Brackenbury" not in page


def test_the_raw_id_lookup_popup_for_a_submissions_booking_offers_dr_dias_bookings_only(dia_client, clinic):
    url = admin_url(BOOKING, "changelist") + "?_to_field=id&_popup=1"
    assert listed(dia_client, url) == {clinic.dia_booking.pk, clinic.shared_dia_booking.pk}


@pytest.mark.parametrize(
    ("model_name", "field_name", "term"),
    [("booking", "patient", ""), ("booking", "patient", "Quillfeather"), ("formsubmission", "booking", "")],
)
def test_autocomplete_offers_no_other_practitioners_rows(dia_client, clinic, model_name, field_name, term):
    app_label = "bookings" if model_name == "booking" else "forms_intake"
    response = dia_client.get(
        reverse("admin:autocomplete"),
        {"app_label": app_label, "model_name": model_name, "field_name": field_name, "term": term},
    )
    assert response.status_code in {200, 403, 404}
    if response.status_code != 200:
        return
    offered = {int(result["id"]) for result in response.json()["results"]}
    if field_name == "patient":
        assert offered <= {clinic.dia_patient.pk, clinic.shared_patient.pk}
        assert clinic.nurse_patient.pk not in offered
    else:
        assert offered <= {clinic.dia_booking.pk, clinic.shared_dia_booking.pk}


def test_sync_attempts_of_the_nurses_bookings_are_not_listed_or_shown(dia_client, clinic):
    assert listed(dia_client, admin_url(SYNC_ATTEMPT, "changelist")) == {clinic.dia_attempt.pk}
    assert_row_refused(dia_client, SYNC_ATTEMPT, clinic.nurse_attempt)


def test_submissions_of_the_nurses_bookings_are_not_listed_or_shown(dia_client, clinic):
    assert listed(dia_client, admin_url(SUBMISSION, "changelist")) == {clinic.dia_submission.pk}
    assert_row_refused(dia_client, SUBMISSION, clinic.nurse_submission, never=(NURSE_ANSWER,))
    assert DIA_ANSWER in dia_client.get(admin_url(SUBMISSION, "change", clinic.dia_submission.pk)).content.decode()


def test_a_practitioner_sees_the_triage_of_its_own_patients_only(dia_client, clinic):
    # The shared patient's triage was written for the Consultant's booking, but the patient
    # is booked with Dr Dia too; the consultant patient was never booked with Dr Dia.
    assert listed(dia_client, admin_url(TRIAGE, "changelist")) == {clinic.shared_triage.pk}
    page = dia_client.get(admin_url(TRIAGE, "change", clinic.shared_triage.pk)).content.decode()
    assert SHARED_TRIAGE in page
    assert_row_refused(dia_client, TRIAGE, clinic.private_triage, never=(PRIVATE_TRIAGE,))


# Phone bookings (pages being added to bookings/admin.py): made by roles that add bookings,
# moved and cancelled only on bookings the login may see and change.


@pytest.mark.parametrize("role", [PRACTITIONER, CONSULTANT, NO_ROLE, NOT_STAFF])
def test_the_phone_booking_page_is_refused_to_roles_that_do_not_add_bookings(client, clinic, role):
    response = logged_in(client, clinic, role).get(reverse("admin:bookings_booking_phone"))
    assert_answer(response, LOGIN if role == NOT_STAFF else 403)


@pytest.mark.parametrize("page", ["move", "cancel"])
def test_the_nurses_phone_booking_cannot_be_moved_or_cancelled_by_dr_dia(dia_client, clinic, page):
    booking = BookingFactory.create(practitioner=clinic.nurse, patient=clinic.nurse_patient, kind=BookingKind.PHONE)
    url = reverse(f"admin:bookings_booking_{page}", args=[booking.pk])
    missing = reverse(f"admin:bookings_booking_{page}", args=[987654])
    assert_refused_like_a_missing_row(dia_client, url, missing, never=("Quillfeather",))
    assert dia_client.post(url, {"reason": "patient asked"}).status_code in {403, 404}
    booking.refresh_from_db()
    assert booking.status == BookingStatus.BOOKED
    assert booking.practitioner == clinic.nurse


@pytest.mark.parametrize("page", ["move", "cancel"])
def test_dr_dia_cannot_move_or_cancel_even_its_own_phone_booking(dia_client, clinic, page):
    booking = BookingFactory.create(practitioner=clinic.dr_dia, patient=clinic.dia_patient, kind=BookingKind.PHONE)
    url = reverse(f"admin:bookings_booking_{page}", args=[booking.pk])
    assert dia_client.get(url).status_code == 403
    assert dia_client.post(url, {"reason": "patient asked"}).status_code == 403
    booking.refresh_from_db()
    assert booking.status == BookingStatus.BOOKED


# --- Row level: the Consultant, Front desk and the Practice manager --------------------------


def test_the_consultant_sees_its_own_bookings_and_every_triage(client, clinic):
    consultant_client = logged_in(client, clinic, CONSULTANT)
    own = {clinic.consultant_booking.pk, clinic.shared_consultant_booking.pk}
    assert listed(consultant_client, admin_url(BOOKING, "changelist")) == own
    assert listed(consultant_client, admin_url(TRIAGE, "changelist")) == {
        clinic.shared_triage.pk,
        clinic.private_triage.pk,
    }
    page = consultant_client.get(admin_url(TRIAGE, "change", clinic.private_triage.pk)).content.decode()
    assert PRIVATE_TRIAGE in page


@pytest.mark.parametrize(
    ("model", "row"),
    [
        (BOOKING, "dia_booking"),
        (BOOKING, "nurse_booking"),
        (PATIENT, "dia_patient"),
        (SYNC_ATTEMPT, "nurse_attempt"),
        (SUBMISSION, "dia_submission"),
    ],
)
def test_the_consultant_is_refused_other_practitioners_rows(client, clinic, model, row):
    consultant_client = logged_in(client, clinic, CONSULTANT)
    assert_row_refused(consultant_client, model, getattr(clinic, row), never=("Harrowgate", "Quillfeather", DIA_ANSWER))


def test_front_desk_never_sees_triage(client, clinic):
    desk = logged_in(client, clinic, FRONT_DESK)
    index = desk.get(reverse("admin:index"))
    assert TRIAGE not in index_models(index)
    assert "triageassessment" not in index.content.decode()
    assert desk.get(admin_url(TRIAGE, "changelist")).status_code == 403
    # Outside what the front desk may see: answered as a row that does not exist.
    assert desk.get(admin_url(TRIAGE, "change", clinic.shared_triage.pk)).status_code == 404


def test_front_desk_never_sees_submission_answers(client, clinic):
    desk = logged_in(client, clinic, FRONT_DESK)
    assert listed(desk, admin_url(SUBMISSION, "changelist")) >= {clinic.dia_submission.pk, clinic.nurse_submission.pk}
    for submission in (clinic.dia_submission, clinic.nurse_submission, clinic.shared_triage.submission):
        response = desk.get(admin_url(SUBMISSION, "change", submission.pk))
        assert response.status_code == 200
        page = response.content.decode()
        for answer in (DIA_ANSWER, NURSE_ANSWER, SHARED_TRIAGE):
            assert answer not in page


def test_front_desk_never_sees_raw_bodies_of_jotform_deliveries(client, clinic):
    desk = logged_in(client, clinic, FRONT_DESK)
    assert JOTFORM_BODY not in desk.get(admin_url(DELIVERY, "changelist")).content.decode()
    page = desk.get(admin_url(DELIVERY, "change", clinic.jotform_delivery.pk)).content.decode()
    assert JOTFORM_BODY not in page
    assert "Quillfeather" not in page


@pytest.mark.parametrize("lookup", ["body__contains", "body__icontains", "body__startswith"])
@pytest.mark.parametrize("encoding", ["text", "hex"])
def test_front_desk_cannot_probe_raw_bodies_through_the_delivery_list_filters(client, clinic, lookup, encoding):
    """A filter on the body answers "does a body hold X?" one guess at a time: the body, read.

    On PostgreSQL the admin casts bytea to text for these lookups, which spells the body in
    hex, so a hex-encoded guess is what finds it there.
    """
    desk = logged_in(client, clinic, FRONT_DESK)
    url = admin_url(DELIVERY, "changelist")
    for guess in ("Quillfeather", '{"q3_fullName": "Ada'):
        value = guess if encoding == "text" else guess.encode().hex()
        if lookup == "body__startswith" and encoding == "hex":
            value = "\\x" + value
        response = desk.get(url, {lookup: value})
        assert response.status_code in {200, 302, 400, 403}, (lookup, value)
        if response.status_code == 200:
            found = {row.pk for row in response.context["cl"].result_list}
            assert clinic.jotform_delivery.pk not in found, f"?{lookup}={value} finds the JotForm delivery"


def test_the_practice_manager_sees_everything(client, clinic):
    manager = logged_in(client, clinic, PRACTICE_MANAGER)
    assert listed(manager, admin_url(BOOKING, "changelist")) == set(Booking.objects.values_list("pk", flat=True))
    assert listed(manager, admin_url(PATIENT, "changelist")) == set(Patient.objects.values_list("pk", flat=True))
    assert listed(manager, admin_url(SUBMISSION, "changelist")) == set(
        FormSubmission.objects.values_list("pk", flat=True)
    )
    assert listed(manager, admin_url(TRIAGE, "changelist")) == {clinic.shared_triage.pk, clinic.private_triage.pk}
    assert NURSE_ANSWER in manager.get(admin_url(SUBMISSION, "change", clinic.nurse_submission.pk)).content.decode()
    assert PRIVATE_TRIAGE in manager.get(admin_url(TRIAGE, "change", clinic.private_triage.pk)).content.decode()
    assert JOTFORM_BODY in manager.get(admin_url(DELIVERY, "change", clinic.jotform_delivery.pk)).content.decode()


@pytest.mark.parametrize("whose", ["its own", "another staff login"])
def test_the_practice_manager_cannot_grant_superuser_or_permissions(client, clinic, whose):
    """The role holds exactly its permissions (no auth.delete_user, no permission editing):
    editing a login must not let it grant superuser status or single permissions."""
    manager = staff_login(PRACTICE_MANAGER)
    target = manager if whose == "its own" else staff_login(FRONT_DESK)
    client.force_login(manager)
    granted = Permission.objects.get(codename="delete_user")
    data = {
        "username": target.username,
        "first_name": "Renamed",
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "user_permissions": [granted.pk],
        "groups": [group.pk for group in target.groups.all()],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "09:00:00",
        "staff_profile-TOTAL_FORMS": "1",
        "staff_profile-INITIAL_FORMS": "1",
        "staff_profile-MIN_NUM_FORMS": "0",
        "staff_profile-MAX_NUM_FORMS": "1",
        "staff_profile-0-id": target.staff_profile.pk,
        "staff_profile-0-user": target.pk,
        "staff_profile-0-practitioner": "",
    }
    response = client.post(admin_url(USER, "change", target.pk), data)
    target.refresh_from_db()
    # Either the change is refused, or it is saved without what the manager may not grant.
    assert response.status_code == 403 or (response.status_code == 302 and target.first_name == "Renamed")
    assert not target.is_superuser
    assert not target.user_permissions.exists()


# --- The audit trail: nobody changes, deletes or adds an entry, superuser included -----------


@pytest.fixture(params=[PRACTICE_MANAGER, "superuser"])
def auditor(request, client, clinic):
    if request.param == "superuser":
        client.force_login(get_user_model().objects.create_superuser(username="root", password=None))
        return client
    return logged_in(client, clinic, request.param)


def test_an_audit_entry_is_shown_without_a_save_button(auditor, clinic):
    response = auditor.get(admin_url(AUDIT_ENTRY, "change", clinic.audit_entry.pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="_save"' not in page
    assert 'name="_continue"' not in page


def test_an_audit_entry_cannot_be_changed(auditor, clinic):
    response = auditor.post(admin_url(AUDIT_ENTRY, "change", clinic.audit_entry.pk), {"reason": "tampered"})
    assert response.status_code == 403
    clinic.audit_entry.refresh_from_db()
    assert clinic.audit_entry.reason == ""


def test_an_audit_entry_cannot_be_deleted(auditor, clinic):
    url = admin_url(AUDIT_ENTRY, "delete", clinic.audit_entry.pk)
    assert auditor.get(url).status_code == 403
    assert auditor.post(url, {"post": "yes"}).status_code == 403
    response = action_post(auditor, AUDIT_ENTRY, "delete_selected", clinic.audit_entry)
    assert response.status_code in {200, 302}
    assert AuditEntry.objects.filter(pk=clinic.audit_entry.pk).exists()


def test_an_audit_entry_cannot_be_added(auditor, clinic):
    count = AuditEntry.objects.count()
    url = admin_url(AUDIT_ENTRY, "add")
    assert auditor.get(url).status_code == 403
    post = {"action": AuditAction.BOOKING_CHANGED, "subject": "forged", "actor_username": "x"}
    assert auditor.post(url, post).status_code == 403
    assert AuditEntry.objects.count() == count


def test_audit_entries_are_read_by_the_practice_manager_only(clinic):
    for role in ROLES:
        response = logged_in(Client(), clinic, role).get(admin_url(AUDIT_ENTRY, "changelist"))
        assert_answer(response, 200 if role == PRACTICE_MANAGER else LOGIN if role == NOT_STAFF else 403)


# --- Logins: the practice manager manages those below superuser only -----------------------


@pytest.mark.parametrize("page", ["change", "password", "history", "delete"])
def test_the_practice_managers_pages_of_a_superuser_answer_as_for_a_missing_login(client, clinic, page):
    owner = get_user_model().objects.create_superuser(username="owner", password=None)
    client = logged_in(client, clinic, PRACTICE_MANAGER)
    assert_refused_like_a_missing_row(
        client, f"/admin/auth/user/{owner.pk}/{page}/", f"/admin/auth/user/999999/{page}/", never=("owner",)
    )
    assert client.get(f"/admin/auth/user/{clinic.somebody.pk}/{page}/").status_code == (
        403 if page == "delete" else 200
    )
