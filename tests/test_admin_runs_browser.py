"""Runs in a real Chromium, with a real cluster: Run now, a run followed live, the Debug view, Refire, Cancel.

The site under test serves the sandbox job service too, so every run here
talks HTTP to a service that takes its time; `manage.py runworkers` runs
beside it on the same database, as in production.
"""

import json
import re
from dataclasses import dataclass

import pytest
from django.urls import reverse

from integrations.models import Action, Integration
from runs.models import Run, Status
from sandbox.views import SANDBOX_TOKEN
from tests.browser import (  # noqa: F401
    BROWSER,
    browser,
    logged_in_page,
    open_section,
    orm_beside_playwright,
    screenshot,
)
from tests.cluster import Workers
from tests.engine_helpers import make_action
from tests.production import ProductionServer

pytestmark = [*BROWSER, pytest.mark.cluster]

RUN_TIMEOUT_MS = 60_000


@pytest.fixture(params=["development", "production"])
def site(request, settings, tmp_path):
    """The site under test, with its sandbox: once as `run.sh` serves it (runserver's live server), once as
    in production (gunicorn, settings_production, DEBUG off, static files from WhiteNoise)."""
    if request.param == "development":
        url = request.getfixturevalue("live_server").url
        env = {}
    else:
        static_root = request.getfixturevalue("production_static_root")
        request.getfixturevalue("transactional_db")
        server = ProductionServer(static_root, tmp_path / "gunicorn.log", INTEGRATIONS_SANDBOX="true")
        settings.INTEGRATIONS_ENCRYPTION_KEY = server.env["INTEGRATIONS_ENCRYPTION_KEY"]
        url = server.start().url
        request.addfinalizer(server.stop)
        env = {name: server.env[name] for name in (
            "DJANGO_SETTINGS_MODULE", "SECRET_KEY", "INTEGRATIONS_ENCRYPTION_KEY", "DEBUG")}
    settings.INTEGRATIONS_PUBLIC_URL = url
    return Site(url, env)


@dataclass
class Site:
    url: str
    workers_env: dict


@pytest.fixture
def cluster(transactional_db, site):
    workers = Workers(INTEGRATIONS_PUBLIC_URL=site.url, INTEGRATIONS_LEASE_SECONDS="5", **site.workers_env).start()
    yield workers
    workers.stop()


@pytest.fixture
def admin_page(browser, site, admin_user):  # noqa: F811
    page = logged_in_page(browser, site.url, "alice", "alice-password-123")
    yield page
    page.context.close()


@pytest.fixture
def viewer_page(browser, site, viewer_user):  # noqa: F811
    page = logged_in_page(browser, site.url, "bob", "bob-password-123")
    yield page
    page.context.close()


def sandbox(site):
    return Integration.objects.create(
        name="Sandbox", slug="sandbox", base_url=f"{site.url}/sandbox/", auth_type="bearer", auth_secret=SANDBOX_TOKEN)


def job_action(site, **fields):
    """A sandbox job of ``seconds`` whose outcome is a variable; polled every second."""
    fields.setdefault("name", "Run a job")
    return make_action(
        f"{site.url}/sandbox/", integration=fields.pop("integration", None) or sandbox(site),
        url="jobs/", body_type="json",
        body='{"name": "{{ job_name }}", "seconds": "{{ seconds }}", "outcome": "{{ outcome }}"}',
        polling_mode="poll", poll_method="GET", poll_url="jobs/{{ job_id }}/", poll_interval=1,
        inputs=[{"name": "job_name", "default": "browser"}, {"name": "seconds", "default": "3"},
                {"name": "outcome", "choices": "successful,failed", "default": "successful"}],
        mappings=[("job_id", "id")],
        stop=[("status", "equals", "successful", "success"), ("status", "equals", "failed", "failure")],
        **fields,
    )


def badge(page):
    return page.locator("#run-live .run-headline .run-status")


def wait_for_status(page, word):
    badge(page).filter(has_text=re.compile(f"^{word}$")).wait_for(timeout=RUN_TIMEOUT_MS)


def mark_page(page):
    """Mark the loaded document: the mark is gone if the browser loads another (a reload or a link)."""
    page.evaluate("window.__notReloaded = true")


def still_the_same_page(page):
    return page.evaluate("window.__notReloaded === true")


def current_run(page):
    match = re.search(r"/admin/runs/run/(\d+)/change/", page.url)
    assert match, page.url
    return Run.objects.get(pk=int(match.group(1)))


