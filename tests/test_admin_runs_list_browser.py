"""The runs list in a real Chromium beside a real cluster: rows of active runs follow their runs without a
reload, bulk Cancel from the list through its confirmation page, at least 20 rows on a 1366x900 screen, the
filter at the top on a 390 px phone, and the run page's log readable there without a sideways scroll.

Screenshots (test-artifacts/runs-list-*.png, run-page-*.png) are for a person to look at.
"""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from runs.models import Run, Status
from runs.services import start_run
from tests.browser import BROWSER, browser, logged_in_page, orm_beside_playwright, screenshot  # noqa: F401
from tests.cluster import Workers
from tests.engine_helpers import make_action
from tests.servers import reply
from tests.test_admin_runs_browser import job_action, mark_page, still_the_same_page

pytestmark = BROWSER

RUN_TIMEOUT_MS = 60_000
LIST = "/admin/runs/run/"


class Site:
    def __init__(self, url):
        self.url = url


@pytest.fixture
def site(live_server, settings):
    settings.INTEGRATIONS_PUBLIC_URL = live_server.url
    return Site(live_server.url)


@pytest.fixture
def cluster(transactional_db, site):
    workers = Workers(INTEGRATIONS_PUBLIC_URL=site.url, INTEGRATIONS_LEASE_SECONDS="5").start()
    yield workers
    workers.stop()


def open_page(browser, site, *, width, height):  # noqa: F811
    return logged_in_page(browser, site.url, "alice", "alice-password-123", width=width, height=height)


@pytest.fixture
def admin_page(browser, site, admin_user):  # noqa: F811
    page = open_page(browser, site, width=1366, height=900)
    yield page
    page.context.close()


def row_badge(page, run):
    return page.locator(f"#result_list tr:has(a[href='{reverse('admin:runs_run_change', args=[run.pk])}']) .run-status")


@pytest.mark.cluster
def test_a_row_goes_from_polling_to_succeeded_without_a_reload(admin_page, site, cluster):
    page = admin_page
    run = start_run(job_action(site), {"seconds": "4"})

    page.goto(LIST)
    mark_page(page)
    badge = row_badge(page, run)
    badge.filter(has_text=re.compile("^Polling$")).wait_for(timeout=RUN_TIMEOUT_MS)
    screenshot(page, "runs-list-polling-1366")
    badge.filter(has_text=re.compile("^Succeeded$")).wait_for(timeout=RUN_TIMEOUT_MS)

    assert still_the_same_page(page), "the list was reloaded instead of following the run by itself"
    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED
    requests = page.locator(f"[data-run-requests='{run.pk}']").inner_text()
    assert requests == str(run.attempt) and run.attempt >= 2
    assert page.locator(f"[data-run-duration='{run.pk}']").inner_text().endswith("s")
    assert badge.get_attribute("data-run-live") is None  # followed no longer
    reason = page.locator(f"[data-run-reason='{run.pk}']")
    assert reason.inner_text().startswith("Stop condition matched") and reason.get_attribute("title") == run.reason


@pytest.mark.cluster
def test_bulk_cancel_from_the_list_asks_first_and_cancels(admin_page, site, cluster):
    page = admin_page
    action = job_action(site, cancelable=True)
    runs = [start_run(action, {"seconds": "120"}) for _ in range(2)]
    for run in runs:
        run.refresh_from_db()

    page.goto(LIST)
    for run in runs:
        page.check(f"#result_list input.action-select[value='{run.pk}']")
    page.select_option("select[name=action]", "cancel_selected")
    page.click("button[name=index]")

    assert page.inner_text("h1") == "Cancel 2 runs?"
    assert "2 of 2 selected runs will be cancelled" in page.inner_text("#content-main")
    screenshot(page, "runs-list-bulk-cancel-confirmation-1366")
    assert Run.objects.filter(status=Status.CANCELLED).count() == 0
    page.click("input[type=submit][value='Yes, cancel 2 runs']")

    assert "2 runs cancelled." in page.inner_text(".messagelist")
    assert set(Run.objects.filter(pk__in=[run.pk for run in runs]).values_list("status", flat=True)) == {
        Status.CANCELLED}
    for run in runs:
        assert row_badge(page, run).inner_text() == "Cancelled"


