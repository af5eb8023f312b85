"""Waiters benchmark: does the API stay responsive while 200 requests wait for runs (GET /api/runs/{id}/?wait=)?

    .venv/bin/python bench/api_waiters.py                        # SQLite, 200 waiters, 2 gunicorn processes
    .venv/bin/python bench/api_waiters.py --waiters 500 --requests 400
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/api_waiters.py

It makes a fresh database (a SQLite file in a temporary directory, or with
DATABASE_URL a database named --database on that server, dropped and made
again; never the database DATABASE_URL names), with --runs runs of which
--waiters stay pending (no cluster runs), and serves it as production does:
gunicorn with gunicorn.conf.py and settings_production (tests/production.py),
--workers processes of --threads threads.

Then, one client after the other, it times --requests requests each of
GET /api/runs/ (a page of 50) and GET /api/integrations/: first with nobody
waiting, then while --waiters clients each wait on a pending run of their own
(?wait=60&status=pending, asked again whenever one times out). It prints the
p50/p95/max of both, the CPU the gunicorn processes used per second while the
waiters hung (and idle without them), and how long after their runs changed
(one UPDATE) the waiters were answered. The exit status is 1 unless every
waiter was answered "changed".

gunicorn's processes each take connections as they come, so one may be given
more waiters than the other; --threads (200) leaves room for that. With fewer
threads than waiters in a process, requests behind them queue.
"""

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def fresh_database(args, directory):
    server = os.environ.get("DATABASE_URL", "")
    if not server:
        return f"sqlite:///{directory}/waiters-bench.sqlite3"
    import psycopg

    parts = urlsplit(server)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{args.database}"')
    return urlunsplit(parts._replace(path=f"/{args.database}"))


def seed(args):
    """Migrate; a viewer's token, one action, --runs runs of which the first --waiters are pending."""
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from integrations.models import Action, Integration
    from runs.models import Run, Status

    call_command("migrate", verbosity=0)
    user = User.objects.create_user("bench", is_staff=True)
    user.groups.add(Group.objects.get(name="Integrations Viewer"))
    integration = Integration.objects.create(name="Bench", slug="bench", base_url="http://127.0.0.1:9")
    action = Action.objects.create(integration=integration, name="Job", slug="job", url="/jobs", method="POST")
    Run.objects.bulk_create(
        [Run(action=action, integration=integration, status=Status.PENDING) for _ in range(args.waiters)]
        + [Run(action=action, integration=integration, status=Status.SUCCEEDED)
           for _ in range(args.runs - args.waiters)],
        batch_size=1000,
    )
    pending = list(Run.objects.filter(status=Status.PENDING).values_list("pk", flat=True))
    return Token.objects.create(user=user).key, pending


def cpu_seconds(pgid):
    """User + system CPU seconds of the live processes of a process group."""
    from tests.faults import processes_in_group

    total = 0
    for pid in processes_in_group(pgid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def cpu_per_second(pgid, seconds):
    """CPU seconds per second the process group uses over the next ``seconds``, nobody asking it anything."""
    before, started = cpu_seconds(pgid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pgid) - before) / (time.monotonic() - started)


def timed(address, token, paths, count):
    """Times (s) of ``count`` requests of each path, one after the other on one kept-alive connection."""
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
    times = {path: [] for path in paths}
    for _ in range(count):
        for path in paths:
            started = time.perf_counter()
            connection.request("GET", path, headers={"Authorization": f"Token {token}"})
            response = connection.getresponse()
            response.read()
            times[path].append(time.perf_counter() - started)
            assert response.status == 200, (path, response.status)
    connection.close()
    return times


class Waiters:
    """--waiters clients, each waiting on its own pending run until stopped."""

    def __init__(self, address, token, run_ids):
        self.address, self.token = address, token
        self.sent = threading.Semaphore(0)
        self.stopping = threading.Event()
        self.answered = {}
        self.errors = []
        self.threads = [threading.Thread(target=self.wait, args=(pk,), daemon=True) for pk in run_ids]

    def start(self):
        for thread in self.threads:
            thread.start()
        for _ in self.threads:
            self.sent.acquire()

    def wait(self, pk):
        connection = http.client.HTTPConnection(self.address.hostname, self.address.port, timeout=120)
        first = True
        try:
            while True:
                connection.request("GET", f"/api/runs/{pk}/?wait=60&status=pending",
                                   headers={"Authorization": f"Token {self.token}"})
                if first:
                    self.sent.release()
                    first = False
                response = connection.getresponse()
                response.read()
                outcome = response.getheader("Wait-Outcome")
                if outcome != "timeout" or self.stopping.is_set():
                    self.answered[pk] = (time.perf_counter(), response.status, outcome)
                    return
        except Exception as exc:
            self.errors.append(exc)
            if first:
                self.sent.release()
        finally:
            connection.close()

    def join(self, timeout):
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0, deadline - time.monotonic()))


