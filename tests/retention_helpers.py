"""Helpers for the retention tests: a run that polls a job whose answer changes at every poll."""

import itertools

from runs.services import start_run
from tests.engine_helpers import make_action, step
from tests.servers import reply


def changing_job(server, *, body_bytes=0):
    """An action whose polls of /jobs/1 never end the run, each answered with a new progress count
    (and ``body_bytes`` of filler), so that no answer repeats the one before."""
    counter = itertools.count(1)
    filler = "x" * body_bytes
    server.script("/jobs", reply(201, json={"id": 1}))
    server.script("/jobs/1", lambda request: reply(json={"status": "running", "progress": next(counter),
                                                          "filler": filler}))
    return make_action(server.base_url, polling_mode="poll", poll_url="/jobs/1", poll_interval=1,
                       stop=[("status", "equals", "done", "success")])


def polled(action, times, run=None):
    """Start a run of ``action`` (or go on with ``run``) and poll it ``times`` more times, in this process."""
    run = run or step(start_run(action))
    for _ in range(times):
        step(run)
    return run
