"""The runs list and a run's page read a page of a long history from an index, not by sorting all of it.

The plans are asked for on a few rows, where PostgreSQL would rather sort
them, so there sorting is turned off (made a last resort): what is checked
is that an index gives the query's order under its filter.
bench/admin_pages.py measures the pages with 100,000 runs and 1,000,000
exchanges.
"""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from runs import admin as runs_admin
from runs.models import Exchange, Run

LIST_INDEXES = ("run_list_idx", "run_integration_list_idx", "run_action_list_idx")


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def runs(action):
    """More runs than a page of the list holds, so that the list reads one page of them."""
    now = timezone.now()
    return Run.objects.bulk_create(
        Run(action=action, integration=action.integration, variables={"env": "staging", "order": f"ORD-{n:03d}"},
            created_at=now - timedelta(minutes=n), callback_token=f"token-{n}")
        for n in range(runs_admin.RunAdmin.list_per_page + 10)
    )


def plans_of(client, url, table):
    """The plan of each query of a page that reads rows of ``table`` a page at a time (ORDER BY ... LIMIT)."""
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    selects = [query["sql"] for query in context.captured_queries
               if query["sql"].startswith("SELECT") and f'FROM "{table}"' in query["sql"] and " LIMIT " in query["sql"]]
    assert selects
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_sort = off")
            explain = "EXPLAIN"
        else:
            explain = "EXPLAIN QUERY PLAN"
        plans = []
        for sql in selects:
            cursor.execute(f"{explain} {sql}")
            plans.append("\n".join(str(row[-1]) for row in cursor.fetchall()))
    return plans


def sorts(plan):
    return "Sort" in plan or "TEMP B-TREE FOR ORDER BY" in plan


@pytest.mark.parametrize("query", ["", "integration__id__exact", "action__id__exact", "created_at__gte"])
def test_the_runs_list_reads_its_page_from_an_index(staff, runs, query):
    run = runs[0]
    value = {"integration__id__exact": run.integration_id, "action__id__exact": run.action_id,
             "created_at__gte": timezone.now() - timedelta(days=7)}.get(query)
    url = reverse("admin:runs_run_changelist") + (f"?{urlencode({query: value})}" if query else "")

    [plan] = plans_of(staff, url, "runs_run")

    assert any(index in plan for index in LIST_INDEXES) and not sorts(plan), plan


def test_a_runs_page_reads_its_log_from_the_log_index(staff, runs):
    run = runs[0]
    Exchange.objects.bulk_create(Exchange(run=run, kind="poll", attempt=n, status_code=200) for n in range(120))

    for query in ("", "?log=2"):
        [plan] = plans_of(staff, reverse("admin:runs_run_change", args=[run.pk]) + query, "runs_exchange")

        assert "exchange_run_log_idx" in plan and not sorts(plan), plan


def test_a_broad_search_finds_every_run_it_matches(staff, runs, monkeypatch):
    # Over SEARCH_BY_IDS runs found, the search no longer reads them by id but filters as it scans.
    monkeypatch.setattr(runs_admin, "SEARCH_BY_IDS", 2)
    url = reverse("admin:runs_run_changelist")

    assert staff.get(url, {"q": "staging"}).context["cl"].result_count == len(runs)
    assert [run.pk for run in staff.get(url, {"q": "ORD-003"}).context["cl"].result_list] == [runs[3].pk]