def line(name, values):
    ms = [value * 1000 for value in values]
    return f"  {name:<28} p50 {statistics.median(ms):7.1f} ms   p95 {percentile(ms, 0.95):7.1f} ms   " \
           f"max {max(ms):7.1f} ms"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--waiters", type=int, default=200)
    parser.add_argument("--runs", type=int, default=1000, help="runs in all (the waiters' are pending)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests of each endpoint per phase")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes (WEB_CONCURRENCY)")
    parser.add_argument("--threads", type=int, default=200, help="threads of each (WEB_THREADS)")
    parser.add_argument("--idle-seconds", type=float, default=5, help="how long CPU is measured with waiters idle")
    parser.add_argument("--database", default="integrations_waiters_bench",
                        help="with DATABASE_URL: the database made on its server")
    args = parser.parse_args()
    if args.waiters > args.runs:
        parser.error("--runs must be at least --waiters")

    directory = tempfile.mkdtemp(prefix="integrations-waiters-bench-")
    os.environ["DATABASE_URL"] = fresh_database(args, directory)
    os.environ["DJANGO_SETTINGS_MODULE"] = "integrations_site.settings"
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    from django.db import connection

    from runs.models import Run, Status
    from tests.production import ProductionServer

    token, pending = seed(args)
    server = ProductionServer(f"{directory}/static", f"{directory}/gunicorn.log", WEB_THREADS=args.threads)
    server.env.update(WEB_CONCURRENCY=str(args.workers), GUNICORN_CMD_ARGS="--access-logfile /dev/null")
    Path(f"{directory}/static").mkdir()
    server.start()
    address = urlsplit(server.url)
    paths = ["/api/runs/", "/api/integrations/"]
    try:
        timed(address, token, paths, 5)  # warm up every process's first import and connection
        quiet = timed(address, token, paths, args.requests)
        quiet_cpu = cpu_per_second(server.process.pid, args.idle_seconds)

        waiters = Waiters(address, token, pending)
        waiters.start()
        time.sleep(1)  # the last requests sent reach a thread and their waits begin
        idle_cpu = cpu_per_second(server.process.pid, args.idle_seconds)
        busy = timed(address, token, paths, args.requests)
        if waiters.answered:
            sys.exit(f"{len(waiters.answered)} waiters were answered before their runs changed: {waiters.errors[:3]}")

        waiters.stopping.set()
        changed_at = time.perf_counter()
        Run.objects.filter(pk__in=pending).update(status=Status.CANCELLED)
        connection.close()
        waiters.join(60)
    finally:
        server.stop()

    woken = [at - changed_at for at, status, outcome in waiters.answered.values() if outcome == "changed"]
    vendor = "PostgreSQL" if os.environ["DATABASE_URL"].startswith("postgres") else "SQLite"
    print(f"API waiters: {vendor}, gunicorn {args.workers} processes x {args.threads} threads, {args.runs} runs, "
          f"{os.cpu_count()} cores; {args.requests} requests of each endpoint per phase, one at a time")
    print("Nobody waiting:")
    for path in paths:
        print(line(f"GET {path}", quiet[path]))
    print(f"{args.waiters} requests waiting (?wait=60):")
    for path in paths:
        print(line(f"GET {path}", busy[path]))
    print(f"  gunicorn CPU while they waited: {idle_cpu * 100:.1f}% of a core "
          f"(idle with nobody waiting: {quiet_cpu * 100:.1f}%)")
    print(f"Waiters answered after their runs changed: {len(woken)} of {args.waiters} "
          f"(errors: {len(waiters.errors)})")
    if woken:
        print(line("changed -> answered", woken))
    if len(woken) != args.waiters:
        sys.exit(1)


if __name__ == "__main__":
    main()
