"""A chain in a real Chromium, with a real cluster: a step that waits for confirmation, then one that waits
for a person to start it; each button pressed on the run's page, the page following the runs by itself."""

import pytest
from django.urls import reverse

from runs.models import Run, Status
from tests.browser import BROWSER, browser, logged_in_page, orm_beside_playwright, screenshot  # noqa: F401
from tests.test_admin_runs_browser import (  # noqa: F401
    admin_page,
    cluster,
    current_run,
    job_action,
    mark_page,
    site,
    still_the_same_page,
    wait_for_status,
)

pytestmark = [*BROWSER, pytest.mark.cluster]


@pytest.mark.parametrize("site", ["development"], indirect=True)
def test_a_chain_is_confirmed_then_started_from_the_run_pages(admin_page, site, cluster):
    page = admin_page
    second = job_action(site, name="Second step", auto_start=False)
    first = job_action(site, name="First step", integration=second.integration, finish_on_success=False,
                       next_action=second)

    page.goto(reverse("admin:integrations_action_run", args=[first.pk]))
    page.fill("#id_seconds", "1")
    page.click("input[name=_start]")
    mark_page(page)
    wait_for_status(page, "Waiting for confirmation")
    assert still_the_same_page(page)
    assert page.is_visible("#run-confirm")
    screenshot(page, "chain-waiting-for-confirmation")

    page.click("button.run-confirm-success")
    wait_for_status(page, "Succeeded")
    waiting = Run.objects.get(action=second)
    assert waiting.status == Status.WAITING_START
    page.locator("#run-chain").get_by_role("link", name=f"run #{waiting.pk}").click()
    assert current_run(page) == waiting
    page.click("button.run-start")

    mark_page(page)
    wait_for_status(page, "Succeeded")
    assert still_the_same_page(page)
    steps = page.locator("#run-chain .run-chain-step")
    assert steps.count() == 2
    assert [steps.nth(i).locator(".run-status").inner_text() for i in range(2)] == ["Succeeded", "Succeeded"]
    assert Run.objects.get(pk=waiting.pk).variables["seconds"] == "1"  # carried from the first step
    screenshot(page, "chain-succeeded")
