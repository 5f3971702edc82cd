"""Change and lifecycle notifications POSTed to the subscriber, shaped like the recordings."""

import pytest
import requests

from practitioners.fake_graph import GraphError
from tests.fake_graph.conftest import DIA, NURSE, fixture, paid_booking

RECORDED_CHANGE = fixture("graph-notification-created.json")["value"][0]
RECORDED_LIFECYCLE = fixture("graph-lifecycle-reauthorization.json")["value"][0]


def test_a_created_event_is_notified_shaped_like_the_recording(fake, subscribe, receiver):
    subscription = subscribe()

    event = fake.create_event(DIA["id"], paid_booking())
    [delivery] = receiver.wait_for(1)

    assert delivery["path"] == "/notify"
    assert delivery["content_type"].startswith("application/json")
    [notification] = delivery["body"]["value"]
    assert set(notification) == set(RECORDED_CHANGE)
    assert set(notification["resourceData"]) == set(RECORDED_CHANGE["resourceData"])
    assert notification["subscriptionId"] == subscription["id"]
    assert notification["subscriptionExpirationDateTime"] == subscription["expirationDateTime"]
    assert notification["changeType"] == "created"
    assert notification["resource"] == f"Users/{DIA['id']}/Events/{event['id']}"
    assert notification["resourceData"] == {
        "@odata.type": "#Microsoft.Graph.Event",
        "@odata.id": f"Users/{DIA['id']}/Events/{event['id']}",
        "@odata.etag": event["@odata.etag"],
        "id": event["id"],
    }
    assert notification["clientState"] == "secretClientValue-dr-dia"
    assert notification["tenantId"] == fake.tenant_id == RECORDED_CHANGE["tenantId"]


def test_the_resource_names_the_mailbox_by_id_when_subscribed_by_principal_name(fake, subscribe, receiver):
    subscribe(resource=f"users/{DIA['principal_name']}/events")

    event = fake.create_event(DIA["id"], paid_booking())

    assert receiver.wait_for(1)[0]["body"]["value"][0]["resource"] == f"Users/{DIA['id']}/Events/{event['id']}"


def test_updates_and_deletes_are_notified_in_order_with_each_etag(fake, subscribe, receiver):
    subscribe()
    event = fake.create_event(DIA["id"], paid_booking())
    updated = fake.update_event(DIA["id"], event["id"], {"isCancelled": True})
    fake.delete_event(DIA["id"], event["id"])

    deliveries = receiver.wait_for(3)

    notifications = [d["body"]["value"][0] for d in deliveries]
    assert [n["changeType"] for n in notifications] == ["created", "updated", "deleted"]
    assert notifications[1]["resourceData"]["@odata.etag"] == updated["@odata.etag"]
    assert notifications[0]["resourceData"]["@odata.etag"] != updated["@odata.etag"]
    recorded = fake.wait_for_notifications(3)
    assert [(d.kind, d.status, d.ok) for d in recorded] == [("change", 202, True)] * 3
    assert all(d.duration_ms >= 0 for d in recorded)


def test_duplicate_updates_come_twice_in_one_post_when_enabled(fake, subscribe, receiver):
    fake.set_options(duplicate_updates=True)
    subscribe()
    event = fake.create_event(DIA["id"], paid_booking())
    fake.update_event(DIA["id"], event["id"], {"subject": "Moved"})

    created, updated = receiver.wait_for(2)

    assert len(created["body"]["value"]) == 1
    first, second = updated["body"]["value"]
    assert first == second
    assert first["changeType"] == "updated"


def test_only_subscriptions_that_see_the_change_are_notified(fake, subscribe, receiver):
    subscribe(resource=f"users/{NURSE['id']}/events", clientState="nurse")
    subscribe(changeType="deleted", clientState="deletions")
    subscribe(clientState="everything")

    event = fake.create_event(DIA["id"], paid_booking())
    fake.delete_event(DIA["id"], event["id"])
    created, deleted = receiver.wait_for(2)

    assert [n["clientState"] for n in created["body"]["value"]] == ["everything"]
    assert sorted(n["clientState"] for n in deleted["body"]["value"]) == ["deletions", "everything"]