def test_an_admin_defines_an_action_runs_it_and_watches_it_succeed(admin_page, site, cluster):
    page = admin_page
    # The integration, through the admin.
    page.goto(reverse("admin:integrations_integration_add"))
    page.locator("#id_name").press_sequentially("Sandbox")
    page.fill("#id_base_url", f"{site.url}/sandbox/")
    page.select_option("#id_auth_type", "bearer")
    page.fill("#id_auth_secret", SANDBOX_TOKEN)
    page.click("input[name=_save]")
    assert "was added successfully" in page.inner_text(".messagelist .success")
    integration = Integration.objects.get(slug="sandbox")

    # The action: start a job, poll it until its status says how it ended.
    page.goto(reverse("admin:integrations_action_add") + f"?integration={integration.pk}")
    assert page.input_value("#id_integration") == str(integration.pk)
    page.locator("#id_name").press_sequentially("Run a job")
    page.select_option("#id_method", "POST")
    page.fill("#id_url", "jobs/")
    page.select_option("#id_body_type", "json")
    page.fill("#id_body", json.dumps({"name": "{{ job_name }}", "seconds": 4}))
    open_section(page, "Polling")
    page.select_option("#id_polling_mode", "poll")
    page.fill("#id_poll_url", "jobs/{{ job_id }}/")
    page.fill("#id_poll_interval", "1")
    open_section(page, "Request")
    page.click("#inputs-group .add-row a")
    page.fill("#id_inputs-0-name", "job_name")
    page.fill("#id_inputs-0-label", "Job name")
    page.fill("#id_inputs-0-default", "nightly")
    open_section(page, "Conditions and mappings")
    page.click("#mappings-group .add-row a")
    page.fill("#id_mappings-0-field", "job_id")
    page.fill("#id_mappings-0-path", "id")
    add_row = page.locator("#stop_conditions-group .add-row a")
    add_row.click()
    add_row.click()
    page.fill("#id_stop_conditions-0-path", "status")
    page.fill("#id_stop_conditions-0-value", "successful")
    page.fill("#id_stop_conditions-1-path", "status")
    page.fill("#id_stop_conditions-1-value", "failed")
    page.select_option("#id_stop_conditions-1-outcome", "failure")
    page.click("input[name=_continue]")
    assert "was added successfully" in page.inner_text(".messagelist .success")

    # Run now, from the action's page: the form is its inputs.
    page.click("a.run-now")
    assert page.input_value("#id_job_name") == "nightly"
    assert page.is_visible("#id_rehearsal")
    screenshot(page, "run-now")
    page.fill("#id_job_name", "from-the-browser")
    page.click("input[name=_start]")

    assert "started" in page.inner_text(".messagelist .success")
    run = current_run(page)
    assert run.variables == {"job_name": "from-the-browser"}
    mark_page(page)
    wait_for_status(page, "Polling")
    screenshot(page, "run-polling")
    wait_for_status(page, "Succeeded")
    assert still_the_same_page(page), "the page was reloaded instead of following the run by itself"
    assert page.locator("#run-live").get_attribute("data-active") == "false"
    assert "Stop condition matched" in page.inner_text(".run-reason")
    assert page.locator(".run-log-table tbody tr").count() >= 2
    screenshot(page, "run-succeeded")

    # The Debug view of the last poll opens on its Response tab.
    page.locator(".run-log-table tbody tr").first.locator("a.run-log-debug").click()
    assert page.get_attribute("#tab-response", "aria-selected") == "true"
    assert page.is_visible("#panel-response") and not page.is_visible("#panel-request")
    assert '"status": "successful"' in page.inner_text("#panel-response .debug-body")
    assert page.locator(".warning-triangle").count() == 0
    screenshot(page, "debug-response")
    page.click("#tab-request")
    assert page.is_visible("#panel-request") and not page.is_visible("#panel-response")
    assert "Authorization" in page.inner_text("#panel-request .debug-headers")
    assert SANDBOX_TOKEN not in page.content()
    assert run.exchanges.count() >= 2


