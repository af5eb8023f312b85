"""The overview in a real Chromium, with a real cluster beside the site: failures of three causes, grouped.

The runs fail for real: a service that answers 401, a port where nothing
listens, a job whose status says it failed; `manage.py runworkers` sends
their requests as in production.
"""

import re
import socket

import pytest
from django.urls import reverse

from runs.models import FINISHED, Run, Status
from runs.services import start_run
from tests.browser import BROWSER, browser, logged_in_page, orm_beside_playwright, screenshot  # noqa: F401
from tests.cluster import Workers
from tests.engine_helpers import make_action
from tests.faults import wait_until
from tests.servers import reply

pytestmark = [*BROWSER, pytest.mark.cluster]

STOP = [("status", "equals", "done", "success"), ("status", "equals", "failed", "failure")]


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def cluster(transactional_db, live_server):
    workers = Workers(INTEGRATIONS_PUBLIC_URL=live_server.url).start()
    yield workers
    workers.stop()


@pytest.fixture
def failed_runs(cluster, server):
    """Runs of three actions failed by the cluster: 3 answered 401, 2 found nothing listening, 1 failure outcome."""
    server.script("/denied", reply(401, json={"error": "no"}))
    server.script("/jobs", reply(json={"status": "failed"}))
    denied = make_action(server.base_url, name="Fetch invoices", url="/denied", method="GET")
    outcome = make_action(server.base_url, integration=denied.integration, name="Run export job", stop=STOP)
    refused = make_action(f"http://127.0.0.1:{closed_port()}", name="Notify partner", connect_timeout=1)
    runs = [start_run(action) for action in [denied, denied, denied, refused, refused, outcome]]
    wait_until(lambda: Run.objects.filter(pk__in=[run.pk for run in runs], status__in=FINISHED).count() == len(runs),
               90, "the cluster did not end the runs")
    assert set(Run.objects.values_list("status", flat=True)) == {Status.FAILED}
    return denied, refused, outcome


def groups(page):
    return [re.sub(r"\s+", " ", text).strip() for text in page.locator("tr.overview-failure").all_inner_texts()]


@pytest.mark.parametrize("width", [1366, 390])
def test_the_overview_groups_real_failures_by_cause(browser, live_server, admin_user, failed_runs, width):  # noqa: F811
    denied, _, _ = failed_runs
    page = logged_in_page(browser, live_server.url, "alice", "alice-password-123", width=width, height=900)
    try:
        page.goto(reverse("admin:index"))

        shown = groups(page)
        assert len(shown) == 3, shown
        assert shown[0].startswith("HTTP 401 not accepted") and "Fetch invoices" in shown[0] and " 3 " in shown[0]
        assert shown[1].startswith("Connection failed") and "Notify partner" in shown[1]
        assert shown[2].startswith("Failure outcome: status equals failed") and "Run export job" in shown[2]
        assert page.locator("tr.overview-failure button", has_text="Refire all").count() == 3
        assert "No cluster is alive" not in page.inner_text("#content")
        assert page.locator(".overview-workers dd").first.inner_text() == "1"
        # Nothing scrolls sideways, at 390 px too.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        screenshot(page, f"overview-{width}")

        page.locator("tr.overview-failure").first.get_by_role("link", name="HTTP 401 not accepted").click()
        page.wait_for_url(re.compile(r"/admin/runs/run/\?"))
        assert "cause=status%3A401" in page.url or "cause=status:401" in page.url
        assert page.locator("#result_list tbody tr").count() == 3
        screenshot(page, f"overview-group-runs-{width}")
    finally:
        page.context.close()


def test_a_first_time_admin_without_a_cluster_is_told_where_to_start(browser, live_server, admin_user):  # noqa: F811
    page = logged_in_page(browser, live_server.url, "alice", "alice-password-123", width=1366, height=900)
    try:
        page.goto(reverse("admin:index"))

        assert page.get_by_role("alert").inner_text().startswith("No cluster is alive: runs will not progress.")
        assert page.get_by_role("heading", name="Start here").is_visible()
        page.get_by_role("link", name="Add integration").click()
        page.wait_for_url(re.compile(r"/admin/integrations/integration/add/"))
        page.go_back()
        screenshot(page, "overview-first-time-1366")
    finally:
        page.context.close()


def test_refire_all_refires_every_run_of_a_group_through_its_confirmation(browser, live_server, admin_user, server,  # noqa: F811
                                                                          failed_runs):
    """Refire all on the 401 group: the confirmation lists its three runs, and after Yes the cluster runs three
    refires with the same variables; the other groups' runs are left alone."""
    denied, refused, outcome = failed_runs
    originals = set(Run.objects.filter(action=denied).values_list("pk", flat=True))
    server.script("/denied", reply(json={"invoices": []}))  # the service lets us in now
    page = logged_in_page(browser, live_server.url, "alice", "alice-password-123", width=1366, height=900)
    try:
        page.goto(reverse("admin:index"))
        group = page.locator("tr.overview-failure", has_text="HTTP 401 not accepted")
        group.get_by_role("button", name="Refire all").click()

        page.wait_for_selector("input[type=submit][value='Yes, refire 3 runs']")
        plan = page.inner_text("#content")
        assert "3 of 3 selected runs will be refired" in plan
        assert all(f"#{pk}" in plan for pk in originals), plan
        screenshot(page, "overview-refire-all-confirmation-1366")
        page.get_by_role("button", name="Yes, refire 3 runs").click()
        page.wait_for_url(re.compile(r"/admin/runs/run/"))

        refires = Run.objects.filter(refired_from__in=originals)
        wait_until(lambda: refires.filter(status=Status.SUCCEEDED).count() == 3, 60,
                   "the three refires did not succeed")
        assert set(refires.values_list("refired_from", flat=True)) == originals
        assert Run.objects.filter(action__in=[refused, outcome], refired_from__isnull=False).count() == 0
        assert len(server.requests_to("/denied")) == 6  # three that failed, three refires
    finally:
        page.context.close()
