"""A real cluster killed with SIGKILL while it delivers webhooks: once started again, every event reaches the
receiver at least once, and a receiver that dedups by webhook-id sees each exactly once, signatures verified."""

import os
import signal
import threading
import time

import pytest

from runs.events import Event
from runs.services import cancel, start_run
from tests.cluster import Workers
from tests.engine_helpers import make_action
from tests.servers import ScriptedServer, reply
from tests.webhook_helpers import subscribe, verified
from webhooks.models import Delivery, DeliveryStatus

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


class DedupingReceiver(ScriptedServer):
    """Answers 200 after ``delay`` seconds the first time, at once afterwards; keeps each webhook-id's payload."""

    def __init__(self, secret_of):
        super().__init__()
        self.secret_of = secret_of
        self.seen = {}
        self.first = threading.Event()
        self.script("/hook", self.answer)

    def answer(self, request):
        self.seen.setdefault(request.headers["webhook-id"], verified(request, self.secret_of()))
        slow = not self.first.is_set()
        self.first.set()
        return reply(200, delay=3.0 if slow else 0.0)


def test_every_event_is_received_exactly_once_per_webhook_id_across_a_kill(server):
    server.script("/jobs", reply(200, json={"ok": True}))
    holder = {}
    with DedupingReceiver(lambda: holder["secret"]) as receiver:
        holder["secret"] = subscribe(receiver.url("/hook")).secret
        action = make_action(server.base_url, cancelable=True)
        runs = [start_run(action) for _ in range(3)]
        cancelled = start_run(make_action(server.base_url, cancelable=True, fixed_start_time="2099-01-01T00:00Z"))
        cancel(cancelled)
        workers = Workers().start()
        try:
            assert receiver.first.wait(timeout=60), "no webhook arrived"
            workers.kill()  # while the first delivery's answer is still coming
            workers = workers.again()
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and (
                    Delivery.objects.count() < 4 or Delivery.objects.exclude(status=DeliveryStatus.DELIVERED).exists()):
                time.sleep(0.2)  # the database has no event to wait on; this only paces the reads
        finally:
            workers.stop()

    deliveries = list(Delivery.objects.order_by("id"))
    assert [delivery.status for delivery in deliveries] == [DeliveryStatus.DELIVERED] * 4
    assert set(receiver.seen) == {delivery.webhook_id for delivery in deliveries}
    got = sorted((payload["data"]["id"], payload["type"]) for payload in receiver.seen.values())
    assert got == sorted([(run.pk, Event.RUN_SUCCEEDED.value) for run in runs]
                         + [(cancelled.pk, Event.RUN_CANCELLED.value)])
    # At least once: the delivery the kill interrupted came again, under the same webhook-id.
    assert len(receiver.requests_to("/hook")) > len(deliveries)


def test_a_receiver_that_hangs_does_not_hold_the_cluster_s_stop_past_its_grace(server):
    server.script("/jobs", reply(200, json={"ok": True}))
    with ScriptedServer() as receiver:
        receiver.script("/hook", reply(200, delay=30))
        subscribe(receiver.url("/hook"))
        start_run(make_action(server.base_url))
        workers = Workers(INTEGRATIONS_STOP_GRACE=2).start()
        try:
            receiver.wait_for(1, path="/hook", timeout=60)
            started = time.monotonic()
            os.killpg(workers.process.pid, signal.SIGTERM)
            workers.process.wait(timeout=20)
            stopped_in = time.monotonic() - started
        finally:
            workers.stop()

    assert stopped_in < 2 + 3, f"stopped in {stopped_in:.1f} s"
    assert Delivery.objects.get().status == DeliveryStatus.PENDING  # sent again by the next cluster
