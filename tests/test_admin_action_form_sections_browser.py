"""The action form's sections as tabs in a real Chromium: keyboard-operable, opened by an error and by the error
summary's links, the placeholders one button away, every section shown without JavaScript; at 1366 and 390 px.

Screenshots go to test-artifacts/ so that a person can look at the pages. The heights are printed (-s).
"""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from integrations.models import StopCondition
from tests.browser import (  # noqa: F401
    ARTIFACTS,
    BROWSER,
    browser,
    logged_in_page,
    open_section,
    orm_beside_playwright,
    page,
    screenshot,
)

pytestmark = BROWSER

TABS = ["Request", "Polling", "Conditions and mappings", "Settings"]
WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def polling_action(action):
    action.polling_mode = "poll"
    action.poll_url = "/tickets/{{ ticket_id }}"
    action.save()
    action.inputs.create(name="title", position=1)
    action.mappings.create(field="ticket_id", path="$.id", position=1)
    StopCondition.objects.create(action=action, path="$.status", value="done", target_field="status", position=1)
    return action


def form_height(page):
    return page.evaluate("Math.round(document.querySelector('#content-main form').getBoundingClientRect().height)")


def selected_tabs(page):
    return [tab.inner_text() for tab in page.get_by_role("tab").all() if tab.get_attribute("aria-selected") == "true"]


def test_the_tabs_show_one_section_at_a_time_and_take_the_keyboard(page, polling_action):
    page.goto(reverse("admin:integrations_action_change", args=[polling_action.pk]))

    expect(page.get_by_role("tablist")).to_be_visible()
    assert [tab.inner_text() for tab in page.get_by_role("tab").all()] == TABS
    assert selected_tabs(page) == ["Request"]
    assert page.locator("#id_url").is_visible() and not page.locator("#id_poll_url").is_visible()
    assert page.locator("#section-request").get_attribute("role") == "tabpanel"

    page.get_by_role("tab", name="Request").focus()
    page.keyboard.press("ArrowRight")
    assert selected_tabs(page) == ["Polling"]
    assert page.evaluate("document.activeElement.textContent") == "Polling"
    assert page.locator("#id_poll_url").is_visible() and not page.locator("#id_url").is_visible()
    page.keyboard.press("End")
    assert selected_tabs(page) == ["Settings"] and page.locator("#id_cancelable").is_visible()
    page.keyboard.press("ArrowRight")  # wraps round
    assert selected_tabs(page) == ["Request"]
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert selected_tabs(page) == ["Conditions and mappings"]
    assert page.locator("#stop_conditions-group").is_visible()
    # The rows are on the first screen of their section, not below everything else.
    top = page.locator("#stop_conditions-group").evaluate("element => element.getBoundingClientRect().top")
    assert top < page.viewport_size["height"]
    assert page.get_by_role("columnheader", name="Store what it finds as").is_visible()
    # Only the selected tab is in the Tab order.
    assert [tab.get_attribute("tabindex") for tab in page.get_by_role("tab").all()] == ["-1", "-1", "0", "-1"]


def test_the_placeholders_are_one_button_away_from_every_section(page, polling_action):
    page.goto(reverse("admin:integrations_action_change", args=[polling_action.pk]))
    open_section(page, "Settings")
    panel = page.locator(".placeholder-panel-body")
    assert not panel.is_visible()

    page.get_by_text("Placeholders", exact=True).click()

    expect(panel).to_be_visible()
    for name in ["{{ title }}", "{{ ticket_id }}", "{{ status }}", "{{ run.callback_url }}"]:
        assert name in panel.inner_text()
    assert "Placeholders may be used" in page.locator(".field-cancel_webhook_url .help").inner_text()


def test_an_error_opens_its_section_and_the_summary_links_open_theirs(page, polling_action):
    page.goto(reverse("admin:integrations_action_change", args=[polling_action.pk]))
    open_section(page, "Polling")
    page.fill("#id_poll_interval", "0.5")
    open_section(page, "Conditions and mappings")
    page.fill("#id_stop_conditions-0-path", "$.data[")
    with page.expect_navigation():
        page.click("input[name=_continue]")

    assert selected_tabs(page) == ["Polling (to correct)"]
    assert page.locator("#id_poll_interval").is_visible()
    assert [tab.inner_text() for tab in page.get_by_role("tab").all()] == [
        "Request", "Polling (to correct)", "Conditions and mappings (to correct)", "Settings"]

    page.get_by_role("link", name="Stop condition 1 › Path").click()

    page.wait_for_function("location.hash === '#id_stop_conditions-0-path'")
    assert selected_tabs(page) == ["Conditions and mappings (to correct)"]
    target = page.locator("#id_stop_conditions-0-path")
    assert target.is_visible()
    assert 0 < target.evaluate("element => element.getBoundingClientRect().top") < page.viewport_size["height"]
    assert polling_action.stop_conditions.get().path == "$.status"  # nothing saved


def test_save_and_continue_comes_back_to_the_section_it_left(page, polling_action):
    page.goto(reverse("admin:integrations_action_change", args=[polling_action.pk]))
    open_section(page, "Settings")
    page.uncheck("#id_cancelable")
    with page.expect_navigation():
        page.click("input[name=_continue]")

    assert "was changed successfully" in page.inner_text(".messagelist .success")
    assert selected_tabs(page) == ["Settings"]
    polling_action.refresh_from_db()
    assert polling_action.cancelable is False


def test_without_javascript_every_section_shows_under_its_heading(browser, live_server, admin_user, polling_action):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False,
                                  viewport=WIDTHS["desktop"])
    page = context.new_page()
    page.goto(reverse("admin:login"))
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", "alice-password-123")
    page.click("input[type=submit]")
    page.goto(reverse("admin:integrations_action_change", args=[polling_action.pk]))

    assert not page.locator("[data-section-tabs]").is_visible()
    assert [heading.inner_text() for heading in page.locator(".form-section-heading").all()] == TABS
    for element in ["#id_url", "#id_poll_url", "#stop_conditions-group", "#id_cancelable"]:
        assert page.locator(element).is_visible()
    context.close()


@pytest.mark.parametrize("size", WIDTHS)
def test_the_form_is_a_section_tall_not_the_whole_page(browser, live_server, admin_user, polling_action, size):
    """Measured: the form's height with every section shown (as before, and without JavaScript) and with
    each section chosen; printed with -s."""
    url = reverse("admin:integrations_action_change", args=[polling_action.pk])
    heights = {}
    for javascript in (False, True):
        context = browser.new_context(base_url=live_server.url, java_script_enabled=javascript,
                                      viewport=WIDTHS[size])
        page = context.new_page()
        page.goto(reverse("admin:login"))
        page.fill("#id_username", admin_user.username)
        page.fill("#id_password", "alice-password-123")
        page.click("input[type=submit]")
        page.goto(url)
        if not javascript:
            heights["every section"] = form_height(page)
            screenshot(page, f"action-sections-{size}-without-js")
        else:
            page.get_by_text("Placeholders", exact=True).click()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=ARTIFACTS / f"action-sections-{size}-first-screen.png")  # what shows unscrolled
            page.get_by_text("Placeholders", exact=True).click()
            for tab in TABS:
                open_section(page, tab)
                heights[tab] = form_height(page)
                screenshot(page, f"action-sections-{size}-{tab.split()[0].lower()}")
            assert page.evaluate("document.scrollingElement.scrollWidth") <= WIDTHS[size]["width"]
        context.close()

    print(f"\naction form height at {WIDTHS[size]['width']} px:", heights)
    tallest = max(heights[tab] for tab in TABS)
    assert tallest < 0.6 * heights["every section"]
