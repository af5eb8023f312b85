"""Redis stopped (it loses its queue) or paused for 10 s: polling is back within 2 s of its return, and no
attempt is sent twice."""

import shutil
import time
from urllib.parse import parse_qs

import pytest

from runs.models import Run
from runs.services import start_run
from tests.cluster import Workers
from tests.engine_helpers import make_action
from tests.faults import RedisServer, wait_until
from tests.servers import reply

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server to start a Redis of its own"),
]

RUNS = 20
OUTAGE = 10


def polled(server):
    """(run id, attempt, time received) of every poll."""
    found = []
    for request in server.requests_to("/jobs/1"):
        query = parse_qs(request.query)
        found.append((int(query["run"][0]), int(query["attempt"][0]), request.at))
    return found


@pytest.fixture
def redis():
    server = RedisServer().start()
    yield server
    server.close()


@pytest.mark.parametrize("outage", ["stopped", "paused"])
def test_polling_is_back_within_two_seconds_of_redis(server, redis, outage):
    server.script("/jobs", reply(201, json={"id": 1}))
    server.script("/jobs/1", reply(json={"status": "pending"}))
    identity = {"run": "{{ run.id }}", "attempt": "{{ run.attempt }}"}
    action = make_action(server.base_url, method="POST", polling_mode="poll", poll_url="/jobs/1",
                         poll_params=identity, poll_interval=1, poll_timeout=600,
                         stop=[("status", "equals", "done", "success")])
    runs = [start_run(action) for _ in range(RUNS)]
    ids = {run.pk for run in runs}
    # The default claim of 30 s, as in production: runs whose tasks Redis lost must not wait it out.
    workers = Workers(REDIS_URL=redis.url, INTEGRATIONS_LEASE_SECONDS=30).start()
    try:
        wait_until(lambda: {pk for pk, attempt, _ in polled(server) if attempt >= 3} == ids, 60,
                   "polling never reached every run")
        if outage == "stopped":
            redis.stop()
            time.sleep(OUTAGE)  # the outage itself
            redis.start()
        else:
            redis.pause()
            time.sleep(OUTAGE)
            redis.resume()
        back = time.monotonic()
        wait_until(lambda: {pk for pk, _, at in polled(server) if at > back} == ids, 15,
                   "some runs were not polled again within 15 s")
        first_after = {}
        for pk, _, at in polled(server):
            if at > back:
                first_after.setdefault(pk, at - back)
    finally:
        workers.stop()

    # Every run was due during the outage: each is polled again within 2 s of Redis returning.
    slowest = max(first_after.values())
    print(f"FIGURE Redis {outage} {OUTAGE} s: every run polled again within {slowest:.2f} s of its return")
    assert slowest < 2.0, f"a run waited {slowest:.1f} s after Redis returned"
    attempts = [(pk, attempt) for pk, attempt, _ in polled(server)]
    assert len(attempts) == len(set(attempts)), "an attempt was sent twice"
    assert all(run.status == "polling" for run in Run.objects.filter(pk__in=ids))
