"""A schedule ticking every second under two real clusters, one killed with SIGKILL, then the other: every
tick has one run, none is lost, none is started twice; ticks are started on time while a cluster runs."""

import statistics
import time
from datetime import timedelta

import pytest

from runs.models import Heartbeat, Run, Schedule, Status
from tests.cluster import Workers
from tests.engine_helpers import make_action
from tests.schedule_helpers import schedule
from tests.servers import reply

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def wait_until_all_finished(timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Run.objects.exclude(status=Status.SUCCEEDED).exists():
            return
        time.sleep(0.1)  # the database has no event to wait on; this only paces the reads
    raise AssertionError(f"Runs still unfinished: {list(Run.objects.exclude(status=Status.SUCCEEDED).values_list('status', 'reason'))}")


def wait_for_heartbeats(count, timeout):
    deadline = time.monotonic() + timeout
    while Heartbeat.objects.count() < count:
        assert time.monotonic() < deadline, "the clusters did not start"
        time.sleep(0.1)  # paces the reads


def test_two_clusters_and_a_kill_start_each_tick_once_and_lose_none(server):
    server.script("/jobs", reply(json={"status": "done"}))
    action = make_action(server.base_url, stop=[("status", "equals", "done", "success")], inputs=["tick"],
                         method="GET")  # safe to send again: a run whose worker was killed is sent again
    first, second = Workers().start(), Workers().start()
    survivor = None
    try:
        wait_for_heartbeats(2, timeout=60)
        every = schedule(action, variables={"tick": "scheduled"})
        start = every.next_tick_at
        server.wait_for(4, path="/jobs", timeout=60)
        both_ran_until = Run.objects.order_by("-tick_at").values_list("tick_at", flat=True).first()

        first.kill()  # SIGKILL to its whole group: the dispatcher may die inside a claim
        server.wait_for(8, path="/jobs", timeout=60)

        second.kill()  # now no cluster runs: the ticks of the gap are late, within the grace, and must not be lost
        survivor = second.again()
        server.wait_for(12, path="/jobs", timeout=60)
        Schedule.objects.filter(pk=every.pk).update(enabled=False)
        wait_until_all_finished(timeout=60)
    finally:
        for workers in (first, second, survivor):
            if workers is not None:
                workers.stop()

    every.refresh_from_db()
    ticks = list(Run.objects.order_by("tick_at").values_list("tick_at", flat=True))
    assert len(ticks) == len(set(ticks))
    # None lost: every tick from the first to the last claimed, one second apart.
    last = ticks[-1]
    expected = [start + timedelta(seconds=n) for n in range(int((last - start).total_seconds()) + 1)]
    assert ticks == expected
    assert len(server.requests_to("/jobs")) >= len(ticks)
    # On time while both clusters ran: each run made within a second of its tick, by the database's clock.
    lateness = [(run.created_at - run.tick_at).total_seconds()
                for run in Run.objects.filter(tick_at__gte=start + timedelta(seconds=2), tick_at__lte=both_ran_until)]
    print(f"lateness while both ran: median {statistics.median(lateness):.3f} s, max {max(lateness):.3f} s")
    assert max(lateness) < 1.0, lateness
