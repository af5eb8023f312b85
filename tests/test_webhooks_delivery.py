"""Webhooks when runs end: every event is delivered once, signed as Standard Webhooks says, in order per run,
retried with backoff under the same webhook-id, given up after the limit, and through the outbound guard."""

import logging
from datetime import timedelta

import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from runs import clock
from runs.models import Status
from runs.services import cancel, confirm, start, start_run
from tests.engine_helpers import drive, make_action
from tests.servers import ScriptedServer, reply
from tests.webhook_helpers import deliver_all, events_for, subscribe, verified
from webhooks.delivery import backoff, deliver_due, redeliver
from webhooks.models import Delivery, DeliveryStatus

pytestmark = pytest.mark.usefixtures("q_sync")

STOP = [("status", "equals", "done", "success"), ("status", "equals", "broken", "failure")]


@pytest.fixture
def receiver():
    with ScriptedServer() as running:
        running.script("/hook", reply(204))
        yield running


def polling_action(server, **fields):
    return make_action(server.base_url, polling_mode="poll", poll_interval=1, stop=STOP, **fields)


def received(receiver, secret):
    return [verified(request, secret) for request in receiver.requests_to("/hook")]


def test_every_run_event_is_delivered_once_signed_and_without_secrets(db, server, receiver):
    server.script("/jobs", reply(json={"status": "done", "token": "s3cret-value"}))
    subscription = subscribe(receiver.url("/hook"))
    action = polling_action(server, mappings=[("token", "token")])
    action.integration.secrets.create(name="api_key", value="s3cret-value")

    run = drive(start_run(action))
    assert run.status == Status.SUCCEEDED
    assert deliver_all() == 1
    assert deliver_all() == 0  # delivered: never again

    [payload] = received(receiver, subscription.secret)
    assert payload["type"] == "run.succeeded"
    assert payload["data"]["id"] == run.pk and payload["data"]["status"] == "succeeded"
    assert payload["data"]["url"].endswith(f"/api/runs/{run.pk}/")
    assert payload["data"]["callback_url"] is None
    request = receiver.requests_to("/hook")[0]
    assert b"s3cret-value" not in request.body and subscription.secret.encode() not in request.body
    delivery = Delivery.objects.get()
    assert request.headers["webhook-id"] == delivery.webhook_id and delivery.webhook_id.startswith("msg_")
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 1, 204)


def test_a_forged_signature_does_not_verify(db, server, receiver):
    server.script("/jobs", reply(json={"status": "done"}))
    subscribe(receiver.url("/hook"))
    drive(start_run(polling_action(server)))
    deliver_all()

    with pytest.raises(WebhookVerificationError):
        verified(receiver.requests_to("/hook")[0], subscribe(receiver.url("/other")).secret)


@pytest.mark.parametrize("answer, status, event", [
    ({"status": "broken"}, Status.FAILED, "run.failed"),
    ({"status": "queued"}, Status.TIMED_OUT, "run.timed_out"),
])
def test_a_run_that_fails_or_times_out_says_so(db, server, receiver, answer, status, event):
    server.script("/jobs", reply(json=answer))
    subscription = subscribe(receiver.url("/hook"))

    run = drive(start_run(polling_action(server, poll_max_attempts=2)))

    assert run.status == status
    deliver_all()
    assert [payload["type"] for payload in received(receiver, subscription.secret)] == [event]


def test_a_cancelled_run_says_so(db, server, receiver):
    server.script("/jobs", reply(json={"status": "queued"}))
    subscription = subscribe(receiver.url("/hook"))
    run = start_run(polling_action(server, cancelable=True))

    cancel(run)

    deliver_all()
    assert [payload["type"] for payload in received(receiver, subscription.secret)] == ["run.cancelled"]


def test_a_chain_tells_of_each_wait_and_of_its_end_in_order(db, server, receiver):
    server.script("/orders", reply(201, json={"id": "o-7"}))
    server.script("/orders/o-7/pay", reply(200, json={"paid": True}))
    first = make_action(server.base_url, name="Create", url="/orders", mappings=[("the_id", "id")],
                        finish_on_success=False)
    second = make_action(server.base_url, integration=first.integration, name="Pay", url="/orders/{{ the_id }}/pay",
                         after=first, auto_start=False)
    subscription = subscribe(receiver.url("/hook"))

    one = drive(start_run(first))
    assert one.status == Status.WAITING_CONFIRMATION
    confirm(one)
    two = one.next_runs.get()
    assert two.status == Status.WAITING_START
    two = drive(start(two))
    assert two.status == Status.SUCCEEDED

    deliver_all()
    got = [(payload["data"]["id"], payload["type"]) for payload in received(receiver, subscription.secret)]
    # In order per run (the runs' deliveries go side by side).
    assert [event for pk, event in got if pk == one.pk] == ["run.waiting_confirmation", "run.succeeded"]
    assert [event for pk, event in got if pk == two.pk] == ["run.waiting_start", "run.succeeded", "chain.finished"]
    assert len({request.headers["webhook-id"] for request in receiver.requests_to("/hook")}) == 5


def test_a_subscription_hears_only_its_events_and_its_actions(db, server, receiver):
    server.script("/jobs", reply(json={"status": "done"}))
    mine, other = polling_action(server), polling_action(server)
    subscribe(receiver.url("/hook"), ["run.failed"])
    subscribe(receiver.url("/hook"), ["run.succeeded"], actions=[mine])
    subscribe(receiver.url("/hook"), enabled=False)

    drive(start_run(mine))
    drive(start_run(other))

    assert list(Delivery.objects.values_list("event", "run__action")) == [("run.succeeded", mine.pk)]


