"""However a cluster is told to stop (SIGTERM to its whole process group as systemd sends it, SIGTERM or
SIGINT to runworkers alone), every process exits within the grace period, the requests it had out are
answered and written back, nothing is sent twice, and a cluster started afterwards finishes every run
without one interrupted request.

INTEGRATIONS_FAULT_TRIALS repeats each kind of stop (20 for the issue's figures; 1 by default)."""

import os
import signal
import time
from urllib.parse import parse_qs

import pytest

from runs.models import Exchange, Heartbeat, Run, Status
from runs.services import start_run
from tests.cluster import Workers
from tests.engine_helpers import make_action
from tests.faults import processes_in_group, wait_until
from tests.servers import reply

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

TRIALS = int(os.environ.get("INTEGRATIONS_FAULT_TRIALS", "1"))
GRACE = 8
RUNS = 24


def stop_group(workers):
    os.killpg(workers.process.pid, signal.SIGTERM)


def stop_parent(signum):
    return lambda workers: os.kill(workers.process.pid, signum)


STOPS = {
    "SIGTERM to the group": stop_group,
    "SIGTERM to runworkers": stop_parent(signal.SIGTERM),
    "SIGINT to runworkers": stop_parent(signal.SIGINT),
}


def sent(server, path):
    """(run, attempt) of every request the service received on ``path``."""
    pairs = []
    for request in server.requests_to(path):
        query = parse_qs(request.query)
        pairs.append((int(query["run"][0]), int(query["attempt"][0])))
    return pairs


def job_action(server, *, delay):
    """A POST that starts a job (its answer takes ``delay`` s), then polls until the fourth attempt."""

    def poll(request):
        attempt = int(parse_qs(request.query)["attempt"][0])
        return reply(json={"status": "done" if attempt >= 4 else "pending"}, delay=delay)

    server.script("/jobs", reply(201, json={"id": 1}, delay=delay))
    server.script("/jobs/1", poll)
    identity = {"run": "{{ run.id }}", "attempt": "{{ run.attempt }}"}
    return make_action(
        server.base_url, method="POST", params=identity, polling_mode="poll", poll_url="/jobs/1",
        poll_params=identity, poll_interval=1, connect_timeout=2, read_timeout=5,
        stop=[("status", "equals", "done", "success")],
    )


@pytest.mark.parametrize("trial", range(TRIALS))
@pytest.mark.parametrize("how", list(STOPS))
def test_every_process_exits_within_the_grace_and_what_was_in_flight_is_written_back(server, how, trial):
    action = job_action(server, delay=1.5)
    runs = [start_run(action) for _ in range(RUNS)]
    workers = Workers(INTEGRATIONS_STOP_GRACE=GRACE).start()
    group = workers.process.pid
    try:
        # First requests are out, and some polls: stop with both in flight.
        server.wait_for(RUNS + 6, timeout=60)
        started = time.monotonic()
        STOPS[how](workers)
        workers.process.wait(timeout=GRACE + 10)
        took = time.monotonic() - started
        wait_until(lambda: not processes_in_group(group), 5, f"processes left: {processes_in_group(group)}")
    finally:
        workers.stop()
    assert took < GRACE + 2, f"runworkers took {took:.1f} s to stop"
    assert not Heartbeat.objects.exists()

    received = sent(server, "/jobs") + sent(server, "/jobs/1")
    print(f"FIGURE {how}: stopped in {took:.2f} s with {len(received)} requests received")
    assert len(received) == len(set(received)), "an attempt was sent twice"
    for run in Run.objects.filter(pk__in=[run.pk for run in runs]):
        assert not run.in_flight, f"run {run.pk} was left in flight"
        # Every attempt counted was sent and its answer written back; a run given back unsent counted none.
        assert run.attempt == sum(1 for pk, _ in received if pk == run.pk), run.reason
        assert run.status in (Status.PENDING, Status.POLLING, Status.SUCCEEDED), run.reason

    # Started again, the cluster finishes every run, and none of them met an interrupted request.
    workers = Workers().start()
    try:
        wait_until(lambda: not Run.objects.exclude(status=Status.SUCCEEDED).exists(), 90,
                   "runs did not all succeed after the restart")
    finally:
        workers.stop()
    assert not Exchange.objects.filter(error__startswith="Interrupted").exists()
    received = sent(server, "/jobs") + sent(server, "/jobs/1")
    assert len(received) == len(set(received)), "an attempt was sent twice"
    assert len(server.requests_to("/jobs")) == RUNS  # each job was started once


def test_requests_still_out_at_the_deadline_are_cut_and_the_runs_say_so(server):
    """A request that outlasts the grace period does not hold the stop up; its run is taken over as
    interrupted, and runs that were claimed but not sent are given back unsent."""
    server.script("/jobs", reply(201, json={"id": 1}, delay=30))
    action = make_action(server.base_url, method="POST", params={"run": "{{ run.id }}", "attempt": "{{ run.attempt }}"},
                         connect_timeout=2, read_timeout=40, stop=[("id", "equals", "1", "success")])
    runs = [start_run(action) for _ in range(6)]
    # One request out at a time: the other claimed runs wait for room in the worker's pool.
    workers = Workers(INTEGRATIONS_STOP_GRACE=2, INTEGRATIONS_SEND_THREADS=1, Q_WORKERS=1).start()
    group = workers.process.pid
    try:
        server.wait_for(1, timeout=60)
        started = time.monotonic()
        stop_group(workers)
        workers.process.wait(timeout=15)
        took = time.monotonic() - started
        wait_until(lambda: not processes_in_group(group), 5, f"processes left: {processes_in_group(group)}")
    finally:
        workers.stop()
    assert took < 2 + 2, f"runworkers took {took:.1f} s to stop"

    cut = sent(server, "/jobs")
    assert len(cut) == 1
    cut_run = Run.objects.get(pk=cut[0][0])
    assert cut_run.in_flight and cut_run.attempt == 1
    unsent = Run.objects.filter(pk__in=[run.pk for run in runs]).exclude(pk=cut_run.pk)
    assert all(run.attempt == 0 and not run.in_flight and run.status == Status.PENDING for run in unsent)

    server.script("/jobs", reply(201, json={"id": 1}))
    workers = Workers().start()
    try:
        wait_until(lambda: not Run.objects.filter(status__in=[Status.PENDING, Status.RUNNING]).exists(), 60,
                   "runs did not finish after the restart")
    finally:
        workers.stop()
    cut_run.refresh_from_db()
    assert cut_run.status == Status.FAILED
    assert "stopped before its answer was recorded" in cut_run.reason
    assert all(run.status == Status.SUCCEEDED for run in Run.objects.filter(pk__in=[r.pk for r in unsent]))
    assert len(server.requests_to("/jobs")) == 6  # the cut POST was not sent again
