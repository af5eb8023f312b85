"""A cluster with nothing due sleeps (runs.wakeup) and still sends a run started meanwhile at once: its
dispatcher is told to sleep 60 s when idle, so only the wake-up (NOTIFY on PostgreSQL, a commit seen on
SQLite) can get the run out within the bound."""

import time

import pytest

from runs.models import Heartbeat, Run
from runs.services import start, start_run
from tests.cluster import Workers
from tests.engine_helpers import make_action
from tests.servers import reply

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

# Generous for a loaded 2-core machine; bench/poll_benchmark.py --idle measures the real figure.
BOUND = 2.0


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)  # the database has no event to wait on; this only paces the reads
    raise AssertionError(f"Not within {timeout} s: {what}")


def test_runs_started_while_the_cluster_idles_are_sent_at_once(server):
    server.script("/jobs", reply(json={"id": 1}))
    action = make_action(server.base_url)
    waiting = start_run(make_action(server.base_url, name="Later", url="/later"), wait_for_start=True)
    server.script("/later", reply(json={"id": 2}))
    workers = Workers(INTEGRATIONS_DISPATCH_IDLE=60).start()
    try:
        wait_for(lambda: Heartbeat.objects.exists(), 30, "the cluster up")
        first = start_run(action)  # the cluster's first run: every process up and connected
        server.wait_for(1, "/jobs", timeout=30)
        wait_for(lambda: Run.objects.get(pk=first.pk).is_finished, 10, "the first run written back")

        for count in (2, 3):  # each started while the dispatcher sleeps for want of due runs
            started = time.monotonic()
            start_run(action)
            server.wait_for(count, "/jobs", timeout=BOUND)
            assert time.monotonic() - started < BOUND
            wait_for(lambda: not Run.objects.filter(finished_at__isnull=True, action=action).exists(), 10,
                     "the run written back")

        started = time.monotonic()
        start(waiting)  # a run that waited for a start: started by a person or the API
        server.wait_for(1, "/later", timeout=BOUND)
        assert time.monotonic() - started < BOUND
    finally:
        workers.stop()
    errors = workers.process.stderr.read().decode()
    assert "Traceback" not in errors, errors
