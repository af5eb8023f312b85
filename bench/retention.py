"""Retention benchmark: a database of --exchanges exchanges, then one retention pass, its time and peak memory.

    .venv/bin/python bench/retention.py --exchanges 1000000          # SQLite, /tmp/integrations-retention-bench.sqlite3
    .venv/bin/python bench/retention.py --exchanges 10000000         # the issue's size (about 8 GB of SQLite)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/retention.py --exchanges 1000000

It makes its database anew every time (a retention pass spends what it
measures): a SQLite file (--database), or with DATABASE_URL a database on
that server named by --database (default integrations_retention_bench; never
the database DATABASE_URL names). It fills it with SQL (INSERT ... SELECT over
a generated series, so filling takes no memory either):

- half of the exchanges belong to runs that finished 40 days ago, 100 each
  (rule 1 removes them all);
- 30% to 20 runs still polling, whose answers changed at every poll, their
  ids interleaved as the engine writes them (rule 2 keeps each one's first and
  last INTEGRATIONS_EXCHANGES_KEPT_PER_RUN);
- 20% to runs that finished yesterday, 50 each (nothing to remove).

Each exchange is a poll as the engine logs it: URL, headers, a JSON answer of
--body-bytes and what was decided. Then a new process, which has done nothing
else, runs `Retention().finish()` (what `manage.py prune_exchanges` and the
cluster's thread do) and reports its time, its longest step, and its peak
resident memory (VmHWM) beside what it used before the pass.
"""

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MARKER = "retention_bench"
OLD_PER_RUN, RECENT_PER_RUN, ENDLESS_RUNS = 100, 50, 20
REQUEST_HEADERS = json.dumps({"Accept": "application/json", "Authorization": "***", "User-Agent": "integrations/1"})
RESPONSE_HEADERS = json.dumps({"Content-Type": "application/json", "Server": "nginx", "X-Request-Id": "***",
                               "Date": "Wed, 02 Dec 2026 12:00:00 GMT"})
DECISION = "No stop condition matched: keep polling."


