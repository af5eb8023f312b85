"""A real cluster, killed with SIGKILL in the middle of a poll, and started again."""

import time

import pytest

from runs.services import start_run
from runs.models import Run, Status
from tests.cluster import Workers
from tests.engine_helpers import make_action
from tests.servers import reply

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def wait_until_finished(run, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.is_finished:
            return run
        time.sleep(0.1)  # the database has no event to wait on; this only paces the reads
    raise AssertionError(f"Run still {run.status} after {timeout} s: {run.reason}")


def test_a_run_survives_its_worker_being_killed_and_no_attempt_is_sent_twice(server):
    polls = [reply(json={"status": "pending"}), reply(json={"status": "pending"}),
             # The third poll is still being answered when the cluster is killed.
             reply(json={"status": "pending"}, delay=1.5),
             reply(json={"status": "pending"}), reply(json={"status": "done"})]
    server.script("/jobs", reply(201, json={"id": 1}))
    server.script("/jobs/1", polls)
    action = make_action(
        server.base_url, polling_mode="poll", poll_url="/jobs/1", poll_params={"attempt": "{{ run.attempt }}"},
        poll_interval=1, connect_timeout=1, read_timeout=3,
        stop=[("status", "equals", "done", "success")],
    )
    run = start_run(action)
    workers = Workers().start()
    try:
        server.wait_for(3, path="/jobs/1", timeout=30)
        workers.kill()
        assert Run.objects.get(pk=run.pk).status == Status.POLLING
        workers = workers.again()
        run = wait_until_finished(run, timeout=60)
    finally:
        workers.stop()

    assert run.status == Status.SUCCEEDED, run.reason
    attempts = [request.query for request in server.requests_to("/jobs/1")]
    assert len(attempts) == len(set(attempts)), f"an attempt was sent twice: {attempts}"
    # Attempt 1 was the first request; the polls are attempts 2 to 6.
    assert attempts == [f"attempt={n}" for n in range(2, 7)]
    assert run.attempt == 6
    # The third poll (attempt 4) died with its worker: the log says so, and has no answer for it.
    interrupted = run.exchanges.get(kind="poll", attempt=4)
    assert interrupted.error.startswith("Interrupted")
    assert interrupted.status_code is None
