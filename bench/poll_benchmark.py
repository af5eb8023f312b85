"""Polling benchmark: N active runs polling a local service through the real cluster.

    .venv/bin/python bench/poll_benchmark.py                       # SQLite + ORM broker
    .venv/bin/python bench/poll_benchmark.py --runs 1000 --seconds 20
    .venv/bin/python bench/poll_benchmark.py --runs 10000 --mixed  # 10% slow, 1% hanging
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/integrations_bench \\
      REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/poll_benchmark.py --clusters 2

For each N it makes a fresh database, N runs already polling (due times
spread over one interval), starts `runworkers` (with a row counter; with
--clusters, several) and the local service, and measures over a window:
polls per second, lag of each poll behind its due time (p50/p95/p99), CPU
seconds per poll of the clusters' processes, rows written per poll; then
how long a met stop condition takes to end its run; then the same number of
calls made by a bare requests.Session loop, with the ratio.

--mixed: 10% of the runs poll a service that answers after 2 s, 1% one that
never answers (their read timeout, 5 s, ends each poll; a timeout is "keep
polling" for them). A run is due one interval after its previous answer, so
a slow run's due time includes its own latency; figures are given for the
fast runs and for the slow and hanging ones apart.

--ending PERCENT: that share of the runs is answered "done" at its 3rd poll, so
those runs end by themselves inside the window (others end only after it, when
the stop condition is met for the end-time figure). 0 by default; 1 with
--webhooks, so that there are run-end events to deliver.

--webhooks: a local receiver (a threaded HTTP server answering 204) is
subscribed to every event; the cluster delivers the run-end events of the
ending runs while it polls. Printed beside the usual figures: the runs that
ended in the window and the deliveries the receiver got in it.
"""

import argparse
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values, fraction):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def group_cpu_seconds(pgid):
    """User + system CPU of every live process in a process group."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                fields = file.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat, counted after the command name
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def rows_written(directory):
    total = 0
    for path in Path(directory).glob("writes-*"):
        try:
            total += int(path.read_text() or 0)
        except ValueError:
            pass
    return total


def sends_by_cluster(directory):
    """Requests sent so far, by cluster (bench/workers.py counts them per process)."""
    totals = {}
    for path in Path(directory).glob("sends-*"):
        cluster = path.name.split("-")[1]
        try:
            totals[cluster] = totals.get(cluster, 0) + int(path.read_text() or 0)
        except ValueError:
            pass
    return totals


def fresh_database(url, directory):
    """A database URL with an empty, migrated schema."""
    if not url:
        return f"sqlite:///{directory}/bench.sqlite3"
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return url


HANG_TIMEOUT = 5.0
LATENCY = {"poll": 0.0, "slow": 2.0, "hang": HANG_TIMEOUT, "end": 0.0}
END_AT = 3  # the attempt from which /end/<run> answers "done" (bench/fast_server.py --end-at)


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver: reads the delivery, answers 204, notes when it came."""

    protocol_version = "HTTP/1.1"
    received = []

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(204)
        self.end_headers()
        Receiver.received.append(time.time())

    def log_message(self, *args):
        pass


def start_receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server

