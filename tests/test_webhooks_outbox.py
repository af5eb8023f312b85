"""The outbox: a delivery row is written in the same transaction as the status change that causes it."""

import json

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from runs import batch
from runs.models import Run, Status
from runs.services import cancel, start_run
from tests.engine_helpers import drive, make_action, step
from tests.servers import reply
from tests.webhook_helpers import events_for, subscribe
from webhooks.models import Delivery

pytestmark = pytest.mark.usefixtures("q_sync")

STOP = [("status", "equals", "done", "success")]


class Boom(Exception):
    pass


def test_a_status_change_rolled_back_leaves_no_delivery(db, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    subscribe(server.url("/hook"))
    run = start_run(make_action(server.base_url, cancelable=True))

    with pytest.raises(Boom), transaction.atomic():
        cancel(run)
        assert events_for(run) == ["run.cancelled"]
        raise Boom

    assert Run.objects.get(pk=run.pk).status == Status.PENDING
    assert not Delivery.objects.exists()


def test_a_write_back_the_database_refuses_keeps_no_delivery_of_the_end_it_did_not_write(db, server, monkeypatch):
    server.script("/jobs", reply(json={"status": "done"}))
    subscribe(server.url("/hook"))
    run = start_run(make_action(server.base_url, polling_mode="poll", poll_interval=1, stop=STOP))

    def failing_go_on(pks):  # what the write-back does in its transaction once the runs have ended
        raise Boom

    monkeypatch.setattr("runs.services.go_on_many", failing_go_on)
    batch.write_back([_decided(run)])

    # The success was rolled back with its delivery; the run failed instead, and that is what is told.
    run.refresh_from_db()
    assert run.status == Status.FAILED and "could not be saved" in run.reason
    assert events_for(run) == ["run.failed"]


def _decided(run):
    """A decision that ends ``run`` in success, as the batch would write it back (leased under a token)."""
    from runs import due_work
    from runs.definitions import definition_for

    Run.objects.filter(pk=run.pk).update(lease_token="t" * 32, status=Status.POLLING)
    run.refresh_from_db()
    decision = due_work.move(due_work.unchanged(run), Status.SUCCEEDED, "Done.", run.created_at)
    return batch.Done(decision, "t" * 32, definition_for(run.action).redactor)


def test_a_run_that_ends_in_a_batch_gets_its_delivery_with_its_end(db, server):
    server.script("/jobs", reply(json={"status": "done"}))
    subscribe(server.url("/hook"))

    run = drive(start_run(make_action(server.base_url, polling_mode="poll", poll_interval=1, stop=STOP)))

    assert run.status == Status.SUCCEEDED
    assert events_for(run) == ["run.succeeded"]


def test_no_subscription_writes_no_row_and_costs_one_small_query_per_end(db, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    action = make_action(server.base_url, polling_mode="poll", poll_interval=1, stop=STOP, poll_max_attempts=3)
    run = step(start_run(action))

    with CaptureQueriesContext(connection) as polling:
        run = step(run)  # a poll that changes nothing: no query about webhooks at all
    assert run.status == Status.POLLING
    assert not [query for query in polling.captured_queries if "webhooks_" in query["sql"]]

    with CaptureQueriesContext(connection) as ending:
        run = step(run)
    assert run.status == Status.TIMED_OUT
    assert len([query for query in ending.captured_queries if "webhooks_" in query["sql"]]) == 1
    assert not Delivery.objects.exists()


def test_a_disabled_subscription_writes_no_row(db, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    subscribe(server.url("/hook"), enabled=False)

    cancel(start_run(make_action(server.base_url, cancelable=True)))

    assert not Delivery.objects.exists()


def test_a_callback_that_ends_a_run_writes_its_delivery_once(db, server, client):
    server.script("/jobs", reply(202, json={"accepted": True}))
    subscribe(server.url("/hook"))
    action = make_action(server.base_url, polling_mode="callback", poll_timeout=3600,
                         stop=[("state", "equals", "error", "failure")])
    run = step(start_run(action))
    assert run.status == Status.WAITING_CALLBACK

    for body in ({"state": "running"}, {"state": "error"}):
        client.post(f"/api/callbacks/{run.callback_token}/", json.dumps(body), content_type="application/json")
    client.post(f"/api/callbacks/{run.callback_token}/", json.dumps({"state": "error"}),
                content_type="application/json")  # the run has ended: refused, nothing more told

    assert Run.objects.get(pk=run.pk).status == Status.FAILED
    assert events_for(run) == ["run.failed"]
