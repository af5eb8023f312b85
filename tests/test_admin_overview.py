"""The admin's landing page is the overview: failures grouped by cause, active runs, integrations, workers."""

import re
import socket
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations.models import Integration
from runs import heartbeats
from runs.models import Heartbeat, Run, Status
from runs.services import start_run
from tests.engine_helpers import drive, make_action
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

STOP = [("status", "equals", "done", "success"), ("status", "equals", "failed", "failure")]


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def three_causes(server):
    """Real failed runs of three causes: 2 runs answered 401, 3 refused connections, 1 failure outcome."""
    server.script("/denied", reply(401, json={"error": "no"}))
    server.script("/jobs", reply(json={"status": "failed"}))
    denied = make_action(server.base_url, name="Denied", url="/denied")
    outcome = make_action(server.base_url, integration=denied.integration, name="Outcome", stop=STOP)
    refused = make_action(f"http://127.0.0.1:{closed_port()}", name="Refused", connect_timeout=1)
    runs = [drive(start_run(action)) for action in [denied, denied, refused, refused, refused, outcome]]
    assert all(run.status == Status.FAILED for run in runs)
    return denied, refused, outcome


def index(client, user, query=""):
    client.force_login(user)
    response = client.get(reverse("admin:index") + query)
    assert response.status_code == 200
    return response.content.decode()


def rows(html):
    return [unescape(re.sub(r"<[^>]+>|\s+", " ", row)).split()
            for row in re.findall(r'<tr class="overview-failure">(.*?)</tr>', html, re.S)]


def test_failures_are_grouped_by_cause_per_action_with_counts(client, admin_user, three_causes):
    denied, refused, outcome = three_causes

    html = index(client, admin_user)

    groups = [" ".join(row) for row in rows(html)]
    assert len(groups) == 3
    assert groups[0].startswith("Connection failed") and " 3 " in groups[0]
    assert groups[1].startswith("HTTP 401 not accepted") and " Denied 2 " in groups[1]
    assert groups[2].startswith("Failure outcome: status equals failed") and " Outcome 1 " in groups[2]


def test_each_group_links_to_the_runs_list_filtered_to_it_and_the_list_shows_those_runs(client, admin_user,
                                                                                         three_causes):
    denied, _, _ = three_causes
    html = index(client, admin_user)
    link = unescape(re.search(r'<a href="([^"]*cause=status[^"]*)"', html)[1])

    assert parse_qs(urlsplit(link).query) == {
        "cause": ["status:401"], "action__id__exact": [str(denied.pk)], "finished": ["24h"]}
    listed = client.get(link)
    assert listed.status_code == 200
    assert list(listed.context["cl"].queryset.values_list("cause", flat=True)) == ["status:401", "status:401"]


def test_refire_all_posts_the_bulk_action_across_the_group(client, admin_user, three_causes):
    html = index(client, admin_user)

    form = re.search(r'<form method="post" action="([^"]*cause=status[^"]*)" class="overview-refire">(.*?)</form>',
                     html, re.S)
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form[2]))
    assert unescape(form[1]).startswith(reverse("admin:runs_run_changelist") + "?cause=status")
    assert fields["action"] == "refire_selected" and fields["select_across"] == "1" and fields["index"] == "0"
    assert "_selected_action" in fields and "csrfmiddlewaretoken" in fields


def test_a_viewer_sees_the_failures_but_no_refire(client, viewer_user, three_causes):
    html = index(client, viewer_user)

    assert len(rows(html)) == 3
    assert "Refire all" not in html


def test_the_7_day_window_counts_older_failures(client, admin_user, three_causes):
    from runs.models import Tally

    Tally.objects.filter(cause="status:401").update(hour=timezone.now() - timedelta(days=3))

    assert len(rows(index(client, admin_user))) == 2
    assert len(rows(index(client, admin_user, "?within=7d"))) == 3


def test_active_runs_overdue_and_waiting_are_counted_with_links(client, admin_user, action):
    overdue = start_run(action)
    Run.objects.filter(pk=overdue.pk).update(next_poll_at=timezone.now() - timedelta(minutes=5))
    start_run(action, wait_for_start=True)

    html = index(client, admin_user)

    assert "1 overdue" in html
    overdue_link = unescape(re.search(r'<a class="overview-alarm" href="([^"]+)"', html)[1])
    listed = client.get(overdue_link)
    assert listed.status_code == 200 and overdue in listed.context["cl"].queryset
    assert f'href="{reverse("admin:runs_run_change", args=[overdue.pk])}"' in html  # the oldest
    assert "Waiting for a person" in html and "?status__exact=waiting_start" in html
    assert "?status__exact=pending" in html