def test_a_failed_run_shows_where_it_went_wrong_and_is_refired_with_an_edited_variable(admin_page, site, cluster):
    page = admin_page
    action = job_action(site)
    page.goto(reverse("admin:integrations_action_run", args=[action.pk]))
    page.select_option("#id_outcome", "failed")
    page.fill("#id_seconds", "1")
    page.click("input[name=_start]")
    failed = current_run(page)
    wait_for_status(page, "Failed")
    screenshot(page, "run-failed")

    # The failing answer is a response-side fault: the triangle is on the Response tab, which opens first.
    failing_row = page.locator(".run-log-table tbody tr.run-log-failed").first
    assert failing_row.locator(".warning-triangle").count() == 1
    failing_row.locator("a.run-log-debug").click()
    assert page.locator("#tab-response .warning-triangle").count() == 1
    assert page.locator("#tab-request .warning-triangle").count() == 0
    assert page.get_attribute("#tab-response", "aria-selected") == "true"
    screenshot(page, "debug-failed-response")

    page.click("text=Back to the run")
    page.click("a.run-refire")
    assert page.input_value("#id_outcome") == "failed"
    page.select_option("#id_outcome", "successful")
    screenshot(page, "refire-form")
    page.click("input[name=_start]")

    assert f"Run #{failed.pk} was refired as run #" in page.inner_text(".messagelist .success")
    wait_for_status(page, "Succeeded")
    refired = current_run(page)
    assert refired.refired_from_id == failed.pk
    assert refired.variables["outcome"] == "successful"
    assert f"run #{failed.pk}" in page.inner_text(".run-facts")


def test_a_runaway_run_is_cancelled_from_its_page(admin_page, site, cluster):
    page = admin_page
    action = job_action(site, cancelable=True, cancel_webhook_url="jobs/{{ job_id }}/cancel/")
    page.goto(reverse("admin:integrations_action_run", args=[action.pk]))
    page.fill("#id_seconds", "3600")
    page.click("input[name=_start]")
    wait_for_status(page, "Polling")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button.run-cancel")

    assert "was cancelled" in page.inner_text(".messagelist .success")
    wait_for_status(page, "Cancelled")
    run = current_run(page)
    assert run.status == Status.CANCELLED
    assert page.locator("a.run-refire").count() == 1
    assert page.locator("button.run-cancel").count() == 0
    page.locator(".run-log-table").get_by_text("Cancel webhook").wait_for()
    screenshot(page, "run-cancelled")


def test_a_viewer_sees_runs_but_no_run_now_refire_or_cancel(viewer_page, site, transactional_db):
    action = job_action(site, cancelable=True)
    failed = Run.objects.create(action=action, integration=action.integration, status=Status.FAILED,
                                reason="The job failed.")
    active = Run.objects.create(action=action, integration=action.integration, status=Status.POLLING,
                                reason="Polling.")
    page = viewer_page

    page.goto(reverse("admin:runs_run_changelist"))
    assert page.locator("#result_list tbody tr").count() == 2
    screenshot(page, "runs-list-viewer")
    for run in (failed, active):
        page.goto(reverse("admin:runs_run_change", args=[run.pk]))
        assert page.locator("a.run-refire").count() == 0
        assert page.locator("button.run-cancel").count() == 0
    page.goto(reverse("admin:integrations_action_change", args=[action.pk]))
    assert page.locator("a.run-now").count() == 0
    page.goto(reverse("admin:integrations_action_changelist"))
    assert page.locator("a.run-now-link").count() == 0
    assert Action.objects.count() == 1


PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("site", ["development"], indirect=True)
def test_the_runs_list_a_run_page_and_a_debug_view_fit_a_phone(browser, site, admin_user):  # noqa: F811
    action = job_action(site, name="Look up a rather long ticket name in the archive")
    run = Run.objects.create(action=action, integration=action.integration, status=Status.FAILED,
                             reason="3 errors in a row while polling; the last: Connection failed (refused).",
                             variables={"customer": "Wide Customer Name Limited", "order": "A-0000001234567"})
    exchange = run.exchanges.create(
        kind="poll", attempt=3, method="GET", url=f"{site.url}/sandbox/jobs/" + "x" * 120 + "/", status_code=500,
        response_body=json.dumps({"detail": "a long explanation " * 20}), failed_part="response",
        response_headers={"Content-Type": "application/json"}, decision="The service answered 500.")
    page = logged_in_page(browser, site.url, "alice", "alice-password-123", **PHONE)
    try:
        for name, url in [("runs-list", reverse("admin:runs_run_changelist")),
                          ("run-page", reverse("admin:runs_run_change", args=[run.pk])),
                          ("debug-view", reverse("admin:runs_run_exchange", args=[run.pk, exchange.pk]))]:
            page.goto(url)
            assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"], name
            screenshot(page, f"phone-{name}")
        page.goto(reverse("admin:runs_run_change", args=[run.pk]))
        log = page.locator(".run-log-scroll")
        assert log.evaluate("element => getComputedStyle(element).overflowX") == "auto"
    finally:
        page.context.close()
