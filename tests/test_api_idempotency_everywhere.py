"""Idempotency-Key on every API operation that creates or changes something (integrations_site/idempotency.py):
a retry with the key gets the first answer back, marked Idempotent-Replayed, and changes nothing; the key with
another body or URL is a 422; keys are per user."""

import pytest
from django.contrib.auth.models import Group, User

from integrations.models import Action, Integration
from runs.models import IdempotencyKey, Run, Status
from runs.services import cancel, start_run
from tests.api_helpers import codes, token_client
from tests.definitions_api import action_document, post_json
from tests.engine_helpers import make_action
from tests.webhook_helpers import subscribe, webhook_groups  # noqa: F401 (a fixture)
from webhooks.models import Delivery, DeliveryStatus, Subscription

pytestmark = pytest.mark.usefixtures("q_sync", "webhook_groups")


def run_in(server, status, **fields):
    run = start_run(make_action(server.base_url, cancelable=True, **fields))
    Run.objects.filter(pk=run.pk).update(status=status)
    return run


def new_integration(server):
    return "/api/integrations/", {"name": "Acme", "slug": "acme-new", "base_url": "https://acme.example.com"}


def new_action(server):
    return "/api/actions/", action_document(Integration.objects.create(name="Acme", slug="acme2",
                                                                         base_url="https://acme.example.com"))


def archive(server):
    return f"/api/integrations/{Integration.objects.create(name='Acme', slug='acme3').pk}/archive/", None


def unarchive(server):
    integration = Integration.objects.create(name="Acme", slug="acme4", archived=True)
    return f"/api/integrations/{integration.pk}/unarchive/", None


def import_document(server):
    return "/api/integrations/import/", {"name": "Imported", "slug": "imported", "actions": []}


def start(server):
    return f"/api/actions/{make_action(server.base_url).pk}/runs/", {"variables": {}}


def refire(server):
    return f"/api/runs/{run_in(server, Status.FAILED).pk}/refire/", {}


def cancel_run(server):
    return f"/api/runs/{run_in(server, Status.POLLING).pk}/cancel/", None


def start_step(server):
    return f"/api/runs/{run_in(server, Status.WAITING_START).pk}/start/", None


def confirm(server):
    return f"/api/runs/{run_in(server, Status.WAITING_CONFIRMATION).pk}/confirm/", None


def reject(server):
    return f"/api/runs/{run_in(server, Status.WAITING_CONFIRMATION).pk}/reject/", {"reason": "wrong"}


def new_webhook(server):
    return "/api/webhooks/", {"name": "Ops", "url": "https://hooks.example.com/in", "events": ["run.failed"]}


def rotate(server):
    return f"/api/webhooks/{subscribe('https://hooks.example.com/in').pk}/rotate-secret/", None


def redeliver(server):
    subscribe(server.url("/hook"))
    cancel(start_run(make_action(server.base_url, cancelable=True)))
    Delivery.objects.update(status=DeliveryStatus.GIVEN_UP, next_attempt_at=None)
    return f"/api/webhook-deliveries/{Delivery.objects.get().pk}/redeliver/", None


def state():
    """What the operations create or change, to see that a replay changes none of it."""
    return (Integration.objects.count(), list(Integration.objects.values_list("archived", flat=True).order_by("pk")),
            Action.objects.count(), list(Run.objects.values_list("status", flat=True).order_by("pk")),
            Subscription.objects.count(), list(Subscription.objects.values_list("secret", flat=True).order_by("pk")),
            list(Delivery.objects.values_list("status", "attempts").order_by("pk")))


OPERATIONS = [new_integration, new_action, archive, unarchive, import_document, start, refire, cancel_run,
              start_step, confirm, reject, new_webhook, rotate, redeliver]


def post(client, url, body, key):
    return post_json(client, url, body, HTTP_IDEMPOTENCY_KEY=key) if body is not None else \
        client.post(url, HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.__name__)
def test_a_retry_with_the_key_gets_the_first_answer_marked_and_changes_nothing(db, admin_api, server, operation):
    url, body = operation(server)

    first = post(admin_api, url, body, "k-1")
    after_first = state()
    again = post(admin_api, url, body, "k-1")

    assert first.status_code < 300, first.json()
    assert again.status_code == first.status_code
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert state() == after_first
    assert IdempotencyKey.objects.count() == 1


def test_the_key_with_another_body_is_422_and_does_nothing(db, admin_api, server):
    url, body = new_integration(server)
    assert post(admin_api, url, body, "k-1").status_code == 201

    other = post(admin_api, url, {**body, "slug": "acme-other"}, "k-1")

    assert other.status_code == 422
    assert codes(other) == {None: ["idempotency_key_reused"]}
    assert not Integration.objects.filter(slug="acme-other").exists()


def test_the_key_at_another_url_is_422(db, admin_api, server):
    archived, _ = archive(server)
    assert post(admin_api, archived, None, "k-1").status_code == 200

    other = post(admin_api, archived.replace("/archive/", "/unarchive/"), None, "k-1")

    assert other.status_code == 422
    assert Integration.objects.get().archived


def test_keys_are_per_user(db, admin_api, server, groups):
    carol = User.objects.create_user("carol", password="carol-password-123")
    carol.groups.add(Group.objects.get(name="Integrations Admin"))
    url, body = new_webhook(server)

    mine, theirs = post(admin_api, url, body, "k-1"), post(token_client(carol), url, body, "k-1")

    assert mine.status_code == theirs.status_code == 201
    assert not theirs.has_header("Idempotent-Replayed")
    assert mine.json()["id"] != theirs.json()["id"] and Subscription.objects.count() == 2


def test_a_refused_request_keeps_no_key(db, admin_api, server):
    url, body = new_integration(server)

    refused = post(admin_api, url, {**body, "base_url": "not a url"}, "k-1")
    corrected = post(admin_api, url, body, "k-1")

    assert refused.status_code == 400 and corrected.status_code == 201
    assert not corrected.has_header("Idempotent-Replayed")
    assert Integration.objects.count() == 1


def test_a_secret_shown_once_is_kept_encrypted_for_the_replay(db, admin_api, server):
    url, body = new_webhook(server)

    first = post(admin_api, url, body, "k-1")
    again = post(admin_api, url, body, "k-1")

    secret = first.json()["secret"]
    assert again.json()["secret"] == secret
    assert secret not in str(IdempotencyKey.objects.values_list("response", flat=True).get())


def test_the_retry_without_the_trailing_slash_is_the_same_request(db, admin_api, server):
    url, body = new_integration(server)

    first = post(admin_api, url, body, "k-1")
    again = post(admin_api, url.rstrip("/"), body, "k-1")

    assert again.status_code == first.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and Integration.objects.count() == 1
