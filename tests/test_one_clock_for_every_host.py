"""Two clusters whose hosts' clocks are a minute apart (one 30 s ahead, one 30 s behind: tests/skewed_clock)
share the work as if they had one clock, because they do: the database's. No run is taken from a live
cluster, no poll is early or late, and a crashed cluster's runs are taken over within seconds."""

import os
import signal
import time
from urllib.parse import parse_qs

import pytest
from django.db import connection

from runs.heartbeats import STALE
from runs.models import Exchange, Heartbeat, Run, Status
from runs.services import start_run
from tests.cluster import ROOT, Workers
from tests.engine_helpers import make_action
from tests.faults import processes_in_group, wait_until
from tests.servers import reply

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def several_hosts():
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.skip("several hosts means PostgreSQL and Redis; on SQLite every process reads one host's clock")


def skewed(seconds, **env):
    """A cluster on a host whose wall clock is ``seconds`` off."""
    return Workers(PYTHONPATH=str(ROOT / "tests" / "skewed_clock"), INTEGRATIONS_TEST_CLOCK_SKEW=seconds, **env)


def polls(server):
    return [(int(parse_qs(r.query)["run"][0]), int(parse_qs(r.query)["attempt"][0]), r.at)
            for r in server.requests_to("/jobs/1")]


def test_clusters_a_minute_apart_share_the_work_as_on_one_clock(server):
    def poll(request):
        return reply(json={"status": "done" if int(parse_qs(request.query)["attempt"][0]) >= 6 else "pending"})

    server.script("/jobs", reply(201, json={"id": 1}, delay=1))
    server.script("/jobs/1", poll)
    identity = {"run": "{{ run.id }}", "attempt": "{{ run.attempt }}"}
    action = make_action(server.base_url, method="POST", params=identity, polling_mode="poll",
                         poll_url="/jobs/1", poll_params=identity, poll_interval=1, connect_timeout=1,
                         read_timeout=4, stop=[("status", "equals", "done", "success")])
    ids = [start_run(action).pk for _ in range(20)]
    ahead = skewed(30).start()
    behind = skewed(-30)
    behind.env["Q_CLUSTER_NAME"] = ahead.env["Q_CLUSTER_NAME"]
    behind.start()
    try:
        wait_until(lambda: not Run.objects.filter(pk__in=ids).exclude(status__in=[Status.SUCCEEDED, Status.FAILED])
                   .exists(), 90, "runs did not finish")
    finally:
        ahead.stop()
        behind.stop()

    failed = {run.pk: run.reason for run in Run.objects.filter(pk__in=ids) if run.status != Status.SUCCEEDED}
    assert not failed, failed
    assert not Exchange.objects.filter(error__startswith="Interrupted").exists()
    attempts = [(pk, attempt) for pk, attempt, _ in polls(server)]
    assert len(attempts) == len(set(attempts)), "an attempt was sent twice"
    # Polled every second: no poll came early (due "a minute ago") nor late (due "in a minute").
    for pk in ids:
        times = sorted(at for run, _, at in polls(server) if run == pk)
        gaps = [later - earlier for earlier, later in zip(times, times[1:])]
        assert all(0.9 <= gap < 4 for gap in gaps), (pk, gaps)


def test_a_crashed_cluster_is_taken_over_by_one_whose_clock_is_a_minute_behind(server):
    server.script("/jobs", reply(201, json={"id": 1}))
    server.script("/jobs/1", reply(json={"status": "pending"}))
    identity = {"run": "{{ run.id }}", "attempt": "{{ run.attempt }}"}
    action = make_action(server.base_url, method="POST", polling_mode="poll", poll_url="/jobs/1",
                         poll_params=identity, poll_interval=1, poll_timeout=600,
                         stop=[("status", "equals", "done", "success")])
    ids = {start_run(action).pk for _ in range(20)}
    ahead = skewed(30).start()
    try:
        wait_until(lambda: {pk for pk, attempt, _ in polls(server) if attempt >= 3} == ids, 60,
                   "polling never reached every run")
        behind = skewed(-30)
        behind.env["Q_CLUSTER_NAME"] = ahead.env["Q_CLUSTER_NAME"]
        behind.start()
        wait_until(lambda: Heartbeat.objects.count() == 2, 30, "the second cluster did not start")
        os.killpg(ahead.process.pid, signal.SIGKILL)
        crashed = time.monotonic()
        # Every run is polled again once the crashed cluster's heartbeat is stale, not a minute later.
        wait_until(lambda: {pk for pk, _, at in polls(server) if at > crashed + 1} == ids, STALE + 10,
                   "the crashed cluster's runs were not taken over in time")
    finally:
        ahead.stop()
        behind.stop()