def new_database(args):
    """The benchmark's database URL, made empty (after checking that it is the benchmark's own)."""
    server = os.environ.get("DATABASE_URL", "")
    if not server:
        path = args.database or "/tmp/integrations-retention-bench.sqlite3"
        if os.path.exists(path):
            with closing(sqlite3.connect(path)) as db:
                tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and MARKER not in tables:
                sys.exit(f"{path} holds tables that this benchmark did not make; give another --database.")
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
        return f"sqlite:///{path}"

    import psycopg

    name = args.database or "integrations_retention_bench"
    parts = urlsplit(server)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            with psycopg.connect(url) as db:
                tables = {row[0] for row in db.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
            if tables and MARKER not in tables:
                sys.exit(f"Database {name} holds tables that this benchmark did not make; give another --database.")
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return url


def fill(connection, total, body_bytes):
    """Runs and ``total`` exchanges as described at the top."""
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from integrations.models import Action, Integration
    from runs.models import Run

    integration = Integration.objects.create(name="Jobs", slug="jobs", base_url="https://api.jobs.test/v2")
    action = Action.objects.create(integration=integration, name="Run a job", slug="run-job", method="POST",
                                   url="/jobs", polling_mode="poll", poll_url="/jobs/{{ job_id }}", poll_interval=1)
    now = timezone.now()
    old_total, endless_total = total // 2, total * 3 // 10
    groups = [  # (runs, exchanges, finished days ago or None, interleaved)
        (max(1, old_total // OLD_PER_RUN), old_total, 40, False),
        (ENDLESS_RUNS, endless_total, None, True),
        (max(1, (total - old_total - endless_total) // RECENT_PER_RUN), total - old_total - endless_total, 1, False),
    ]
    filler = "x" * max(0, body_bytes - 60)
    for count, exchanges, days_ago, interleaved in groups:
        started = now - timedelta(days=(days_ago or 7) + 1)
        finished = None if days_ago is None else now - timedelta(days=days_ago)
        first = None
        for start in range(0, count, 5000):
            runs = Run.objects.bulk_create([
                Run(action=action, integration=integration, status="succeeded" if finished else "polling",
                    attempt=exchanges // count, polls=exchanges // count, created_at=started, started_at=started,
                    finished_at=finished, next_poll_at=None if finished else now + timedelta(days=1))
                for _ in range(start, min(count, start + 5000))
            ])
            first = first or runs[0].pk
        with transaction.atomic():
            insert_exchanges(connection, first_run=first, runs=count, exchanges=exchanges, interleaved=interleaved,
                             at=started if finished is None else finished, filler=filler)
        print(f"  {exchanges:,} exchanges of {count:,} runs", flush=True)
    with connection.cursor() as cursor:
        # Each run points at its newest exchange, as the engine leaves it.
        cursor.execute("UPDATE runs_run SET last_exchange_id = (SELECT MAX(e.id) FROM runs_exchange e "
                       "WHERE e.run_id = runs_run.id)")
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")


def insert_exchanges(connection, *, first_run, runs, exchanges, interleaved, at, filler):
    """One INSERT ... SELECT: exchange i of the group belongs to run i // per-run (or i % runs, interleaved)."""
    per_run = max(1, exchanges // runs)
    if interleaved:
        run, attempt = f"{first_run} + i %% {runs}", f"i / {runs} + 1"  # %% is % once the driver has read it
    else:
        run, attempt = f"{first_run} + MIN(i / {per_run}, {runs - 1})", f"i %% {per_run} + 1"
    if connection.vendor == "postgresql":
        run = run.replace("MIN(", "LEAST(")
        series = "generate_series(0, %s - 1) AS s(i)"
        body = "format('{\"id\": \"job-%%s\", \"status\": \"running\", \"progress\": %%s, \"log\": \"%%s\"}', " \
               f"{run}, i, %s)"
        prefix = ""
    else:
        series = "seq"
        body = f"printf('{{\"id\": \"job-%%d\", \"status\": \"running\", \"progress\": %%d, \"log\": \"%%s\"}}', " \
               f"{run}, i, %s)"
        prefix = "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < %s) "
    sql = (
        f"{prefix}INSERT INTO runs_exchange (run_id, kind, attempt, sent, method, url, request_headers, "
        "request_body, status_code, response_headers, response_body, response_size, response_truncated, "
        "duration_ms, error, failed_part, decision, repeat_count, last_attempt, created_at, last_at) "
        f"SELECT {run}, 'poll', {attempt}, %s, 'GET', 'https://api.jobs.test/v2/jobs/job-' || ({run}), %s, '', 200, "
        f"%s, {body}, 80 + %s, %s, 87.5, '', '', %s, 1, NULL, %s, %s FROM {series}"
    )
    when = connection.ops.adapt_datetimefield_value(at)
    params = [True, REQUEST_HEADERS, RESPONSE_HEADERS, filler, len(filler), False, DECISION, when, when]
    params = params + [exchanges] if connection.vendor == "postgresql" else [exchanges] + params
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def footprint(connection):
    """(exchanges, bytes on disk: the database and, on SQLite, its WAL)."""
    from runs.models import Exchange

    rows = Exchange.objects.count()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_database_size(current_database())")
            return rows, cursor.fetchone()[0], 0
    name = connection.settings_dict["NAME"]
    wal = Path(f"{name}-wal")
    return rows, os.path.getsize(name), wal.stat().st_size if wal.exists() else 0


def peak_rss_mb():
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, Linux does not carry it over from the
    parent across fork and exec)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def measure_pass():
    """In a process of its own: one retention pass, timed, with its peak memory."""
    import django

    django.setup()
    from django.db import connection

    from runs.models import Exchange
    from runs.retention import Done, Retention

    Exchange.objects.exists()  # connected, as before any pass
    before = peak_rss_mb()
    retention = Retention()
    total, steps, longest = Done(more=True), 0, 0.0
    started = time.perf_counter()
    while total.more:
        began = time.perf_counter()
        done = retention.step()
        longest = max(longest, time.perf_counter() - began)
        steps += 1
        total = Done(total.old + done.old, total.middle + done.middle, total.files + done.files, done.more)
    seconds = time.perf_counter() - started
    print(json.dumps({
        "seconds": seconds, "steps": steps, "longest_step_ms": longest * 1000, "old": total.old,
        "middle": total.middle, "rss_before_mb": before, "peak_rss_mb": peak_rss_mb(), "vendor": connection.vendor,
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exchanges", type=int, default=1_000_000)
    parser.add_argument("--body-bytes", type=int, default=300, help="size of each logged answer")
    parser.add_argument("--kept", type=int, default=100, help="INTEGRATIONS_EXCHANGES_KEPT_PER_RUN")
    parser.add_argument("--database", help="the SQLite file, or the PostgreSQL database on DATABASE_URL's server")
    parser.add_argument("--measure-pass", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_pass:
        return measure_pass()

    url = new_database(args)
    os.environ.update(DATABASE_URL=url, DEBUG="0", LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="integrations_site.settings",
                      INTEGRATIONS_EXCHANGES_KEPT_PER_RUN=str(args.kept), INTEGRATIONS_EXCHANGE_RETENTION_DAYS="30")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {MARKER} (made text)")  # this database is the benchmark's to drop
    empty = footprint(connection)
    print(f"Filling {args.exchanges:,} exchanges ({args.body_bytes} B answers)...", flush=True)
    started = time.perf_counter()
    fill(connection, args.exchanges, args.body_bytes)
    filled = footprint(connection)
    connection.close()
    print(f"Filled in {time.perf_counter() - started:.0f} s: {filled[1] / 2**20:,.0f} MiB on disk, "
          f"{(filled[1] - empty[1]) / filled[0]:,.0f} bytes an exchange with its index entries.", flush=True)

    child = subprocess.run([sys.executable, __file__, "--measure-pass"], env=os.environ, capture_output=True,
                           text=True, check=False)
    if child.returncode:
        sys.exit(child.stderr)
    result = json.loads(child.stdout.strip().splitlines()[-1])
    after = footprint(connection)
    backend = (f"PostgreSQL ({connection.settings_dict['NAME']})" if connection.vendor == "postgresql"
               else f"SQLite {sqlite3.sqlite_version} ({connection.settings_dict['NAME']})")
    print(f"Retention pass: {backend}, {args.exchanges:,} exchanges, kept per run {args.kept}, {os.cpu_count()} cores")
    print(f"  removed {result['old']:,} exchanges of old runs and {result['middle']:,} from long logs "
          f"in {result['seconds']:.1f} s, {result['steps']:,} steps (longest {result['longest_step_ms']:.0f} ms)")
    print(f"  peak memory {result['peak_rss_mb']:.0f} MB (before the pass {result['rss_before_mb']:.0f} MB)")
    print(f"  exchanges {filled[0]:,} -> {after[0]:,}; on disk {filled[1] / 2**20:,.0f} MiB -> "
          f"{after[1] / 2**20:,.0f} MiB" + (f", WAL {after[2] / 2**20:,.1f} MiB" if connection.vendor == "sqlite" else ""))


if __name__ == "__main__":
    main()
