"""Admin pages benchmark: the overview, the runs list, a run's page and the Debug view with a long history.

    .venv/bin/python bench/admin_pages.py                     # SQLite: 100,000 runs, 1,000,000 exchanges
    .venv/bin/python bench/admin_pages.py --runs 5000 --exchanges 50000 --largest-run 5000   # a quick one
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/admin_pages.py
    .venv/bin/python bench/admin_pages.py --explain           # and the plan of each page's queries
    .venv/bin/python bench/admin_pages.py --pages overview    # only the overview (the admin's landing page)

It seeds its own database once and reuses it while the sizes are the same: a
SQLite file (--database, default /tmp/integrations-admin-bench.sqlite3), or
with DATABASE_URL a database on that server named by --database (default
integrations_admin_bench; never the database DATABASE_URL names, which is
someone's test database). A database it did not seed is never dropped.

What it seeds: 4 integrations with 5 actions each, used unevenly; runs
created over 90 days, most succeeded, some failed, timed out, cancelled or
skipped, the last day's partly still active, 3% rehearsals, a third created
by a user; variables with a customer, an order number, an environment and a
note; 3% of runs are refires of a recent failed run. Failed and timed-out
runs have a cause (mostly HTTP 500, some 401, timeouts, refused connections,
failure outcomes; time limit or attempts), and every ended run is counted in
the tallies as the write-back counts it (runs.tallies). Exchanges: the largest
run (still polling, started 7 days ago) has --largest-run of them, nine
others a fifth or a tenth of that, the rest about 9 a run on average (a
request, then polls, some repeated answers, failures logged on the last).
Exchange ids follow time across the runs of each 2,000, as the engine
writes them, rather than one run's all together.

Then, in this process, DEBUG off, through Django's test client logged in as
a superuser, each page is requested once to warm up, once to count its SQL
queries and then --repeats times; the table gives the median and max time of
a request, the number of queries and their time as Django's debug cursor
records it (on SQLite that leaves out the rows read after the first, so it
understates a scan). The exit status is 1 when a median reaches --limit ms
(300), so the benchmark serves as a check.
"""

import argparse
import json
import os
import random
import re
import sqlite3
import statistics
import sys
import time
from collections import deque
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Bump when what is seeded changes, so that an old benchmark database is seeded again.
SEED_VERSION = 2
MARKER = "admin_bench_seed"
DAYS = 90


# --- the database: its own, seeded once --------------------------------------------------------------------