def test_events_of_a_second_calendar_notify_only_its_subscriptions(fake, subscribe, receiver):
    calendar_id = fake.add_calendar(DIA["id"])
    subscribe(clientState="default calendar")
    subscribe(resource=f"users/{DIA['id']}/calendars/{calendar_id}/events", clientState="second calendar")

    fake.create_event(DIA["id"], paid_booking() | {"calendarId": calendar_id})
    [delivery] = receiver.wait_for(1)

    assert [n["clientState"] for n in delivery["body"]["value"]] == ["second calendar"]


def test_a_failed_delivery_is_recorded_with_its_status(fake, subscribe, receiver):
    subscribe()
    receiver.status = 500

    fake.create_event(DIA["id"], paid_booking())
    [delivery] = fake.wait_for_notifications(1)

    assert delivery.status == 500
    assert not delivery.ok


def test_notifications_are_listed_by_the_control_api(fake, subscribe, receiver):
    subscribe()
    fake.create_event(DIA["id"], paid_booking())
    fake.wait_for_notifications(1)

    listed = requests.get(f"{fake.control_url}/_fake/notifications", timeout=5).json()["value"]

    assert [(d["kind"], d["status"], d["url"]) for d in listed] == [("change", 202, receiver.url("/notify"))]
    assert listed[0]["payload"]["value"][0]["changeType"] == "created"


@pytest.mark.parametrize("lifecycle_event", ["reauthorizationRequired", "missed"])
def test_lifecycle_notifications_are_shaped_like_the_recording(fake, subscribe, receiver, lifecycle_event):
    subscription = subscribe()

    delivery = fake.send_lifecycle(subscription["id"], lifecycle_event)
    [received] = receiver.wait_for(1)

    assert delivery.status == 202
    assert delivery.kind == "lifecycle"
    assert received["path"] == "/lifecycle"
    [notification] = received["body"]["value"]
    assert set(notification) == set(RECORDED_LIFECYCLE)
    assert notification == {
        "subscriptionId": subscription["id"],
        "subscriptionExpirationDateTime": subscription["expirationDateTime"],
        "tenantId": fake.tenant_id,
        "clientState": "secretClientValue-dr-dia",
        "lifecycleEvent": lifecycle_event,
    }
    assert [s["id"] for s in fake.subscriptions()] == [subscription["id"]]


def test_subscription_removed_also_deletes_the_subscription(fake, subscribe, receiver, graph):
    subscription = subscribe()

    fake.send_lifecycle(subscription["id"], "subscriptionRemoved")
    fake.create_event(DIA["id"], paid_booking())

    assert receiver.wait_for(1)[0]["body"]["value"][0]["lifecycleEvent"] == "subscriptionRemoved"
    assert graph.get(f"/subscriptions/{subscription['id']}").status_code == 404
    assert fake.subscriptions() == []


def test_lifecycle_through_the_control_api(fake, subscribe, receiver):
    subscription = subscribe()

    response = requests.post(
        f"{fake.control_url}/_fake/subscriptions/{subscription['id']}/lifecycle",
        json={"lifecycleEvent": "missed"},
        timeout=5,
    )

    assert response.status_code == 200
    assert response.json()["payload"]["value"][0]["lifecycleEvent"] == "missed"


def test_lifecycle_needs_a_known_subscription_event_and_url(fake, subscribe):
    without_url = subscribe(lifecycleNotificationUrl=None)

    with pytest.raises(GraphError) as unknown:
        fake.send_lifecycle("7f105c7d-2dc5-4530-97cd-4e7ae6534c07", "missed")
    with pytest.raises(GraphError) as bad_event:
        fake.send_lifecycle(without_url["id"], "deleted")
    with pytest.raises(GraphError) as no_url:
        fake.send_lifecycle(without_url["id"], "missed")

    assert (unknown.value.status, bad_event.value.status, no_url.value.status) == (404, 400, 400)
