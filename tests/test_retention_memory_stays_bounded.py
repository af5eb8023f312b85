"""Retention works in small batches whose size does not grow with the log, and never reads a body.

Memory is checked by the shape of the queries a step sends, not by timing: every row it reads comes
through a LIMIT (and on SQLite through an index), no SELECT reads the bodies or headers of an exchange, rows go by DELETE statements
(Django's delete() would load them first), and a step sends as many queries for a log of 3,000 as
for one of 300.
"""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from runs import retention
from runs.models import Exchange, Run
from runs.retention import Retention
from tests.retention_helpers import changing_job, polled

pytestmark = pytest.mark.usefixtures("q_sync")

HEAVY = {"request_body", "response_body", "request_headers", "response_headers", "url", "error", "decision"}


@pytest.fixture(autouse=True)
def small_batches(settings, monkeypatch):
    settings.INTEGRATIONS_EXCHANGES_KEPT_PER_RUN = 5
    monkeypatch.setattr(retention, "BATCH", 100)


def padded(run, count):
    """Add ``count`` polls with 10 KB answers to the log of ``run``."""
    body = "y" * 10_000
    Exchange.objects.bulk_create(
        [Exchange(run=run, kind="poll", attempt=run.attempt + n, response_body=body) for n in range(1, count + 1)],
        batch_size=500,
    )


def check_bounded(sql):
    """A SELECT of exchanges or runs reads through a LIMIT and reads no body; one of files names its runs."""
    if not sql.lstrip().upper().startswith("SELECT"):
        return
    if re.match(r'SELECT .*? FROM "runs_runfile" WHERE "runs_runfile"."run_id" IN \(', sql):
        return  # the files of the runs in hand, a few each
    assert "LIMIT" in sql.upper(), sql
    assert not HEAVY & set(selected_columns(sql)), sql
    if connection.vendor == "sqlite":  # the tables are read through an index, from where the walk stands
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            plan = [row[-1] for row in cursor.fetchall()]
        for line in plan:
            if "runs_run" in line or "runs_exchange" in line:
                assert re.search(r"USING (COVERING )?INDEX (run_finished_idx|exchange_run_log_idx) \(\w+[=<>]"
                                 r"|PRIMARY KEY \(rowid=\?\)", line), f"{sql}\n{plan}"


def step_queries(retention_pass):
    """What a step did and its queries of tables (not the database clock's sample, which runs.clock takes
    afresh now and then, whoever asks)."""
    with CaptureQueriesContext(connection) as queries:
        done = retention_pass.step()
    return done, [query["sql"] for query in queries.captured_queries if " FROM " in query["sql"].upper()
                  or not query["sql"].lstrip().upper().startswith("SELECT")]


def selected_columns(sql):
    """The columns a SELECT names between SELECT and FROM, for each SELECT of the statement."""
    return [name for part in re.findall(r"SELECT (.*?) FROM", sql, flags=re.S)
            for name in re.findall(r'"(\w+)"\s*(?:,|$|AS)', part + ",")]


def test_a_long_log_is_pruned_a_batch_at_a_time_with_the_same_queries_whatever_its_length(db, server):
    action = changing_job(server)
    short, long = polled(action, 1), polled(action, 1)
    padded(short, 300)
    padded(long, 3000)

    shapes = {}
    for run in (short, long):
        retention_pass = Retention()
        retention_pass.unfinished_after = run.pk - 1  # this run first
        done, queries = step_queries(retention_pass)
        assert done.middle in (retention.BATCH, retention.BATCH + 1)  # + the row that stands for them
        assert done.more
        shapes[run.pk] = len(queries)
        for sql in queries:
            check_bounded(sql)
        assert any(sql.startswith("DELETE") for sql in queries)

    assert shapes[short.pk] == shapes[long.pk]


def test_old_logs_go_a_batch_at_a_time_without_reading_a_row(db, server):
    run = polled(changing_job(server), 1)
    padded(run, 250)
    Run.objects.filter(pk=run.pk).update(status="failed", finished_at=timezone.now() - timedelta(days=40))

    retention_pass = Retention()
    removed = []
    while True:
        done, queries = step_queries(retention_pass)
        removed.append(done.old)
        for sql in queries:
            check_bounded(sql)
        if not done.more:
            break

    assert removed[:3] == [100, 100, 52]
    assert not Exchange.objects.filter(run=run).exists()