def test_integrations_show_their_runs_and_success_rate(client, admin_user, server):
    server.script("/jobs", reply(json={"status": "done"}))
    server.script("/denied", reply(401, json={}))
    ok = make_action(server.base_url, name="Ok")
    bad = make_action(server.base_url, integration=ok.integration, name="Bad", url="/denied")
    for action in [ok, ok, ok, bad]:
        drive(start_run(action))

    html = index(client, admin_user)

    row = re.search(r'<tr>\s*<td><a href="[^"]*integration__id__exact=%d">.*?</tr>' % ok.integration_id, html, re.S)
    cells = [unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row[0], re.S)]
    assert cells[1:4] == ["4", "75%", "≤ 1 s"]


def test_no_live_cluster_is_a_plain_warning(client, admin_user):
    assert "No cluster is alive: runs will not progress." in index(client, admin_user)

    Heartbeat.objects.create(holder="a" * 32, host="here", pid=1, seen_at=timezone.now())

    html = index(client, admin_user)
    assert "No cluster is alive" not in html
    assert re.search(r"<dt>Clusters alive</dt><dd>1</dd>", html)
    assert heartbeats.live_clusters().count() == 1


def test_a_first_time_admin_is_told_what_the_product_does_and_where_to_start(client, admin_user):
    demo = Integration.objects.create(name="Sandbox jobs", slug="sandbox", base_url="http://127.0.0.1:1")

    html = index(client, admin_user)

    assert "Start here" in html and "polls them" in html
    assert reverse("admin:integrations_integration_change", args=[demo.pk]) in html
    assert reverse("admin:integrations_integration_add") in html and "Add integration" in html
    assert reverse("api-docs") in html


def test_the_product_comes_first_and_the_plumbing_under_administration(client, admin_user, action):
    start_run(action)

    html = index(client, admin_user)

    assert "overview-welcome" not in html
    assert "Recent actions" not in html
    administration = html.index("Administration")
    assert html.index("Failures in the last") < administration
    assert html.index(reverse("admin:authtoken_tokenproxy_changelist")) > administration
    assert html.index(reverse("admin:runs_run_changelist")) < administration


def test_the_overview_costs_the_same_queries_however_many_runs(client, admin_user, server):
    server.script("/denied", reply(401, json={}))
    action = make_action(server.base_url, url="/denied")
    client.force_login(admin_user)

    def some_of_everything():
        drive(start_run(action))
        overdue = start_run(action)
        Run.objects.filter(pk=overdue.pk).update(next_poll_at=timezone.now() - timedelta(minutes=5))
        start_run(make_action(server.base_url, name="Another"), wait_for_start=True)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("admin:index")).status_code == 200
        return len(captured)

    some_of_everything()
    few = queries()
    for _ in range(4):
        some_of_everything()

    assert Run.objects.count() == 15
    assert queries() == few


def test_the_poll_lag_is_that_of_the_last_minute_of_every_live_cluster(client, admin_user):
    for holder, count, total in [("a" * 32, 3, 1.5), ("b" * 32, 1, 0.5)]:
        Heartbeat.objects.create(holder=holder, host="here", pid=1, seen_at=timezone.now(),
                                 counters={"poll_lag_minute_count": count, "poll_lag_minute_sum": total})

    html = index(client, admin_user)

    assert re.search(r"<dt>Poll lag, last minute</dt><dd>0.50 s</dd>", html)


def test_a_cluster_counts_the_poll_lag_of_its_last_minute(monkeypatch):
    from runs import metrics

    now = [1000.0]
    monkeypatch.setattr(metrics.time, "monotonic", lambda: now[0])
    metrics.prepare()
    try:
        metrics.claimed([1.0, 3.0], 0)
        first = metrics.snapshot()
        now[0] += 61
        metrics.claimed([0.5], 0)
        later = metrics.snapshot()
    finally:
        monkeypatch.setattr(metrics, "_counts", None)

    assert (first["poll_lag_minute_count"], first["poll_lag_minute_sum"]) == (2, 4.0)
    assert (later["poll_lag_minute_count"], later["poll_lag_minute_sum"]) == (1, 0.5)
    assert later["poll_lag_count"] == 3


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL plans an empty table by its statistics "
                    "(a sequential scan); it uses partial indexes with bound parameters (bench/admin_pages.py)")
def test_a_failure_groups_runs_list_reads_the_cause_index_not_every_run_of_the_action(rf, admin_user):
    """The group's list (cause, action, finished since) is served by the cause's partial index as the database
    really runs it, with bound parameters: SQLite uses a partial index only when the query's text implies its
    condition, and with the statuses as parameters it read every run of the action (200 ms at 1,000,000 runs)."""
    from django.contrib.admin.sites import site

    from runs.admin import CauseListFilter, FinishedWithinFilter, RunAdmin

    request = rf.get("/admin/runs/run/", {"cause": "status:401", "finished": "24h"})
    request.user = admin_user
    runs = Run.objects.filter(action_id=1)
    for kind in (CauseListFilter, FinishedWithinFilter):
        chosen = kind(request, {key: [value] for key, value in request.GET.items()}, Run, RunAdmin(Run, site))
        runs = chosen.queryset(request, runs)

    plan = runs.explain()
    assert "run_cause_group_idx" in plan, plan
