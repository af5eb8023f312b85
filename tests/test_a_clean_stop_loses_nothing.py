"""A cluster stopped cleanly (SIGTERM to runworkers, or Ctrl-C) finishes the requests it has out and writes
their answers back before it exits: nothing is lost, nothing is left marked in flight."""

import os
import signal

import pytest

from runs.models import Heartbeat, Status
from runs.services import start_run
from tests.cluster import Workers
from tests.engine_helpers import make_action
from tests.servers import reply

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def test_requests_out_when_the_cluster_is_told_to_stop_are_answered_and_written_back(server):
    server.script("/jobs", reply(json={"status": "done"}, delay=2))
    action = make_action(server.base_url, method="POST", stop=[("status", "equals", "done", "success")])
    runs = [start_run(action) for _ in range(5)]

    workers = Workers().start()
    try:
        server.wait_for(5, path="/jobs", timeout=30)  # all five are out, none answered yet
        os.kill(workers.process.pid, signal.SIGTERM)  # runworkers only, as a service manager does
        workers.process.wait(timeout=30)
    finally:
        workers.stop()

    for run in runs:
        run.refresh_from_db()
        assert run.status == Status.SUCCEEDED, run.reason
        assert not run.in_flight and run.lease_token == ""
    assert len(server.requests) == 5
    assert not Heartbeat.objects.exists()