def database_url(args, sizes):
    """The benchmark's database URL, and whether it is to be seeded (it was, with other sizes, and is dropped)."""
    server = os.environ.get("DATABASE_URL", "")
    if not server:
        path = args.database or "/tmp/integrations-admin-bench.sqlite3"
        if os.path.exists(path):
            with closing(sqlite3.connect(path)) as db:
                tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                seeded = read_marker(db.cursor()) if MARKER in tables else None
            if seeded and seeded["sizes"] == sizes:
                return f"sqlite:///{path}", False
            if tables and not seeded:
                sys.exit(f"{path} holds tables that this benchmark did not seed; give another --database.")
            for suffix in ("", "-wal", "-shm"):
                Path(path + suffix).unlink(missing_ok=True)
        return f"sqlite:///{path}", True

    import psycopg

    name = args.database or "integrations_admin_bench"
    parts = urlsplit(server)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            with psycopg.connect(url) as db:
                tables = {row[0] for row in db.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
                seeded = read_marker(db.cursor()) if MARKER in tables else None
            if seeded and seeded["sizes"] == sizes:
                return url, False
            if tables and not seeded:
                sys.exit(f"Database {name} holds tables that this benchmark did not seed; give another --database.")
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return url, True


def read_marker(cursor):
    cursor.execute(f"SELECT facts FROM {MARKER}")
    row = cursor.fetchone()
    return json.loads(row[0]) if row else None


def insert(connection, table, columns, rows):
    """Rows into a table as fast as the backend takes them: COPY on PostgreSQL, executemany on SQLite."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
            for first in range(0, len(rows), 20000):
                cursor.executemany(sql, rows[first:first + 20000])


INTEGRATIONS = {
    "Acme Billing": ["Charge card", "Refund", "Create invoice", "Sync customer", "Export ledger"],
    "Globex CRM": ["Create contact", "Update deal", "Merge contacts", "Import leads", "Close account"],
    "Initech Print": ["Render PDF", "Print batch", "Mail letter", "Archive document", "Cancel job"],
    "Umbrella Logistics": ["Book shipment", "Track parcel", "Print label", "Schedule pickup", "Return parcel"],
}
NOTES = ["", "", "", "nightly sync", "manual retry", "customer asked again", "from the API", "end of month"]
REASONS = {
    "succeeded": "Stop condition met: status is done.",
    "failed": "The service answered 500 three times in a row.",
    "timed_out": "No stop condition met within the polling timeout (1 h).",
    "cancelled": "Cancelled by a user.",
    "skipped": "A condition of the chain skipped it.",
    "polling": "Polling: status is running.",
    "waiting_callback": "Waiting for the service to call back.",
    "pending": "",
    "running": "",
}
CAUSES = {
    "failed": ["status:500"] * 5 + ["status:401", "timeout", "connection", "outcome:status equals failed"],
    "timed_out": ["time_limit", "attempts"],
}
FINISHED_STATUSES = ["succeeded"] * 84 + ["failed"] * 9 + ["timed_out"] * 3 + ["cancelled"] * 2 + ["skipped"] * 2
REQUEST_HEADERS = json.dumps({"Accept": "application/json", "Authorization": "***", "User-Agent": "integrations/1"})
RESPONSE_HEADERS = json.dumps({"Content-Type": "application/json", "Server": "nginx", "X-Request-Id": "***"})


def seed(connection, sizes, user):
    """Integrations, actions, runs and exchanges as described at the top; returns what the pages need."""
    from django.db import transaction
    from django.utils import timezone

    from integrations.models import Action, Integration

    rng = random.Random(20261123)
    n, total, largest = sizes["runs"], sizes["exchanges"], sizes["largest"]
    others = [largest // 5] * 4 + [largest // 10] * 5
    if total - largest - sum(others) < n:
        sys.exit(f"--exchanges {total} is too few for --runs {n} with a largest run of {largest}.")

    actions = []
    for number, (name, action_names) in enumerate(INTEGRATIONS.items()):
        slug = name.lower().replace(" ", "-")
        integration = Integration.objects.create(name=name, slug=slug, base_url=f"https://api.{slug}.test/v2")
        for action_name in action_names:
            action = Action.objects.create(
                integration=integration, name=action_name, slug=action_name.lower().replace(" ", "-"),
                method="POST", url="/jobs", polling_mode="poll" if number % 2 == 0 else "callback",
                poll_url="/jobs/{{ job_id }}", poll_interval=10)
            actions.append(action)
    weights = [1 / (rank + 1) for rank in range(len(actions))]  # a few actions do most of the work
    rng.shuffle(weights)

    now = timezone.now().replace(microsecond=0)
    start = now - timedelta(days=DAYS)
    largest_index = n - n * 7 // DAYS
    long_runs = {largest_index: largest, **dict(zip(rng.sample(range(n // 10, largest_index), len(others)), others))}
    mean = (total - largest - sum(others)) / (n - len(long_runs))
    as_time = connection.ops.adapt_datetimefield_value if connection.vendor == "sqlite" else (lambda value: value)

    from runs import tallies

    ended = []  # tallies.Ended of every run that ended, counted as the write-back counts them
    runs, plans = [], []  # plans: (run id, exchanges, first request at, interval, status, action) for the exchanges
    refireable = deque(maxlen=200)
    for index in range(n):
        run_id = index + 1
        created = start + timedelta(seconds=DAYS * 86400 * index / n + rng.uniform(0, 30))
        age = now - created
        action = rng.choices(actions, weights)[0]
        variables = {"customer": f"CUST-{rng.randrange(20000):05d}", "order": f"ORD-{run_id:07d}",
                     "env": rng.choice(["production", "production", "staging"]), "note": rng.choice(NOTES)}
        refired_from = None
        if refireable and rng.random() < 0.03:
            refired_from, action, variables = refireable[rng.randrange(len(refireable))]
        if index == n // 3:
            searched_customer = variables["customer"]
        if index == largest_index:
            status = "polling"
        elif index in long_runs:
            status = rng.choice(["succeeded", "timed_out"])
        elif age < timedelta(days=1) and rng.random() < 0.05:
            status = rng.choice(["pending", "running", "polling", "waiting_callback"])
        else:
            status = rng.choice(FINISHED_STATUSES)
        if status in ("failed", "timed_out", "cancelled"):
            refireable.append((run_id, action, variables))

        if index in long_runs:
            count = long_runs[index]
        elif status in ("pending", "skipped"):
            count = 0
        else:
            count = max(1, round(rng.expovariate(1 / mean)))
        interval = (min(age, timedelta(days=7)) * 0.98 / count).total_seconds() if index == largest_index else 10.0
        started = created + timedelta(seconds=0.2) if count else None
        finished = None
        if status in ("succeeded", "failed", "timed_out", "cancelled", "skipped"):
            finished = created + timedelta(seconds=count * interval + rng.uniform(0.1, 2))
        active = status in ("pending", "running", "polling", "waiting_callback")
        cause = rng.choice(CAUSES[status]) if status in CAUSES else ""
        if finished:
            ended.append(tallies.Ended(action.pk, action.integration_id, status, cause, started or created, finished))
        runs.append((
            run_id, action.pk, action.integration_id, status, REASONS[status], json.dumps(variables),
            json.dumps({"job_id": f"job-{run_id}"} if count else {}), rng.random() < 0.03, count, count, 0,
            as_time(now + timedelta(seconds=10)) if status == "polling" else None, None, "", "", False,
            as_time(now + timedelta(days=1)) if active else None, None, "", f"bench-{run_id}", refired_from, None,
            user.pk if rng.random() < 0.33 else None, as_time(created), as_time(started), as_time(finished), cause,
        ))
        plans.append((run_id, count, created + timedelta(seconds=0.2), interval, status, action))

    # Exact total: spread the rounding difference over ordinary runs.
    difference = total - sum(plan[1] for plan in plans)
    ordinary = [i for i, plan in enumerate(plans) if plan[1] and i not in long_runs]
    while difference:
        i = rng.choice(ordinary)
        step = 1 if difference > 0 else -1
        if plans[i][1] + step >= 1:
            plans[i] = (plans[i][0], plans[i][1] + step, *plans[i][2:])
            difference -= step

    run_columns = ["id", "action_id", "integration_id", "status", "reason", "variables", "fields", "rehearsal",
                   "attempt", "polls", "consecutive_errors", "next_poll_at", "lease_until", "lease_token",
                   "lease_holder", "in_flight", "deadline_at", "last_exchange_id", "last_answer_digest",
                   "callback_token", "refired_from_id", "previous_run_id", "created_by_id", "created_at",
                   "started_at", "finished_at", "cause"]
    with transaction.atomic():
        insert(connection, "runs_run", run_columns, runs)
        for first in range(0, len(ended), 20000):
            tallies.record(ended[first:first + 20000])
    del runs, ended

    exchange_columns = ["id", "run_id", "kind", "attempt", "sent", "method", "url", "request_headers",
                        "request_body", "status_code", "response_headers", "response_body", "response_size",
                        "response_truncated", "duration_ms", "error", "failed_part", "decision", "repeat_count",
                        "last_attempt", "created_at", "last_at"]
    next_id, chunk_size = 1, 2000
    for chunk_start in range(0, n, chunk_size):
        rows = []
        for run_id, count, first_at, interval, status, action in plans[chunk_start:chunk_start + chunk_size]:
            base = f"https://api.{action.integration.slug}.test/v2"
            for attempt in range(1, count + 1):
                at = first_at + timedelta(seconds=(attempt - 1) * interval)
                last = attempt == count
                failed = last and status == "failed"
                if failed:
                    body, code, decision = '{"error": "internal"}', 500, ""
                elif last and status == "succeeded":
                    body, code, decision = f'{{"id": "job-{run_id}", "status": "done"}}', 200, REASONS["succeeded"]
                else:
                    progress = min(99, attempt * 100 // max(count, 2))
                    body = f'{{"id": "job-{run_id}", "status": "running", "progress": {progress}}}'
                    code, decision = 200, "status is running: keep polling."
                repeats = rng.choice([2, 3, 5]) if not last and rng.random() < 0.1 else 1
                rows.append((
                    at, run_id, "request" if attempt == 1 else "poll", attempt, True,
                    "POST" if attempt == 1 else "GET", f"{base}/jobs" if attempt == 1 else f"{base}/jobs/job-{run_id}",
                    REQUEST_HEADERS, f'{{"order": "ORD-{run_id:07d}"}}' if attempt == 1 else "", code,
                    RESPONSE_HEADERS, body, len(body), False, round(rng.uniform(20, 400), 1),
                    "HTTP 500 Internal Server Error" if failed else "", "response" if failed else "", decision,
                    repeats, attempt + repeats - 1 if repeats > 1 else None,
                    at + timedelta(seconds=interval * (repeats - 1)),
                ))
        rows.sort(key=lambda row: row[0])  # ids in time order across the runs of the chunk
        numbered = []
        for row in rows:
            numbered.append((next_id, *row[1:20], as_time(row[0]), as_time(row[20])))
            next_id += 1
        with transaction.atomic():
            insert(connection, "runs_exchange", exchange_columns, numbered)
        if sys.stdout.isatty():
            print(f"  {next_id - 1:,} exchanges", end="\r", flush=True)

    with connection.cursor() as cursor:
        from django.core.management.color import no_style

        from runs.models import Exchange, Run

        for sql in connection.ops.sequence_reset_sql(no_style(), [Run, Exchange]):
            cursor.execute(sql)

    average = min((plan for plan in plans[n // 2:] if plan[4] == "succeeded" and plan[1] == round(mean)),
                  key=lambda plan: plan[0], default=plans[n // 2])
    busiest = actions[weights.index(max(weights))]
    return {"largest_run": largest_index + 1, "average_run": average[0], "customer": searched_customer,
            "action": busiest.pk, "integration": busiest.integration_id}


# --- the pages ---------------------------------------------------------------------------------------------


def pages(facts, which):
    """(name, URL, a text the page must show) of every page measured (``which``: all, overview or runs)."""
    from django.urls import reverse
    from django.utils import timezone

    from runs.admin import LOG_PAGE_SIZE
    from runs.models import Exchange

    changelist = reverse("admin:runs_run_changelist")
    # As DateFieldListFilter's "Past 7 days" link has them.
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    week = {"created_at__gte": str(today - timedelta(days=7)), "created_at__lt": str(today + timedelta(days=1))}
    largest, average = facts["largest_run"], facts["average_run"]
    middle = Exchange.objects.filter(run_id=largest).order_by("id").values_list("id", flat=True)[
        facts["largest_count"] // 2]
    some = Exchange.objects.filter(run_id=average).order_by("id").values_list("id", flat=True)[1]
    searched = f"#{facts['searched_run']}"
    middle_page = max(1, facts["largest_count"] // LOG_PAGE_SIZE // 2)
    overview = [
        ("overview", reverse("admin:index"), "Failures in the last 24 h"),
        ("  failures of 7 days", reverse("admin:index") + "?within=7d", "Failures in the last 7 days"),
        ("  a failure group's runs", f"{changelist}?" + urlencode(
            {"cause": "status:401", "action__id__exact": facts["action"], "finished": "24h"}), "#"),
    ]
    if which == "overview":
        return overview
    runs = [
        ("runs list", changelist, "#"),
        ("  status = failed", f"{changelist}?status__exact=failed", "Failed"),
        ("  by integration", f"{changelist}?integration__id__exact={facts['integration']}", "#"),
        ("  by action", f"{changelist}?action__id__exact={facts['action']}", "#"),
        ("  created in the past 7 days", f"{changelist}?{urlencode(week)}", "#"),
        ("  search a variable value", f"{changelist}?{urlencode({'q': facts['customer']})}", searched),
        ("  search a common value", f"{changelist}?q=staging", "#"),
        ("  search a run number", f"{changelist}?q=%23{largest}", f"#{largest}"),
        ("  page 50", f"{changelist}?p=50", "#"),
        ("run page, average run", run_url(average), f"Run #{average}"),
        ("run page, largest run", run_url(largest), f"Run #{largest}"),
        (f"  its log page {middle_page}", f"{run_url(largest)}?log={middle_page}", f"Run #{largest}"),
        ("Debug view, average run", exchange_url(average, some), "Debug view"),
        ("Debug view, largest run", exchange_url(largest, middle), "Debug view"),
    ]
    return runs if which == "runs" else overview + runs


def run_url(run_id):
    from django.urls import reverse

    return reverse("admin:runs_run_change", args=[run_id])


def exchange_url(run_id, exchange_id):
    from django.urls import reverse

    return reverse("admin:runs_run_exchange", args=[run_id, exchange_id])


def measure(client, url, expected, repeats):
    """Seconds of each request after a warm-up one, and the queries of one more request."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)
    if response.status_code != 200 or expected not in response.content.decode():
        sys.exit(f"{url} answered {response.status_code} without {expected!r}.")
    with CaptureQueriesContext(connection) as context:
        client.get(url)
    queries = context.captured_queries  # read now: the next request empties the log it is a view of
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        client.get(url)
        times.append(time.perf_counter() - started)
    return times, queries


def explain(connection, sql):
    """The plan of one captured query, as the backend gives it."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {sql}")
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return "\n".join(row[-1] for row in cursor.fetchall())


def shortened(sql):
    """A query as it reads in a plan listing: without its column list and long lists of ids."""
    sql = re.sub(r"^SELECT .*? FROM ", "SELECT ... FROM ", sql)
    return re.sub(r"IN \(([^()]{60})[^()]*\)", r"IN (\1...)", sql)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--exchanges", type=int, default=1_000_000)
    parser.add_argument("--largest-run", type=int, default=50_000, help="exchanges of the largest run")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--limit", type=float, default=300, help="the most a page's median may take, in ms")
    parser.add_argument("--database", help="the SQLite file, or the PostgreSQL database on DATABASE_URL's server")
    parser.add_argument("--pages", choices=["all", "overview", "runs"], default="all",
                        help="which pages: the overview, the runs pages (list, run page, Debug view), or all")
    parser.add_argument("--explain", action="store_true", help="print the plan of each page's run and exchange queries")
    args = parser.parse_args()

    sizes = {"version": SEED_VERSION, "runs": args.runs, "exchanges": args.exchanges, "largest": args.largest_run}
    url, to_seed = database_url(args, sizes)
    os.environ.update(DATABASE_URL=url, DEBUG="0", LOG_LEVEL="WARNING",
                      DJANGO_SETTINGS_MODULE="integrations_site.settings")
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)  # also puts new indexes on a database seeded before them
    user = User.objects.filter(username="bench").first() or User.objects.create_superuser("bench", "", "bench")
    if to_seed:
        print(f"Seeding {args.runs:,} runs and {args.exchanges:,} exchanges...", flush=True)
        started = time.perf_counter()
        facts = seed(connection, sizes, user)
        with connection.cursor() as cursor:
            facts["searched_run"] = searched_run(facts["customer"])
            facts["largest_count"] = args.largest_run
            if connection.vendor == "postgresql":
                cursor.execute("VACUUM ANALYZE")  # what autovacuum would have done by the time the history is this long
            cursor.execute(f"CREATE TABLE {MARKER} (facts text)")
            cursor.execute(f"INSERT INTO {MARKER} VALUES (%s)", [json.dumps({"sizes": sizes, **facts})])
        print(f"Seeded in {time.perf_counter() - started:.0f} s.", flush=True)
    with connection.cursor() as cursor:
        facts = read_marker(cursor)

    if connection.vendor == "postgresql":
        backend = f"PostgreSQL {connection.pg_version // 10000} ({connection.settings_dict['NAME']})"
    else:
        backend = f"SQLite {sqlite3.sqlite_version} ({connection.settings_dict['NAME']})"
    print(f"Admin pages: {backend}, {args.runs:,} runs, {args.exchanges:,} exchanges "
          f"(largest run {args.largest_run:,}); {args.repeats} requests a page, {os.cpu_count()} cores")
    print(f"{'page':<30} {'median ms':>9} {'max ms':>7} {'queries':>7} {'SQL ms':>7}")
    client = Client()
    client.force_login(user)
    slow = []
    for name, page_url, expected in pages(facts, args.pages):
        times, queries = measure(client, page_url, expected, args.repeats)
        median = statistics.median(times) * 1000
        sql_ms = sum(float(query["time"]) for query in queries) * 1000
        print(f"{name:<30} {median:>9.1f} {max(times) * 1000:>7.1f} {len(queries):>7} {sql_ms:>7.1f}", flush=True)
        if median >= args.limit:
            slow.append(name.strip())
        if args.explain:
            for query in queries:
                if any(table in query["sql"] for table in ("runs_run", "runs_exchange", "runs_tally")):
                    print(f"    {float(query['time']) * 1000:.0f} ms: {shortened(query['sql'])}")
                    print("      " + explain(connection, query["sql"]).replace("\n", "\n      "))
    if slow:
        print(f"Over {args.limit:g} ms: {', '.join(slow)}.")
        sys.exit(1)
    print(f"Every page's median is under {args.limit:g} ms.")


def searched_run(customer):
    """The newest run whose variables hold the searched customer: the search must show it first."""
    from runs.models import Run

    return Run.objects.filter(variables__icontains=customer).order_by("-created_at", "-id").values_list(
        "pk", flat=True).first()


if __name__ == "__main__":
    main()