SETUP = """
import django, os, sys
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from datetime import timedelta
from django.utils import timezone
from integrations.models import Action, Integration, StopCondition
from runs.models import Run, Status
n, interval, port, mixed = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[6] == "mixed"
ending, hook_port = float(sys.argv[7]), int(sys.argv[8])
every_ending = round(100 / ending) if ending else 0
integration = Integration.objects.create(name="Bench", slug="bench", base_url=f"http://127.0.0.1:{port}")
actions = {}
for kind, read_timeout, on_error in (("poll", 10, "retry"), ("slow", 10, "retry"), ("hang", %(hang)s, "keep_polling"),
                                     ("end", 10, "retry")):
    actions[kind] = Action.objects.create(integration=integration, name=kind, slug=kind, method="GET",
        url=f"/{kind}/{{{{ run.id }}}}", polling_mode="poll", poll_interval=interval,
        poll_params={"attempt": "{{ run.attempt }}"}, read_timeout=read_timeout, connect_timeout=5,
        on_connection_error=on_error)
    StopCondition.objects.create(action=actions[kind], path="status", value="done", outcome="success")

def kind(i):
    if mixed and i %% 100 == 0:
        return "hang"
    if mixed and i %% 10 == 1:
        return "slow"
    if every_ending and i %% every_ending == every_ending // 2:
        return "end"
    return "poll"

if sys.argv[9] == "burst":
    # What a finish causes, so that the burst pays for it: the chain's next run (it waits for a start, so
    # it adds no polls) and a webhook for every run.succeeded, to the bench's own service.
    from webhooks.models import Subscription
    follow = Action.objects.create(integration=integration, name="follow", slug="follow", method="GET",
                                   url="/follow", auto_start=False)
    Action.objects.filter(pk=actions["poll"].pk).update(next_action=follow)
    Subscription.objects.create(name="bench", url=f"http://127.0.0.1:{port}/hook/", events=["run.succeeded"])
if hook_port:
    from runs.events import Event
    from webhooks.models import Subscription
    Subscription.objects.create(name="Bench receiver", url=f"http://127.0.0.1:{hook_port}/hook",
                                events=sorted(Event.values))

start = timezone.now() + timedelta(seconds=float(sys.argv[4]))
runs = [Run(action=actions[kind(i)], integration=integration, status=Status.POLLING, started_at=timezone.now(),
            next_poll_at=start + timedelta(seconds=interval * i / n)) for i in range(n)]
Run.objects.bulk_create(runs, batch_size=2000)
with open(sys.argv[5], "w") as f:
    for run in Run.objects.order_by("id").values_list("id", "next_poll_at", "action__slug"):
        f.write(f"{run[0]} {run[1].timestamp():.6f} {run[2]}\\n")
""" % {"hang": HANG_TIMEOUT}

FINISHED = """
import django, sys, time
django.setup()
from runs.models import Run
ids = [int(x) for x in sys.argv[1].split(",")]
every = float(sys.argv[5])
Run.objects.filter(pk__in=ids[:1]).exists()  # connected and ready before the answers change
open(sys.argv[4], "w").close()  # from now on the service answers "done"
deadline = time.time() + float(sys.argv[2])
seen, wanted = {}, set(ids)
# Many watched runs: one query for every finished run of their range (a list of 10,000 ids each time costs more).
finished = (Run.objects.filter(pk__gte=min(ids), pk__lte=max(ids)) if len(ids) > 500 else Run.objects.filter(pk__in=ids))
while len(seen) < len(ids) and time.time() < deadline:
    now = time.time()
    for pk in finished.filter(finished_at__isnull=False).values_list("pk", flat=True):
        if pk in wanted:
            seen.setdefault(pk, now)
    time.sleep(every)
with open(sys.argv[3], "w") as f:
    for pk, at in seen.items():
        f.write(f"{pk} {at:.6f}\\n")
if sys.argv[6] == "burst":  # what the finishes caused, written in their transactions
    from webhooks.models import Delivery
    next_runs = Run.objects.filter(previous_run__in=list(seen)).count()
    with open(sys.argv[3] + ".caused", "w") as f:
        f.write(f"{next_runs} {Delivery.objects.count()}")
"""


