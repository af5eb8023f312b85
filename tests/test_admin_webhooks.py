"""Webhooks in the admin: a subscription shows its secret once, on the page that answers its creation; its
deliveries are listed with status, attempts and last answer, and can be redelivered."""

import pytest

from runs.services import cancel, start_run
from tests.engine_helpers import make_action
from tests.servers import reply
from tests.webhook_helpers import subscribe, webhook_groups  # noqa: F401 (a fixture)
from webhooks.models import Delivery, DeliveryStatus, Subscription

pytestmark = pytest.mark.usefixtures("q_sync", "webhook_groups")


def test_adding_a_subscription_shows_its_secret_once(db, client, admin_user):
    client.force_login(admin_user)

    added = client.post("/admin/webhooks/subscription/add/", {
        "name": "Ops", "url": "https://hooks.example.com/in", "events": ["run.failed", "run.succeeded"],
        "enabled": "on",
    })

    assert added.status_code == 200, added.content[:2000]
    subscription = Subscription.objects.get()
    assert subscription.events == ["run.failed", "run.succeeded"] and subscription.created_by == admin_user
    assert subscription.secret in added.content.decode() and "no-store" in added["Cache-Control"]
    for page in ("/admin/webhooks/subscription/", f"/admin/webhooks/subscription/{subscription.pk}/change/"):
        shown = client.get(page)
        assert shown.status_code == 200 and subscription.secret not in shown.content.decode()


def test_a_bad_url_or_no_event_is_refused_with_the_form(db, client, admin_user):
    client.force_login(admin_user)

    refused = client.post("/admin/webhooks/subscription/add/", {"name": "Ops", "url": "ftp://x.example/",
                                                                  "events": []})

    assert refused.status_code == 200 and not Subscription.objects.exists()
    assert "errornote" in refused.content.decode()


def test_rotating_shows_the_new_secret(db, client, admin_user):
    client.force_login(admin_user)
    subscription = subscribe("https://hooks.example.com/in")
    old = subscription.secret

    rotated = client.post("/admin/webhooks/subscription/", {"action": "rotate_secret",
                                                            "_selected_action": [subscription.pk]})

    subscription.refresh_from_db()
    assert subscription.secret != old and subscription.secret in rotated.content.decode()


def test_deliveries_show_their_answer_and_are_redelivered(db, client, admin_user, server):
    client.force_login(admin_user)
    server.script("/jobs", reply(json={"status": "queued"}))
    subscription = subscribe(server.url("/hook"))
    cancel(start_run(make_action(server.base_url, cancelable=True)))
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.GIVEN_UP, attempts=9, last_status_code=503,
                                                   last_answer="<b>down</b>", next_attempt_at=None)

    listed = client.get(f"/admin/webhooks/delivery/?subscription__id__exact={subscription.pk}").content.decode()
    assert "run.cancelled" in listed and "Given up" in listed and "&lt;b&gt;down&lt;/b&gt;" in listed
    assert "<b>down</b>" not in listed
    assert client.get(f"/admin/webhooks/delivery/{delivery.pk}/change/").status_code == 200

    client.post("/admin/webhooks/delivery/", {"action": "redeliver_selected", "_selected_action": [delivery.pk]})

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None


def test_viewers_see_deliveries_but_cannot_redeliver_or_add(db, client, viewer_user):
    client.force_login(viewer_user)

    assert client.get("/admin/webhooks/delivery/").status_code == 200
    assert client.get("/admin/webhooks/subscription/add/").status_code == 403
    assert "redeliver_selected" not in client.get("/admin/webhooks/delivery/").content.decode()
