"""serve.sh collects the static files, migrates, then runs gunicorn and the task cluster side by side:
SIGTERM to the script stops both cleanly, and when one of them ends by itself the other is stopped."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from runs.models import Heartbeat
from tests.cluster import database_url
from tests.production import ROOT, production_environment, require_production_packages, wait_until_answering

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def free_port():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def children(pid):
    """The processes pid started, as {pid: command line}."""
    found = {}
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        found[int(child)] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return found


def group_is_gone(pgid, timeout):
    """Whether every process of the group has ended, waiting up to timeout seconds for it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def wait_for_heartbeat(timeout=60):
    deadline = time.monotonic() + timeout
    while not Heartbeat.objects.exists():
        assert time.monotonic() < deadline, "runworkers never beat"
        time.sleep(0.2)
    return Heartbeat.objects.get()


@pytest.fixture
def serve(tmp_path):
    """serve.sh started on the test database, in its own process group; yields (process, base URL, log path)."""
    require_production_packages()
    port = free_port()
    env = production_environment(
        DATABASE_URL=database_url(),
        STATIC_ROOT=tmp_path / "static",
        ADDRESS=f"127.0.0.1:{port}",
        WEB_CONCURRENCY=1,
        Q_WORKERS=1,
        Q_CLUSTER_NAME=f"test-{uuid.uuid4().hex[:8]}",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(["./serve.sh"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/admin/login/", process, timeout=120)
        yield process, f"http://127.0.0.1:{port}", log_path
    finally:
        if not group_is_gone(process.pid, timeout=0):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        group_is_gone(process.pid, timeout=10)  # their database connections close before the test's flush


def test_it_serves_the_admin_and_its_collected_static_files_beside_the_cluster(serve):
    process, url, _ = serve

    page = requests.get(f"{url}/admin/login/", timeout=10)
    stylesheet = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page.text)[1]

    assert page.status_code == 200
    assert requests.get(f"{url}{stylesheet}", timeout=10).status_code == 200
    assert wait_for_heartbeat().pid in children(process.pid)


def test_sigterm_to_the_script_stops_gunicorn_and_the_cluster_cleanly(serve):
    process, _, log_path = serve
    wait_for_heartbeat()

    process.send_signal(signal.SIGTERM)  # the script alone, as `docker stop` does

    assert process.wait(timeout=60) == 143, log_path.read_text()
    assert group_is_gone(process.pid, timeout=10), "a process of serve.sh outlived it"
    assert not Heartbeat.objects.exists(), "runworkers did not stop cleanly"
    log = log_path.read_text()
    assert "Shutting down: Master" in log
    assert "Stopped." in log


def test_when_gunicorn_ends_the_cluster_is_stopped_and_the_script_fails(serve):
    process, _, log_path = serve
    wait_for_heartbeat()
    gunicorn = next(pid for pid, command in children(process.pid).items() if "gunicorn" in command)

    os.kill(gunicorn, signal.SIGTERM)

    assert process.wait(timeout=60) == 1, log_path.read_text()
    assert group_is_gone(process.pid, timeout=10), "a process of serve.sh outlived it"
    assert not Heartbeat.objects.exists(), "runworkers did not stop cleanly"
    assert "serve.sh: gunicorn stopped (status 0); stopping the workers." in log_path.read_text()


def test_sigterm_to_the_whole_group_stops_everything_within_the_grace(serve):
    """As systemd's KillMode=control-group does: every process gets SIGTERM at once."""
    process, _, log_path = serve
    wait_for_heartbeat()
    started = time.monotonic()

    os.killpg(process.pid, signal.SIGTERM)

    assert process.wait(timeout=60) == 143, log_path.read_text()
    assert group_is_gone(process.pid, timeout=10), "a process of serve.sh outlived it"
    assert time.monotonic() - started < 15  # the workers' 10 s grace, and gunicorn's idle stop
    assert not Heartbeat.objects.exists(), "runworkers did not stop cleanly"
    assert "Stopped." in log_path.read_text()