@pytest.fixture
def many_runs(transactional_db, site):
    """60 finished runs of two actions with long names and reasons, as rows (nothing to send)."""
    first = make_action("http://127.0.0.1:9/", name="Create the quarterly invoice batch for every customer account")
    second = make_action("http://127.0.0.1:9/", integration=first.integration, name="Ship")
    now = timezone.now()
    reason = ("The first request failed: The service answered 503, which is not an accepted status (2xx). "
              "It said it was down for maintenance until tomorrow morning.")
    return Run.objects.bulk_create(
        Run(action=first if n % 2 else second, integration=first.integration, variables={"n": n},
            status=Status.FAILED if n % 3 else Status.SUCCEEDED,
            reason=reason if n % 3 else "The service answered 200.",
            attempt=1, created_at=now - timedelta(seconds=n), started_at=now - timedelta(seconds=n),
            finished_at=now - timedelta(seconds=n) + timedelta(milliseconds=300), callback_token=f"many-{n}")
        for n in range(60))


def test_the_list_shows_at_least_20_rows_at_1366x900(admin_page, many_runs):
    page = admin_page
    page.goto(LIST)
    page.screenshot(path=str(screenshot_path("runs-list-1366")))

    rows = page.locator("#result_list tbody tr")
    heights = rows.evaluate_all("rows => rows.map(row => row.getBoundingClientRect().height)")
    bottoms = rows.evaluate_all("rows => rows.map(row => row.getBoundingClientRect().bottom)")
    visible = sum(1 for bottom in bottoms if bottom <= 900)
    print(f"runs list at 1366x900: {visible} rows visible, row height {max(heights):.0f} px, first row at "
          f"{bottoms[0] - heights[0]:.0f} px")
    assert visible >= 20
    assert max(heights) < 40  # one line a row: nothing wraps
    reason = page.locator("#result_list .run-list-reason", has_text="The first request failed").first
    assert reason.get_attribute("title").endswith("until tomorrow morning.")
    assert reason.evaluate("span => span.scrollWidth > span.clientWidth")  # cut with an ellipsis
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366


def test_on_a_phone_the_filter_is_at_the_top(browser, site, admin_user, many_runs):  # noqa: F811
    page = open_page(browser, site, width=390, height=844)
    try:
        page.goto(LIST)
        filter_top = page.locator("#changelist-filter").bounding_box()["y"]
        list_top = page.locator("#result_list").bounding_box()["y"]
        assert filter_top < list_top
        assert filter_top < 844  # on the first screen
        assert page.locator("#changelist-filter details[open]").count() == 0  # folded, the rows just below
        page.locator("#changelist-filter summary", has_text="By status").click()
        page.locator("#changelist-filter a", has_text="Failed").click()
        assert "status__exact=failed" in page.url
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(screenshot_path("runs-list-390")))
        screenshot(page, "runs-list-390-full")
    finally:
        page.context.close()


def screenshot_path(name):
    from tests.browser import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"


@pytest.fixture
def failed_run(transactional_db, server):
    """A real run that failed on a 401 after a long URL, with a few exchanges in its log."""
    long_path = "/jobs?" + "&".join(f"filter_{n}=value-{n}" for n in range(20))
    server.script("/jobs", reply(json={"status": "queued"}))
    server.script("/jobs/1", [reply(503, text="busy", headers={"Retry-After": "1"}), reply(401, text="no")])
    action = make_action(server.base_url, url=long_path, polling_mode="poll", poll_url="/jobs/1", poll_interval=1,
                         stop=[("status", "equals", "done", "success")], on_other_status="fail")
    from tests.engine_helpers import drive

    with pytest.MonkeyPatch.context() as monkeypatch:
        from django_q.conf import Conf

        monkeypatch.setattr(Conf, "SYNC", True)
        run = drive(start_run(action))
    assert run.status == Status.FAILED
    return run


@pytest.mark.parametrize("width", [1366, 390])
def test_the_run_page_log_reads_at_1366_and_390(browser, site, admin_user, failed_run, width):  # noqa: F811
    page = open_page(browser, site, width=width, height=900)
    try:
        page.goto(reverse("admin:runs_run_change", args=[failed_run.pk]))
        screenshot(page, f"run-page-{width}")
        assert "3 exchanges" in page.inner_text(".run-log-count")
        decision = page.locator(".run-log-decision", has_text="401 is not an accepted status (2xx): the run fails.")
        debug = page.locator("a.run-log-debug").first
        for element in (decision, debug):
            box = element.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, (width, box)
        url = page.locator(".run-log-request").last  # the first request's (newest first)
        assert url.bounding_box()["height"] < 20  # one line, not four
        assert url.get_attribute("title").endswith("filter_19=value-19")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    finally:
        page.context.close()


