import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse

from bookings.inbox import tasks
from bookings.models import DeliverySource, DeliveryStatus
from tests.bookings.factories import BookingFactory, InboundDeliveryFactory, PatientFactory
from tests.practitioners.factories import PractitionerFactory

pytestmark = pytest.mark.django_db


def project_models():
    return [model for model in admin.site._registry if model._meta.app_label in {"practitioners", "bookings"}]


@pytest.fixture
def one_of_each():
    return [PractitionerFactory(), PatientFactory(), BookingFactory(), InboundDeliveryFactory()]


def admin_url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


def test_the_index_and_every_project_page_load_for_a_superuser(admin_client, one_of_each):
    assert admin_client.get(reverse("admin:index")).status_code == 200
    for instance in one_of_each:
        model = type(instance)
        assert admin_client.get(admin_url(model, "changelist")).status_code == 200, model
        assert admin_client.get(admin_url(model, "change", instance.pk)).status_code == 200, model


@pytest.mark.parametrize("model_name", ["practitioner", "patient"])
def test_add_pages_load(admin_client, model_name):
    model = next(model for model in project_models() if model._meta.model_name == model_name)
    assert admin_client.get(admin_url(model, "add")).status_code == 200


def test_adding_a_booking_is_done_on_the_phone_booking_page(admin_client):
    response = admin_client.get(reverse("admin:bookings_booking_add"))
    assert response.status_code == 302
    assert response.url == reverse("admin:bookings_booking_phone")
    assert admin_client.get(response.url).status_code == 200


def test_a_staff_user_with_view_permissions_can_read_every_page(client, staff_user, one_of_each):
    client.force_login(staff_user)
    for instance in one_of_each:
        model = type(instance)
        assert client.get(admin_url(model, "changelist")).status_code == 200, model
        assert client.get(admin_url(model, "change", instance.pk)).status_code == 200, model


def test_the_practitioner_list_shows_the_practice(admin_client):
    from django.core.management import call_command

    call_command("load_practice", verbosity=0)
    page = admin_client.get(admin_url(PractitionerFactory._meta.model, "changelist")).content.decode()
    for name in ("Consultant", "Dr Dia", "Doctor 2", "Nurse", "Ramona"):
        assert name in page


def test_deliveries_cannot_be_added_or_deleted_even_by_a_superuser(admin_client):
    delivery = InboundDeliveryFactory()
    model = type(delivery)
    assert admin_client.get(admin_url(model, "add")).status_code == 403
    assert admin_client.get(admin_url(model, "delete", delivery.pk)).status_code == 403


class TestDeliveryBodies:
    BODY = b'{"first_name": "Jane", "last_name": "Citizen"}'

    def test_the_list_never_shows_a_body(self, admin_client):
        InboundDeliveryFactory(source=DeliverySource.JOTFORM, body=self.BODY)
        page = admin_client.get(admin_url(InboundDeliveryFactory._meta.model, "changelist")).content
        assert b"Citizen" not in page

    def test_a_health_data_body_needs_its_own_permission(self, client, staff_user):
        delivery = InboundDeliveryFactory(source=DeliverySource.JOTFORM, body=self.BODY)
        url = admin_url(type(delivery), "change", delivery.pk)
        client.force_login(staff_user)
        assert b"Citizen" not in client.get(url).content

        staff_user.user_permissions.add(Permission.objects.get(codename="view_delivery_body"))
        client.force_login(type(staff_user).objects.get(pk=staff_user.pk))
        assert b"Citizen" in client.get(url).content

    def test_a_graph_body_carries_only_ids_and_is_shown(self, client, staff_user):
        delivery = InboundDeliveryFactory(source=DeliverySource.GRAPH, body=b'{"subscriptionId": "sub-7f10"}')
        client.force_login(staff_user)
        assert b"sub-7f10" in client.get(admin_url(type(delivery), "change", delivery.pk)).content


def test_the_replay_action_queues_the_chosen_deliveries(admin_client, monkeypatch, django_capture_on_commit_callbacks):
    enqueued: list[int] = []
    monkeypatch.setattr(tasks.delivery_process_task, "delay", enqueued.append)
    failed = InboundDeliveryFactory(status=DeliveryStatus.FAILED, attempts=5)
    untouched = InboundDeliveryFactory(status=DeliveryStatus.PROCESSED)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            admin_url(type(failed), "changelist"),
            {"action": "replay", "_selected_action": [failed.pk]},
            follow=True,
        )

    assert response.status_code == 200
    assert "1 deliveries queued" in response.content.decode()
    assert enqueued == [failed.pk]
    untouched.refresh_from_db()
    assert untouched.status == DeliveryStatus.PROCESSED


def test_a_view_only_user_cannot_replay(client, staff_user, monkeypatch):
    enqueued: list[int] = []
    monkeypatch.setattr(tasks.delivery_process_task, "delay", enqueued.append)
    failed = InboundDeliveryFactory(status=DeliveryStatus.FAILED)
    client.force_login(staff_user)
    client.post(admin_url(type(failed), "changelist"), {"action": "replay", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.FAILED
    assert enqueued == []
