"""The webhooks API: subscriptions (the secret shown once, at creation or rotation), their deliveries, Redeliver,
and permissions as for definitions (Integrations Admins change, Viewers read)."""

import pytest
from django.test import Client

from runs import clock
from runs.events import Event
from runs.services import cancel, start_run
from tests.api_helpers import codes
from tests.definitions_api import post_json, token_client
from tests.engine_helpers import make_action
from tests.servers import reply
from tests.webhook_helpers import subscribe, webhook_groups  # noqa: F401 (a fixture)
from webhooks.models import Delivery, DeliveryStatus, Subscription

pytestmark = pytest.mark.usefixtures("q_sync", "webhook_groups")


def test_creating_a_subscription_shows_its_secret_once(db, admin_api, admin_user):
    made = post_json(admin_api, "/api/webhooks/", {"name": "Ops", "url": "https://hooks.example.com/in",
                                                   "events": ["run.failed", "chain.finished"]})

    assert made.status_code == 201, made.json()
    body = made.json()
    subscription = Subscription.objects.get()
    assert body["secret"] == subscription.secret and body["secret"].startswith("whsec_")
    assert body["events"] == ["chain.finished", "run.failed"] and body["created_by"] == admin_user.username
    read = admin_api.get(f"/api/webhooks/{subscription.pk}/").json()
    listed = admin_api.get("/api/webhooks/").json()
    assert "secret" not in read and subscription.secret not in str(listed)
    assert read["url"] == "https://hooks.example.com/in"


def test_the_secret_is_stored_encrypted(db, admin_api):
    from django.db import connection

    subscription = subscribe("https://hooks.example.com/in")
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM webhooks_subscription WHERE id = %s", [subscription.pk])
        stored = cursor.fetchone()[0]
    assert stored.startswith("fernet:") and subscription.secret not in stored


def test_rotating_the_secret_shows_the_new_one_once(db, admin_api):
    subscription = subscribe("https://hooks.example.com/in")

    rotated = admin_api.post(f"/api/webhooks/{subscription.pk}/rotate-secret/")

    assert rotated.status_code == 200
    subscription.refresh_from_db()
    assert rotated.json()["secret"] == subscription.secret


@pytest.mark.parametrize("document, field", [
    ({"name": "x", "url": "ftp://example.com/", "events": ["run.failed"]}, "url"),
    ({"name": "x", "url": "https://example.com/", "events": ["run.exploded"]}, "events"),
    ({"name": "x", "url": "https://example.com/", "events": []}, "events"),
    ({"name": "x", "url": "https://example.com/", "events": ["run.failed"], "actions": [999]}, "actions"),
    ({"name": "x", "url": "https://example.com/", "events": ["run.failed"], "evnets": ["run.failed"]}, "evnets"),
])
def test_bad_subscriptions_are_refused_naming_the_field(db, admin_api, document, field):
    refused = post_json(admin_api, "/api/webhooks/", document)

    assert refused.status_code == 400 and field in codes(refused)
    assert not Subscription.objects.exists()


def test_deliveries_are_listed_by_subscription_and_status_and_redelivered(db, admin_api, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    action = make_action(server.base_url, cancelable=True)
    mine, other = subscribe(server.url("/a")), subscribe(server.url("/b"), ["run.failed"])
    run = start_run(action)
    cancel(run)
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.GIVEN_UP, attempts=7, next_attempt_at=None)

    listed = admin_api.get(f"/api/webhook-deliveries/?subscription={mine.pk}&status=given_up").json()
    assert [row["id"] for row in listed["results"]] == [delivery.pk]
    assert listed["results"][0]["event"] == "run.cancelled" and listed["results"][0]["run"] == run.pk
    assert admin_api.get(f"/api/webhook-deliveries/?subscription={other.pk}").json()["results"] == []

    again = admin_api.post(f"/api/webhook-deliveries/{delivery.pk}/redeliver/")

    assert again.status_code == 202
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at <= clock.now()
    assert again.json()["webhook_id"] == delivery.webhook_id


def test_viewers_read_but_change_nothing(db, viewer_user):
    viewer = token_client(viewer_user)
    subscription = subscribe("https://hooks.example.com/in")

    assert viewer.get("/api/webhooks/").status_code == 200
    assert viewer.get("/api/webhook-deliveries/").status_code == 200
    assert post_json(viewer, "/api/webhooks/", {"name": "x", "url": "https://e.com/", "events": ["run.failed"]}
                     ).status_code == 403
    assert viewer.post(f"/api/webhooks/{subscription.pk}/rotate-secret/").status_code == 403
    assert viewer.delete(f"/api/webhooks/{subscription.pk}/").status_code == 403
    assert Client().get("/api/webhooks/").status_code in (401, 403)


def test_the_schema_documents_the_webhooks_api(db, admin_api):
    schema = admin_api.get("/api/schema/?format=json").json()

    assert {"/api/webhooks/", "/api/webhooks/{id}/rotate-secret/", "/api/webhook-deliveries/",
            "/api/webhook-deliveries/{id}/redeliver/"} <= set(schema["paths"])
    created = schema["paths"]["/api/webhooks/"]["post"]["responses"]["201"]["content"]["application/json"]
    assert created["schema"]["$ref"].endswith("/NewSubscription")
    assert schema["components"]["schemas"]["WebhookEventEnum"]["enum"] == Event.values
    assert "DeliveryStatusEnum" in schema["components"]["schemas"]