def test_live_rows_ask_every_2_s_wait_longer_after_errors_pause_when_hidden_and_stop_when_settled(
        browser, site, admin_user):  # noqa: F811
    """The page's clock is Playwright's: timers fire when the test moves it, so what is asked when is exact."""
    action = make_action("http://127.0.0.1:9/", name="Watched")
    run = Run.objects.create(action=action, integration=action.integration, status=Status.POLLING, attempt=1,
                             reason="Polling.", started_at=timezone.now(), callback_token="watched")
    page = open_page(browser, site, width=1366, height=900)
    try:
        asked = []
        page.on("request", lambda request: asked.append(request.url) if "/admin/runs/run/live/" in request.url
                else None)
        start = timezone.now()
        page.clock.install(time=start)
        page.clock.pause_at(start + timedelta(seconds=1))  # time moves only when the test moves it
        page.goto(LIST)

        def tick(ms, *, expect):
            before = len(asked)
            if expect:
                with page.expect_response(lambda response: "/admin/runs/run/live/" in response.url):
                    page.clock.run_for(ms)
            else:
                page.clock.run_for(ms)
            return len(asked) - before

        assert tick(1900, expect=False) == 0
        assert tick(100, expect=True) == 1
        assert asked[-1].endswith(f"/admin/runs/run/live/?id={run.pk}")

        page.route("**/admin/runs/run/live/**", lambda route: route.fulfill(status=503, body="busy"))
        assert tick(2000, expect=True) == 1  # fails: the next question waits 4 s
        assert tick(3900, expect=False) == 0
        assert tick(100, expect=True) == 1  # fails again: 8 s
        page.unroute("**/admin/runs/run/live/**")
        assert tick(7900, expect=False) == 0
        assert tick(100, expect=True) == 1  # answered: every 2 s again

        page.evaluate("Object.defineProperty(document, 'hidden', {configurable: true, get: () => true})")
        assert tick(2000, expect=False) == 0  # the timer due now finds the tab hidden and asks nothing
        assert tick(10000, expect=False) == 0
        page.evaluate("""Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});
                         document.dispatchEvent(new Event('visibilitychange'));""")
        Run.objects.filter(pk=run.pk).update(status=Status.SUCCEEDED, reason="The service answered 200.",
                                             finished_at=timezone.now(), attempt=2)
        assert tick(2000, expect=True) == 1
        badge = row_badge(page, run)
        badge.filter(has_text=re.compile("^Succeeded$")).wait_for(timeout=5000)
        assert page.locator(f"[data-run-requests='{run.pk}']").inner_text() == "2"
        assert tick(30000, expect=False) == 0  # none active: it stopped asking
    finally:
        page.context.close()


def test_reject_asks_first_and_the_rejected_run_does_not_read_success(browser, site, admin_user):  # noqa: F811
    action = make_action("http://127.0.0.1:9/", name="Checked", finish_on_success=False)
    run = Run.objects.create(
        action=action, integration=action.integration, status=Status.WAITING_CONFIRMATION, attempt=1,
        reason="Stop condition matched: status equals 'done' matched (found \"done\"): success. "
               "Waiting for a person to confirm success.", started_at=timezone.now(), callback_token="checked")
    page = open_page(browser, site, width=390, height=844)
    try:
        page.goto(reverse("admin:runs_run_change", args=[run.pk]))
        page.fill("#reject-reason", "wrong amount")
        asked = []

        def answer(dialog, accept):
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        page.once("dialog", lambda dialog: answer(dialog, False))
        page.click("button.run-reject")
        assert asked == [f"Reject the success of run #{run.pk}? It fails."]
        run.refresh_from_db()
        assert run.status == Status.WAITING_CONFIRMATION  # dismissed: nothing was posted

        page.once("dialog", lambda dialog: answer(dialog, True))
        with page.expect_navigation():
            page.click("button.run-reject")
        run.refresh_from_db()
        assert run.status == Status.FAILED
        headline = page.inner_text(".run-reason")
        assert headline.startswith("Success rejected by alice: wrong amount. Overruled: the conditions said success")
        assert not headline.endswith(": success.")
        screenshot(page, "run-page-rejected-390")
    finally:
        page.context.close()
