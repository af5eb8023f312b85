"""The README's systemd unit and container recipe (deploy/), stopped as systemd and `docker stop` stop them:
the workers' unit gets SIGTERM on every process of its control group and is killed after TimeoutStopSec;
the container's first process (serve.sh) alone gets the image's STOPSIGNAL and all of it is killed after
docker's 10 s. Both end by themselves well before, with the requests they had out written back."""

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from runs.models import Heartbeat, Run
from runs.services import start_run
from tests.cluster import database_url
from tests.engine_helpers import make_action
from tests.faults import free_port, processes_in_group, wait_until
from tests.production import ROOT, production_environment, require_production_packages, wait_until_answering
from tests.servers import reply

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

DOCKER_STOP_TIMEOUT = 10  # `docker stop`'s default


def unit(name):
    """The [Service] settings of a systemd unit in deploy/: {key: [values]} (keys such as Environment repeat)."""
    settings, section = {}, None
    for line in (ROOT / "deploy" / name).read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def dockerfile():
    """(ENV as a dict, CMD as a list, STOPSIGNAL) of deploy/Dockerfile."""
    text = (ROOT / "deploy" / "Dockerfile").read_text().replace("\\\n", " ")
    env, cmd, stop = {}, None, "SIGTERM"
    for line in text.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(rest))
        elif word == "CMD":
            cmd = json.loads(rest)
        elif word == "STOPSIGNAL":
            stop = rest.strip()
    return env, cmd, stop


def jobs_in_flight(server, count=6):
    """Runs whose first request the service answers 3 s after it arrives; returns their ids."""
    server.script("/jobs", reply(201, json={"id": 1}, delay=3))
    identity = {"run": "{{ run.id }}", "attempt": "{{ run.attempt }}"}
    action = make_action(server.base_url, method="POST", params=identity, stop=[("id", "equals", "1", "success")])
    return [start_run(action).pk for _ in range(count)]


def assert_written_back(ids, server):
    for run in Run.objects.filter(pk__in=ids):
        assert not run.in_flight, f"run {run.pk} was cut off: {run.reason}"
        assert run.status == "succeeded", run.reason
    assert len(server.requests_to("/jobs")) == len(ids)


def test_the_workers_unit_stops_within_its_grace_on_systemds_signal_to_its_control_group(server):
    service = unit("integrations-workers.service")
    assert service["KillMode"] == ["control-group"]
    environment = dict(value.split("=", 1) for value in service["Environment"])
    grace = float(environment["INTEGRATIONS_STOP_GRACE"])
    timeout = float(service["TimeoutStopSec"][0])
    assert grace + 5 <= timeout, "systemd would kill the workers before their grace is over"

    command = shlex.split(service["ExecStart"][0])
    assert command[:3] == ["/opt/integrations/.venv/bin/python", "manage.py", "runworkers"]
    env = production_environment(**environment, DATABASE_URL=database_url(), Q_WORKERS=1,
                                 Q_CLUSTER_NAME=f"test-{uuid.uuid4().hex[:8]}")
    ids = jobs_in_flight(server)
    # A session of its own stands for the unit's control group.
    process = subprocess.Popen([sys.executable, *command[1:]], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)
    try:
        server.wait_for(len(ids), path="/jobs", timeout=60)
        started = time.monotonic()
        os.killpg(process.pid, getattr(signal, service["KillSignal"][0]))
        process.wait(timeout=timeout)
        took = time.monotonic() - started
        wait_until(lambda: not processes_in_group(process.pid), 5, "a process of the unit outlived it")
    finally:
        if processes_in_group(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
    assert took < grace + 2, f"{took:.1f} s"
    assert not Heartbeat.objects.exists()
    assert_written_back(ids, server)


def test_the_container_stops_within_docker_stops_timeout(server, tmp_path):
    require_production_packages()
    env, cmd, stop_signal = dockerfile()
    assert cmd == ["./serve.sh"]
    assert float(env["INTEGRATIONS_STOP_GRACE"]) + 2 < DOCKER_STOP_TIMEOUT
    port = free_port()
    env = production_environment(**{
        **env, "ADDRESS": f"127.0.0.1:{port}",  # (the container's 0.0.0.0:8000, on a port of the test's)
        "DATABASE_URL": database_url(), "STATIC_ROOT": tmp_path / "static", "WEB_CONCURRENCY": 1, "Q_WORKERS": 1,
        "Q_CLUSTER_NAME": f"test-{uuid.uuid4().hex[:8]}",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    })
    log_path = tmp_path / "container.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/health/web/", process, timeout=120)
        ids = jobs_in_flight(server)
        server.wait_for(len(ids), path="/jobs", timeout=60)
        started = time.monotonic()
        process.send_signal(getattr(signal, stop_signal))  # to the first process only, as docker does
        process.wait(timeout=DOCKER_STOP_TIMEOUT)
        took = time.monotonic() - started
        wait_until(lambda: not processes_in_group(process.pid), 2, "a process of the container outlived it")
    finally:
        if processes_in_group(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
    assert took < DOCKER_STOP_TIMEOUT, log_path.read_text()
    assert not Heartbeat.objects.exists()
    assert_written_back(ids, server)
