"""The staff view of Graph subscriptions: what is shown, what is never shown, and the actions."""

from datetime import UTC, datetime, timedelta

import pytest
import responses
from django.urls import reverse

from practitioners.models import GraphSubscription
from tests.practitioners.conftest import GRAPH
from tests.practitioners.factories import GraphSubscriptionFactory, PractitionerFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:practitioners_graphsubscription_changelist"


def test_the_list_shows_health_and_errors_but_never_the_client_state(admin_client):
    healthy = GraphSubscriptionFactory(practitioner=PractitionerFactory(display_name="Dr Dia"))
    failing = GraphSubscriptionFactory(
        practitioner=PractitionerFactory(display_name="Nurse"),
        renewal_failures=3,
        is_healthy=False,
        last_error="GraphServerError: PATCH /subscriptions/{id}: 500",
    )

    page = admin_client.get(reverse(CHANGELIST)).content.decode()

    assert "Dr Dia" in page
    assert "Nurse" in page
    assert "GraphServerError: PATCH /subscriptions/{id}: 500" in page
    assert "icon-no.svg" in page
    assert "icon-yes.svg" in page
    for subscription in (healthy, failing):
        assert subscription.client_state not in page


def test_the_change_page_never_shows_the_client_state(admin_client):
    subscription = GraphSubscriptionFactory()

    response = admin_client.get(reverse("admin:practitioners_graphsubscription_change", args=[subscription.pk]))

    assert response.status_code == 200
    assert subscription.graph_id in response.content.decode()
    assert subscription.client_state not in response.content.decode()


def test_the_list_filters_by_health(admin_client):
    GraphSubscriptionFactory(practitioner=PractitionerFactory(display_name="Healthy One"))
    GraphSubscriptionFactory(practitioner=PractitionerFactory(display_name="Sick One"), is_healthy=False)

    page = admin_client.get(reverse(CHANGELIST), {"is_healthy__exact": "0"}).content.decode()

    assert "Sick One" in page
    assert "Healthy One" not in page


def test_subscriptions_cannot_be_added_or_deleted_in_admin(admin_client):
    subscription = GraphSubscriptionFactory()
    assert admin_client.get(reverse("admin:practitioners_graphsubscription_add")).status_code == 403
    delete = reverse("admin:practitioners_graphsubscription_delete", args=[subscription.pk])
    assert admin_client.get(delete).status_code == 403


@responses.activate
def test_renew_now_renews_the_chosen_subscriptions(admin_client, configured):
    subscription = GraphSubscriptionFactory(renewal_failures=2, is_healthy=False)
    responses.patch(
        f"{GRAPH}/subscriptions/{subscription.graph_id}", json={"expirationDateTime": "2030-01-01T00:00:00Z"}
    )

    response = admin_client.post(
        reverse(CHANGELIST), {"action": "renew_now", "_selected_action": [subscription.pk]}, follow=True
    )

    assert "1 subscriptions renewed or recreated." in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.is_healthy
    assert subscription.expires_at == datetime(2030, 1, 1, tzinfo=UTC)


@responses.activate
def test_recreate_replaces_the_chosen_subscription(admin_client, configured):
    old = GraphSubscriptionFactory(expires_at=datetime.now(tz=UTC) + timedelta(days=1))
    responses.post(
        f"{GRAPH}/subscriptions", status=201, json={"id": "recreated-1", "expirationDateTime": "2030-01-01T00:00:00Z"}
    )
    responses.delete(f"{GRAPH}/subscriptions/{old.graph_id}", status=204)

    response = admin_client.post(reverse(CHANGELIST), {"action": "recreate", "_selected_action": [old.pk]}, follow=True)

    assert "1 subscriptions recreated." in response.content.decode()
    assert list(GraphSubscription.objects.values_list("graph_id", flat=True)) == ["recreated-1"]


def test_actions_say_so_when_graph_is_not_configured(admin_client, graph_settings):
    graph_settings.AZURE_CLIENT_SECRET = ""
    subscription = GraphSubscriptionFactory()

    response = admin_client.post(
        reverse(CHANGELIST), {"action": "renew_now", "_selected_action": [subscription.pk]}, follow=True
    )

    assert "Microsoft Graph is not configured: set AZURE_CLIENT_SECRET" in response.content.decode()


def test_a_view_only_user_sees_the_list_but_cannot_renew(client, staff_user, configured):
    subscription = GraphSubscriptionFactory()
    client.force_login(staff_user)

    assert client.get(reverse(CHANGELIST)).status_code == 200
    with responses.RequestsMock():  # any call to Graph would fail the test
        client.post(reverse(CHANGELIST), {"action": "renew_now", "_selected_action": [subscription.pk]})
