"""A real cluster killed with SIGKILL while first requests and polls are out: nothing is sent twice that
must not be, and a new cluster takes every run up again within seconds of starting."""

import json
import time

import pytest

from runs.models import Run, Status
from runs.services import start_run
from tests.cluster import Workers
from tests.engine_helpers import make_action
from tests.servers import reply

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

STOP = [("status", "equals", "done", "success")]
BODY = '{"run": "{{ run.id }}", "attempt": "{{ run.attempt }}"}'


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)  # the database has no event to wait on; this only paces the reads
    raise AssertionError(f"Not within {timeout} s: {what}")


def test_first_requests_cut_off_by_a_kill_are_not_sent_twice_unless_safe_to_repeat(server):
    # The 20 first requests are still being answered when the cluster is killed; the PUTs sent again are
    # answered at once.
    server.script("/jobs", [reply(201, json={"status": "queued"}, delay=3)] * 20 + [reply(201, json={"status": "queued"})])
    server.script("/jobs/1", reply(json={"status": "done"}))
    post = make_action(server.base_url, method="POST", body_type="json", body=BODY, polling_mode="poll",
                       poll_url="/jobs/1", poll_interval=1, connect_timeout=1, read_timeout=10, stop=STOP)
    put = make_action(server.base_url, method="PUT", body_type="json", body=BODY, polling_mode="poll",
                      poll_url="/jobs/1", poll_interval=1, connect_timeout=1, read_timeout=10, stop=STOP)
    posts = [start_run(post) for _ in range(10)]
    puts = [start_run(put) for _ in range(10)]

    workers = Workers().start()
    try:
        server.wait_for(20, path="/jobs", timeout=30)  # every first request is out, none answered yet
        workers.kill()
        restarted = time.monotonic()
        workers = workers.again()
        wait_until(lambda: not Run.objects.active().exists(), 10, "every run finished after the restart")
        settled = time.monotonic() - restarted
    finally:
        workers.stop()

    received = [json.loads(r.body) for r in server.requests_to("/jobs")]
    by_run = {}
    for body in received:
        by_run.setdefault(int(body["run"]), []).append(int(body["attempt"]))
    for run in posts:
        run.refresh_from_db()
        assert len(by_run[run.pk]) == 1, f"a POST was sent twice: attempts {by_run[run.pk]}"
        assert run.status == Status.FAILED
        assert "may have reached the service" in run.reason and "Refire" in run.reason
        assert run.exchanges.get().error.startswith("Interrupted")
    for run in puts:
        run.refresh_from_db()
        attempts = by_run[run.pk]
        assert len(attempts) == 2 and attempts[1] == attempts[0] + 1, "a PUT cut off is sent again, as the next attempt"
        assert run.status == Status.SUCCEEDED, run.reason
    assert settled < 10


def test_a_new_cluster_polls_every_run_of_a_killed_one_within_seconds_and_no_attempt_twice(server):
    server.script("/jobs", reply(201, json={"status": "queued"}))
    # Polls take a while, so that many are out when the cluster is killed.
    server.script("/jobs/1", reply(json={"status": "pending"}, delay=1.5))
    action = make_action(server.base_url, method="POST", polling_mode="poll", poll_url="/jobs/1",
                         poll_params={"run": "{{ run.id }}", "attempt": "{{ run.attempt }}"},
                         poll_interval=1, connect_timeout=1, read_timeout=30, stop=STOP)
    runs = [start_run(action) for _ in range(20)]

    workers = Workers().start()
    try:
        server.wait_for(20 + 20, timeout=30)  # first requests, then at least a poll each
        workers.kill()
        killed = time.monotonic()
        workers = workers.again()
        started = time.monotonic()

        def polled_since_restart():
            seen = {r.query for r in server.requests_to("/jobs/1") if r.at > killed}
            return len({q.split("&")[0] for q in seen}) == len(runs)

        wait_until(polled_since_restart, 10, "every run polled again within 10 s of the new cluster starting")
        recovered = time.monotonic() - started
    finally:
        workers.stop()

    queries = [r.query for r in server.requests_to("/jobs/1")]
    assert len(queries) == len(set(queries)), "an attempt number was sent twice"
    assert recovered < 10