def test_a_receiver_that_fails_gets_the_same_webhook_id_again_after_a_growing_wait(db, server, receiver, settings):
    settings.INTEGRATIONS_WEBHOOK_FIRST_RETRY = 5
    server.script("/jobs", reply(json={"status": "done"}))
    receiver.script("/hook", [reply(503, text="down"), reply(500, text="still down"), reply(200)])
    subscription = subscribe(receiver.url("/hook"))
    drive(start_run(polling_action(server)))

    before = clock.now()
    assert deliver_due() == 1
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.FAILED, 1, 503)
    assert delivery.last_answer == "down"
    assert timedelta(seconds=4) < delivery.next_attempt_at - before < timedelta(seconds=6)
    assert deliver_due() == 0  # not due yet

    for expected_wait in (10, 20):
        Delivery.objects.update(next_attempt_at=clock.now())
        deliver_due()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)
    ids = {request.headers["webhook-id"] for request in receiver.requests_to("/hook")}
    assert ids == {delivery.webhook_id}
    bodies = {request.body for request in receiver.requests_to("/hook")}
    assert len(bodies) == 1 and all(received(receiver, subscription.secret))
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [5, 10, 20]
    assert backoff(40) == timedelta(hours=2)


def test_a_run_s_later_event_waits_for_its_earlier_one(db, server, receiver):
    server.script("/jobs", reply(json={"status": "done"}))
    receiver.script("/hook", [reply(500), reply(200)])
    subscription = subscribe(receiver.url("/hook"))
    run = drive(start_run(polling_action(server, finish_on_success=False)))
    confirm(run)
    assert events_for(run) == ["run.waiting_confirmation", "run.succeeded"]

    deliver_due()
    assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 1  # held back behind the failed one
    Delivery.objects.update(next_attempt_at=clock.now())
    deliver_all()

    types = [payload["type"] for payload in received(receiver, subscription.secret)]
    assert types == ["run.waiting_confirmation", "run.waiting_confirmation", "run.succeeded"]


def test_a_delivery_is_given_up_after_the_limit_and_can_be_redelivered(db, server, receiver, settings, caplog):
    settings.INTEGRATIONS_WEBHOOK_GIVE_UP_HOURS = 1
    server.script("/jobs", reply(json={"status": "done"}))
    receiver.script("/hook", reply(500, text="no"))
    subscribe(receiver.url("/hook"))
    drive(start_run(polling_action(server)))

    caplog.set_level(logging.WARNING)
    deliver_due()
    for hours in (0.5, 1.5):  # the retry never waits past the limit; the attempt at the limit is the last
        Delivery.objects.update(created_at=clock.now() - timedelta(hours=hours), next_attempt_at=clock.now())
        deliver_due()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (DeliveryStatus.GIVEN_UP, 3, None)
    assert deliver_due() == 0
    down = [record for record in caplog.records if "Webhooks to Receiver" in record.getMessage()]
    assert len(down) == 1  # a receiver that stays down is logged once, not per attempt

    receiver.script("/hook", reply(200))
    redeliver(delivery)
    assert deliver_all() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 4)
    assert len({request.headers["webhook-id"] for request in receiver.requests_to("/hook")}) == 1


def test_the_outbound_guard_refuses_a_blocked_receiver(db, server):
    server.script("/jobs", reply(json={"status": "done"}))
    subscribe("http://169.254.169.254/latest/meta-data/")
    drive(start_run(polling_action(server)))

    deliver_due()

    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.last_status_code is None
    assert "169.254.169.254" in delivery.last_error or "not allowed" in delivery.last_error.lower()


def test_deliveries_to_a_slow_receiver_are_sent_side_by_side(db, server, receiver):
    server.script("/jobs", reply(json={"status": "done"}))
    receiver.script("/hook", reply(200, delay=1.0))
    subscribe(receiver.url("/hook"))
    action = polling_action(server)
    for _ in range(3):
        drive(start_run(action))

    assert deliver_due(threads=3) == 3

    arrivals = sorted(request.at for request in receiver.requests_to("/hook"))
    assert arrivals[-1] - arrivals[0] < 0.8  # none waited for another's answer
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}


def test_a_410_gone_disables_the_subscription_and_gives_up_its_unsent_deliveries(db, server, admin_user):
    from rest_framework.test import APIClient

    server.script("/jobs", reply(json={"status": "done"}))
    with ScriptedServer() as gone:
        gone.script("/hook", reply(410, json={"error": "gone"}))
        subscription = subscribe(gone.url("/hook"))
        first, second = drive(start_run(polling_action(server))), drive(start_run(polling_action(server)))
        later = Delivery.objects.get(run=second)
        Delivery.objects.filter(pk=later.pk).update(next_attempt_at=clock.now() + timedelta(hours=1))

        assert deliver_all() == 1
        drive(start_run(polling_action(server)))  # ends after the 410: nothing more for this subscription
        assert deliver_all() == 0

        assert len(gone.requests_to("/hook")) == 1
    subscription.refresh_from_db()
    assert subscription.enabled is False
    deliveries = {delivery.run_id: delivery for delivery in Delivery.objects.all()}
    assert set(deliveries) == {first.pk, second.pk}
    assert {delivery.status for delivery in deliveries.values()} == {DeliveryStatus.GIVEN_UP}
    assert deliveries[first.pk].last_status_code == 410 and "410 Gone" in deliveries[first.pk].last_error
    assert "410 Gone" in deliveries[second.pk].last_error and deliveries[second.pk].next_attempt_at is None
    api = APIClient()
    api.force_authenticate(admin_user)
    assert api.get(f"/api/webhooks/{subscription.pk}/").json()["enabled"] is False
