import socket

import pytest

from runs.services import start_run
from runs.models import Status
from tests.engine_helpers import drive, make_action, step
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

STOP = [("status", "equals", "done", "success")]
QUEUED = reply(json={"status": "queued"})
DONE = reply(json={"status": "done"})


def polling_action(server, **fields):
    fields.setdefault("poll_interval", 1)
    return make_action(server.base_url, polling_mode="poll", poll_url="/jobs/1", stop=STOP, **fields)


def gap(run):
    return (run.next_poll_at - run.exchanges.order_by("id").last().last_at).total_seconds()


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_flaky_5xx_is_retried_and_the_error_count_resets_on_the_next_good_answer(db, server):
    server.script("/jobs", QUEUED)
    server.script("/jobs/1", [reply(503, text="busy"), reply(502, text="bad gateway"), QUEUED, DONE])
    action = polling_action(server, max_consecutive_errors=3)
    run = step(start_run(action))

    run = step(step(run))
    assert run.status == Status.POLLING
    assert run.consecutive_errors == 2
    assert "Error 2 of 3 in a row" in run.exchanges.last().decision

    run = step(run)
    assert run.consecutive_errors == 0
    run = drive(run)
    assert run.status == Status.SUCCEEDED, run.reason
    assert run.polls == 4


def test_too_many_consecutive_errors_fail_the_run_with_the_count_in_the_reason(db, server):
    server.script("/jobs", QUEUED)
    server.script("/jobs/1", reply(500, text="oops"))
    action = polling_action(server, max_consecutive_errors=3)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert run.reason.startswith("3 errors in a row while polling")
    assert "500" in run.reason
    assert len(server.requests_to("/jobs/1")) == 3


def test_a_429_with_retry_after_delays_the_next_poll_at_least_that_long(db, server):
    server.script("/jobs", QUEUED)
    server.script("/jobs/1", reply(429, text="slow down", headers={"Retry-After": "30"}))
    action = polling_action(server)

    run = step(step(start_run(action)))

    assert run.status == Status.POLLING
    assert run.consecutive_errors == 1
    assert gap(run) >= 30


def test_a_404_keeps_polling_when_other_statuses_are_not_errors(db, server):
    server.script("/jobs", QUEUED)
    server.script("/jobs/1", [reply(404, json={"detail": "not yet"})] * 5 + [DONE])
    action = polling_action(server, on_other_status="keep_polling", max_consecutive_errors=2)

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason
    assert run.polls == 6
    assert "polling goes on" in run.exchanges.filter(status_code=404).first().decision


def test_a_404_fails_at_once_by_default(db, server):
    server.script("/jobs", QUEUED)
    server.script("/jobs/1", reply(404, json={"detail": "gone"}))
    action = polling_action(server)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert run.reason == "Poll 1: The service answered 404, which is not an accepted status (2xx)."


def test_a_5xx_fails_the_run_at_once_when_the_policy_says_fail(db, server):
    server.script("/jobs", QUEUED)
    server.script("/jobs/1", reply(503, text="down"))
    action = polling_action(server, on_server_error="fail", max_consecutive_errors=5)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "503" in run.reason
    assert run.polls == 1
    assert run.exchanges.last().failed_part == "response"


def test_a_refused_connection_while_polling_is_retried_then_fails(db, server):
    server.script("/jobs", QUEUED)
    action = polling_action(server, max_consecutive_errors=2, connect_timeout=1)
    action.poll_url = f"http://127.0.0.1:{closed_port()}/jobs/1"
    action.save()

    run = step(step(start_run(action)))
    assert run.status == Status.POLLING
    assert run.consecutive_errors == 1
    assert "Connection failed" in run.exchanges.last().error

    run = drive(run)
    assert run.status == Status.FAILED
    assert run.reason.startswith("2 errors in a row while polling; the last: Connection failed")


def test_exponential_backoff_doubles_the_gap_up_to_the_cap(db, server):
    server.script("/jobs", QUEUED)
    server.script("/jobs/1", [reply(json={"status": "queued", "n": n}) for n in range(10)])
    action = polling_action(server, poll_interval=2, poll_backoff="exponential", poll_backoff_max=10)
    run = step(start_run(action))

    gaps = []
    for _ in range(5):
        run = step(run)
        gaps.append(round(gap(run)))

    assert gaps == [2, 4, 8, 10, 10]