def bench(n, args, database_url, redis_url):
    directory = tempfile.mkdtemp(prefix="integrations-bench-")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "integrations_site.settings", "BENCH_DIR": directory,
           "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING", "Q_CLUSTER_NAME": f"bench{os.getpid()}"}
    env["DATABASE_URL"] = fresh_database(database_url, directory)
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)

    server_log, done_flag, port_file = f"{directory}/server.log", f"{directory}/done", f"{directory}/port"
    hooks_file = f"{directory}/hooks"
    server = subprocess.Popen([sys.executable, str(ROOT / "bench/fast_server.py"), "--log", server_log,
                               "--done-flag", done_flag, "--port-file", port_file, "--hooks-file", hooks_file,
                               "--slow-seconds", str(LATENCY["slow"]), "--end-at", str(END_AT)],
                              start_new_session=True)
    while not os.path.exists(port_file) or not Path(port_file).read_text():
        time.sleep(0.05)
    port = int(Path(port_file).read_text())

    warmup = 8.0
    receiver = start_receiver() if args.webhooks else None
    Receiver.received = []
    due_file = f"{directory}/due"
    subprocess.run(
        [sys.executable, "-c", SETUP, str(n), str(args.interval), str(port), str(warmup), due_file,
         "mixed" if args.mixed else "steady", str(args.ending), str(receiver.server_port if receiver else 0),
         "burst" if args.burst else "plain"],
        cwd=ROOT, env=env, check=True)
    first_due, kinds = {}, {}
    for line in Path(due_file).read_text().splitlines():
        run_id, due, kind = line.split()
        first_due[int(run_id)], kinds[int(run_id)] = float(due), kind

    clusters = [subprocess.Popen([sys.executable, str(ROOT / "bench/workers.py")], cwd=ROOT, env=env,
                                 start_new_session=True, stdout=subprocess.DEVNULL)
                for _ in range(args.clusters)]
    polls_start = min(first_due.values())
    # One interval of warm-up polling, plus the longest latency, so every run has been polled once.
    window_start = polls_start + args.interval + (HANG_TIMEOUT if args.mixed else 0)
    window_end = window_start + args.seconds
    time.sleep(max(0, window_start - time.time()))
    cpu0 = [group_cpu_seconds(c.pid) for c in clusters]
    rows0, sends0 = rows_written(directory), sends_by_cluster(directory)
    time.sleep(max(0, window_end - time.time()))
    cpu1 = [group_cpu_seconds(c.pid) for c in clusters]
    rows1, sends1 = rows_written(directory), sends_by_cluster(directory)
    delivered = sum(1 for at in Receiver.received if window_start <= at < window_end)

    # A met stop condition: the watcher makes the service answer "done" and
    # notes when each watched (fast) run is seen finished. --burst: every fast
    # run is watched (each finishes at its next poll, so all of them within one
    # interval), looked for every 50 ms; otherwise 200 of them, every 10 ms.
    fast_ids = sorted(run_id for run_id, kind in kinds.items() if kind == "poll")
    watched = fast_ids if args.burst else fast_ids[:: max(1, len(fast_ids) // 200)]
    finished_file = f"{directory}/finished"
    subprocess.run([sys.executable, "-c", FINISHED, ",".join(map(str, watched)),
                    str(args.interval * 3 + 10), finished_file, done_flag, "0.05" if args.burst else "0.01",
                    "burst" if args.burst else "plain"], cwd=ROOT, env=env, check=True)

    for cluster in clusters:
        os.kill(cluster.pid, signal.SIGTERM)
    for cluster in clusters:
        try:
            cluster.wait(timeout=60)
        except subprocess.TimeoutExpired:
            print("  (a cluster did not stop within 60 s of SIGTERM; killed)", flush=True)
            os.killpg(cluster.pid, signal.SIGKILL)
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)
    caused = Path(finished_file + ".caused").read_text().split() if args.burst else ["-", "-"]
    hooks = Path(hooks_file).read_text() if os.path.exists(hooks_file) else "0"
    if receiver:
        receiver.shutdown()

    polls = {}
    done_answer = {}
    for line in Path(server_log).read_text().splitlines():
        run_id, attempt, at, answer, _kind = line.split()
        run_id = int(run_id)
        polls.setdefault(run_id, []).append((int(attempt), float(at)))
        if answer == "done":
            done_answer.setdefault(run_id, float(at))
    ended = sum(1 for run_id, at in done_answer.items()
                if kinds[run_id] == "end" and window_start <= at < window_end)
    in_window = {kind: 0 for kind in LATENCY}
    lags = {kind: [] for kind in LATENCY}
    for run_id, items in polls.items():
        items.sort()
        kind = kinds[run_id]
        due = first_due[run_id]
        for attempt, at in items:
            if window_start <= at < window_end:
                in_window[kind] += 1
                lags[kind].append(at - due)
            due = at + LATENCY[kind] + args.interval
    duplicates = sum(len(items) - len({a for a, _ in items}) for items in polls.values())
    ends = []
    for line in Path(finished_file).read_text().splitlines():
        run_id, seen_at = int(line.split()[0]), float(line.split()[1])
        if run_id in done_answer:
            ends.append(seen_at - done_answer[run_id])

    total = sum(in_window.values())
    bare = bare_loop(calls=min(total, args.bare_calls), directory=directory)
    shutil.rmtree(directory, ignore_errors=True)

    cpu_per_poll = (sum(cpu1) - sum(cpu0)) / total if total else float("nan")
    result = {
        "runs": n,
        "polls_per_s": total / args.seconds,
        "target_per_s": sum(args.interval / (args.interval + LATENCY[kinds[r]]) for r in kinds) / args.interval,
        "cpu_ms_per_poll": cpu_per_poll * 1000,
        "rows_per_poll": (rows1 - rows0) / total if total else float("nan"),
        "end_p50_ms": percentile(ends, 0.50) * 1000,
        "end_p99_ms": percentile(ends, 0.99) * 1000,
        "end_max_ms": max(ends) * 1000 if ends else float("nan"),
        "next_runs": caused[0],
        "outbox_rows": caused[1],
        "hooks_delivered": hooks,
        "ends_seen": f"{len(ends)}/{len(watched)}",
        "duplicate_attempts": duplicates,
        "ended_in_window": ended,
        "deliveries_in_window": delivered if receiver else None,
        "bare_cpu_ms": bare["cpu_ms"],
        "bare_per_s": bare["per_s"],
        "cpu_ratio": cpu_per_poll * 1000 / bare["cpu_ms"] if bare["cpu_ms"] else float("nan"),
        "per_cluster_polls_per_s": [
            (sends1.get(key, 0) - sends0.get(key, 0)) / args.seconds for key in sorted(sends1)
        ],
    }
    for kind in LATENCY:
        count = sum(1 for k in kinds.values() if k == kind)
        result[kind] = {
            "runs": count,
            "polls_per_s": in_window[kind] / args.seconds,
            "target_per_s": count / (args.interval + LATENCY[kind]),
            "lag_p50_ms": percentile(lags[kind], 0.50) * 1000,
            "lag_p95_ms": percentile(lags[kind], 0.95) * 1000,
            "lag_p99_ms": percentile(lags[kind], 0.99) * 1000,
        }
    return result


STARTS = """
import django, sys, time
django.setup()
from integrations.models import Action, ActionInput, Integration
from runs.services import start_run
action = Action.objects.create(integration=Integration.objects.get(slug="bench"), name="once", slug="once",
                               method="GET", url="/poll/{{ key }}")
ActionInput.objects.create(action=action, name="key")
with open(sys.argv[2], "w") as f:
    for key in range(1, int(sys.argv[1]) + 1):
        time.sleep(float(sys.argv[3]))  # the cluster idles in between
        at = time.time()
        start_run(action, {"key": str(key)})
        f.write(f"{key} {at:.6f}\\n")
"""


def idle(args, database_url, redis_url):
    """A cluster with nothing to do: the CPU its processes use over args.idle seconds, then how long runs
    started one by one while it idles take to reach the service (start_run called -> first request)."""
    directory = tempfile.mkdtemp(prefix="integrations-bench-")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "integrations_site.settings", "BENCH_DIR": directory,
           "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING", "Q_CLUSTER_NAME": f"bench{os.getpid()}"}
    env["DATABASE_URL"] = fresh_database(database_url, directory)
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)
    server_log, port_file = f"{directory}/server.log", f"{directory}/port"
    server = subprocess.Popen([sys.executable, str(ROOT / "bench/fast_server.py"), "--log", server_log,
                               "--done-flag", f"{directory}/done", "--port-file", port_file], start_new_session=True)
    while not os.path.exists(port_file) or not Path(port_file).read_text():
        time.sleep(0.05)
    subprocess.run([sys.executable, "-c", SETUP, "0", str(args.interval), Path(port_file).read_text(), "0",
                    f"{directory}/due", "steady", "0", "0", "plain"], cwd=ROOT, env=env, check=True)
    cluster = subprocess.Popen([sys.executable, str(ROOT / "bench/workers.py")], cwd=ROOT, env=env,
                               start_new_session=True, stdout=subprocess.DEVNULL)
    time.sleep(10)  # started, forked, connected
    cpu0, wall0 = group_cpu_seconds(cluster.pid), time.monotonic()
    time.sleep(args.idle)
    cpu, wall = group_cpu_seconds(cluster.pid) - cpu0, time.monotonic() - wall0
    starts_file = f"{directory}/starts"
    subprocess.run([sys.executable, "-c", STARTS, str(args.idle_starts), starts_file, "1.5"], cwd=ROOT, env=env,
                   check=True)
    time.sleep(2)
    os.kill(cluster.pid, signal.SIGTERM)
    cluster.wait(timeout=60)
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)
    first = {}
    for line in Path(server_log).read_text().splitlines():
        fields = line.split()  # key, no attempt (the action sends no query), time, answer, kind
        first.setdefault(int(fields[0]), float(fields[-3]))
    waits = [first[int(key)] - float(at) for key, at in (line.split() for line in Path(starts_file).read_text().splitlines())
             if int(key) in first]
    shutil.rmtree(directory, ignore_errors=True)
    return {"cpu_percent": cpu / wall * 100, "seconds": wall, "starts": len(waits), "asked": args.idle_starts,
            "start_p50_ms": percentile(waits, 0.5) * 1000, "start_max_ms": max(waits) * 1000 if waits else float("nan")}


