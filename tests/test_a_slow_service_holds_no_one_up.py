"""A slow or hanging third party delays only its own runs: a fast run polled in the same batch, by the same
worker, keeps its interval while the slow one waits for its answer."""

import time

import pytest

from runs.models import Status
from runs.services import start_run
from tests.cluster import Workers
from tests.engine_helpers import make_action
from tests.servers import reply

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

STOP = [("status", "equals", "done", "success")]


def test_a_fast_run_keeps_its_interval_while_a_slow_poll_of_the_same_batch_is_out(server):
    server.script("/fast", reply(json={"status": "pending"}))
    server.script("/slow", [reply(json={"status": "pending"})] + [reply(json={"status": "pending"}, delay=5)])
    fast = make_action(server.base_url, method="GET", url="/fast", polling_mode="poll", poll_interval=1, stop=STOP)
    slow = make_action(server.base_url, method="GET", url="/slow", polling_mode="poll", poll_interval=1,
                       read_timeout=30, stop=STOP)
    start_run(fast)
    slow_run = start_run(slow)

    # One worker process: both runs are due together, so they share its batches.
    workers = Workers(Q_WORKERS=1).start()
    try:
        slow_poll = server.wait_for(2, path="/slow", timeout=30)[1]
        out_until = slow_poll.at + 5
        time.sleep(max(0, out_until - time.monotonic()))
    finally:
        workers.stop()

    during = [r.at for r in server.requests_to("/fast") if slow_poll.at <= r.at <= out_until]
    gaps = [b - a for a, b in zip(during, during[1:])]
    assert len(during) >= 4, f"the fast run was polled {len(during)} times during the slow poll's 5 s"
    assert max(gaps) < 1.6, f"gaps between the fast run's polls: {gaps}"
    slow_run.refresh_from_db()
    assert slow_run.status == Status.POLLING


def test_a_hanging_service_times_out_on_its_own_and_its_neighbour_finishes(server):
    server.script("/hang", reply(json={"status": "pending"}, delay=60))
    server.script("/quick", [reply(json={"status": "pending"})] * 3 + [reply(json={"status": "done"})])
    hanging = make_action(server.base_url, method="GET", url="/hang", read_timeout=6, connect_timeout=1, stop=STOP)
    quick = make_action(server.base_url, method="GET", url="/quick", polling_mode="poll", poll_interval=1, stop=STOP)
    hanging_run, quick_run = start_run(hanging), start_run(quick)

    workers = Workers(Q_WORKERS=1).start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            hanging_run.refresh_from_db()
            quick_run.refresh_from_db()
            if hanging_run.is_finished and quick_run.is_finished:
                break
            time.sleep(0.1)  # the database has no event to wait on; this only paces the reads
    finally:
        workers.stop()

    assert quick_run.status == Status.SUCCEEDED, quick_run.reason
    assert hanging_run.status == Status.FAILED
    assert "No answer within 6 s" in hanging_run.reason
    assert quick_run.finished_at < hanging_run.finished_at
