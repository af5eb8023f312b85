"""The run's timing and its Actions log say what happened: real durations, attempt ranges on collapsed
rows, and polls spaced by the interval from when each answer arrived."""

import socket

import pytest
from django.utils import timezone

from runs.models import ExchangeKind, Run, Status
from runs.services import start_run
from tests.engine_helpers import drive, make_action, step
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

STOP = [("status", "equals", "done", "success")]


def test_a_run_that_took_seconds_says_so(db, server):
    server.script("/jobs", reply(json={"status": "done"}, delay=0.6))
    action = make_action(server.base_url, stop=STOP)

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED
    assert (run.finished_at - run.started_at).total_seconds() >= 0.6
    assert run.exchanges.get().duration_ms >= 600


def test_an_exchange_that_failed_has_its_duration(db, server):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()  # accepts the connection, never answers
        action = make_action(f"http://127.0.0.1:{sock.getsockname()[1]}", read_timeout=0.3)
        run = drive(start_run(action))

    exchange = run.exchanges.get()
    assert "read timeout" in exchange.error
    assert exchange.duration_ms >= 300


def test_a_collapsed_row_shows_its_attempt_range_and_a_different_decision_gets_its_own_row(db, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    server.script("/jobs/1", [reply(json={"status": "running"})] * 3 + [reply(500, text="oops")] * 2)
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/1", poll_interval=1,
                         max_consecutive_errors=2, stop=STOP)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert run.reason.startswith("2 errors in a row while polling")
    rows = [(e.attempt, e.last_attempt, e.repeat_count, e.status_code) for e in run.exchanges.filter(kind="poll")]
    assert rows == [(2, 4, 3, 200), (5, None, 1, 500), (6, None, 1, 500)]
    last = run.exchanges.filter(kind=ExchangeKind.POLL).last()
    assert "Error limit reached" in last.decision


def test_the_next_poll_counts_from_when_the_answer_arrived_not_from_the_start_of_the_batch(db, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    server.script("/jobs/1", reply(json={"status": "queued"}, delay=0.8))
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/1", poll_interval=1, stop=STOP)
    run = step(start_run(action))

    run = step(run)

    poll = run.exchanges.get(kind=ExchangeKind.POLL)
    arrived = poll.created_at
    assert (arrived - run.started_at).total_seconds() >= 0.8
    assert abs((run.next_poll_at - arrived).total_seconds() - 1) < 0.05


def test_started_at_is_when_the_first_request_went_out_not_when_the_run_was_created(db, server):
    server.script("/jobs", reply(json={"status": "done"}))
    action = make_action(server.base_url, stop=STOP)
    run = start_run(action)
    Run.objects.filter(pk=run.pk).update(created_at=timezone.now() - timezone.timedelta(minutes=5))

    run = drive(run)

    assert (run.started_at - run.created_at).total_seconds() > 250