def bare_loop(calls, directory):
    """The same calls from one requests.Session in a plain loop (a fresh service, so logs don't mix)."""
    import requests

    log, flag, pfile = f"{directory}/bare.log", f"{directory}/bare-done", f"{directory}/bare-port"
    server = subprocess.Popen([sys.executable, str(ROOT / "bench/fast_server.py"), "--log", log,
                               "--done-flag", flag, "--port-file", pfile], start_new_session=True)
    while not os.path.exists(pfile) or not Path(pfile).read_text():
        time.sleep(0.05)
    url = f"http://127.0.0.1:{Path(pfile).read_text()}/poll/1"
    session = requests.Session()
    calls = max(calls, 100)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for attempt in range(calls):
        session.get(url, params={"attempt": attempt}, timeout=10).json()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    os.killpg(server.pid, signal.SIGTERM)
    server.wait(timeout=30)
    return {"cpu_ms": cpu / calls * 1000, "per_s": calls / wall}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0, help="measurement window per N")
    parser.add_argument("--bare-calls", type=int, default=20000)
    parser.add_argument("--mixed", action="store_true", help="10%% of runs answer after 2 s, 1%% never answer")
    parser.add_argument("--clusters", type=int, default=1, help="runworkers processes on the same database")
    parser.add_argument("--burst", action="store_true",
                        help="watch every fast run finish (all within one interval), each finish causing a chain's "
                             "next run and a webhook")
    parser.add_argument("--idle", type=float, metavar="SECONDS",
                        help="instead: the CPU of a cluster with nothing to do over SECONDS, and how soon a run "
                             "started meanwhile is sent")
    parser.add_argument("--idle-starts", type=int, default=10, help="runs started one by one after --idle")
    parser.add_argument("--ending", type=float, default=None,
                        help="percent of runs answered done at their 3rd poll, so they end in the window "
                             "(default 0; 1 with --webhooks)")
    parser.add_argument("--webhooks", action="store_true",
                        help="subscribe a local receiver (threaded HTTP server answering 204) to every event; "
                             "prints the deliveries it got in the window")
    args = parser.parse_args()
    if args.ending is None:
        args.ending = 1.0 if args.webhooks else 0.0
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    where = ("PostgreSQL" if database_url else "SQLite") + (" + Redis broker" if redis_url else " + ORM broker")
    if args.idle:
        r = idle(args, database_url, redis_url)
        print(f"Idle cluster: {where}, {os.cpu_count()} cores")
        print(f"  CPU {r['cpu_percent']:.2f}% of a core over {r['seconds']:.0f} s; runs started while it idles "
              f"({r['starts']}/{r['asked']}) sent after p50 {r['start_p50_ms']:.0f} ms, max {r['start_max_ms']:.0f} ms "
              "(start_run called -> first request at the service)", flush=True)
        return
    workload = "mixed (10% slow 2 s, 1% hanging to a 5 s read timeout)" if args.mixed else "steady"
    extras = (f", {args.ending:g}% ending at their 3rd poll" if args.ending else "") + \
        (", webhooks to a local receiver" if args.webhooks else "")
    print(f"Polling benchmark: {where}, {workload}{extras}, {args.clusters} cluster(s), interval {args.interval:g} s, "
          f"window {args.seconds:g} s, {os.cpu_count()} cores")
    header = ("runs", "polls/s", "target", "lag p50", "p95", "p99 ms", "CPU ms/poll", "rows/poll",
              "end p50", "max ms", "bare ms/call", "ratio", "dup")
    print("{:>6} {:>8} {:>7} {:>8} {:>7} {:>7} {:>11} {:>9} {:>8} {:>7} {:>12} {:>6} {:>4}".format(*header))
    for n in args.runs:
        r = bench(n, args, database_url, redis_url)
        fast = r["poll"]
        print("{runs:>6} {polls:>8.1f} {target:>7.0f} {p50:>8.0f} {p95:>7.0f} {p99:>7.0f} {cpu_ms_per_poll:>11.2f} "
              "{rows_per_poll:>9.2f} {end_p50_ms:>8.0f} {end_max_ms:>7.0f} {bare_cpu_ms:>12.2f} {cpu_ratio:>6.1f} "
              "{duplicate_attempts:>4}".format(polls=r["polls_per_s"], target=r["target_per_s"], p50=fast["lag_p50_ms"],
                                              p95=fast["lag_p95_ms"], p99=fast["lag_p99_ms"], **r), flush=True)
        if args.mixed:
            for kind, label in (("poll", "fast"), ("slow", "slow 2 s"), ("hang", "hanging")):
                k = r[kind]
                print(f"        {label:>9}: {k['runs']:>5} runs, {k['polls_per_s']:7.1f} of {k['target_per_s']:7.1f} "
                      f"polls/s, lag p50/p95/p99 {k['lag_p50_ms']:.0f}/{k['lag_p95_ms']:.0f}/{k['lag_p99_ms']:.0f} ms "
                      "(due: previous answer + interval)", flush=True)
        if args.ending or args.webhooks:
            hooks = f", {r['deliveries_in_window']} webhook deliveries received" if args.webhooks else ""
            print(f"        in the window: {r['ended_in_window']} of {r['end']['runs']} ending runs ended{hooks}",
                  flush=True)
        if args.clusters > 1:
            shares = ", ".join(f"{value:.1f}" for value in r["per_cluster_polls_per_s"])
            print(f"        polls/s by cluster: {shares} (sum {sum(r['per_cluster_polls_per_s']):.1f})", flush=True)
        print(f"        stop answer -> seen finished ({r['ends_seen']} runs): p50 {r['end_p50_ms']:.0f}, "
              f"p99 {r['end_p99_ms']:.0f}, max {r['end_max_ms']:.0f} ms", flush=True)
        if args.burst:
            print(f"        the finishes caused {r['next_runs']} next runs and {r['outbox_rows']} webhook rows "
                  f"({r['hooks_delivered']} delivered before the cluster stopped)", flush=True)


if __name__ == "__main__":
    main()
