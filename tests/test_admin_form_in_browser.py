"""The action and integration forms in a real Chromium: only the fields that apply, errors listed with links,
typed secrets kept through an error, and pages that fit a phone.

Screenshots go to test-artifacts/ so that a person can look at the pages.
"""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from integrations.models import Action, Integration, StopCondition
from tests.browser import BROWSER, browser, open_section, orm_beside_playwright, page, screenshot  # noqa: F401

pytestmark = BROWSER

PHONE = {"width": 390, "height": 844}


def shown(page, field):
    """Whether ``field``'s row (or its box, on a line of several) is visible."""
    box = page.locator(f".fieldBox.field-{field}")
    return (box if box.count() else page.locator(f".form-row.field-{field}")).is_visible()


def submit(page, button="_continue"):
    """Press a submit button and wait for the page that answers."""
    with page.expect_navigation():
        page.click(f"input[name={button}]")


def polling_help(page):
    return page.locator(".description p", has_text="With a blank polling URL")


def test_the_action_form_shows_the_fields_of_its_polling_mode(page, action):
    page.goto(reverse("admin:integrations_action_change", args=[action.pk]))
    open_section(page, "Polling")

    assert page.input_value("#id_polling_mode") == "none"
    assert not any(shown(page, field) for field in ["poll_url", "poll_interval", "poll_timeout", "on_server_error"])
    assert not polling_help(page).is_visible()

    page.select_option("#id_polling_mode", "poll")
    assert all(shown(page, field) for field in ["poll_url", "poll_headers", "poll_max_attempts", "poll_backoff",
                                                 "on_server_error"])
    assert polling_help(page).is_visible()
    page.locator("#id_polling_mode").scroll_into_view_if_needed()
    screenshot(page, "action-polling-mode-poll")

    page.select_option("#id_polling_mode", "callback")
    assert all(shown(page, field) for field in ["poll_timeout", "poll_interval", "max_consecutive_errors"])
    assert not any(shown(page, field) for field in ["poll_url", "poll_headers", "poll_max_attempts"])
    assert page.locator(".description p", has_text="When waiting for a callback").is_visible()
    assert not polling_help(page).is_visible()
    screenshot(page, "action-polling-mode-callback")


def test_the_cancel_webhook_shows_only_for_a_cancelable_action(page, action):
    page.goto(reverse("admin:integrations_action_change", args=[action.pk]))
    open_section(page, "Settings")
    assert shown(page, "cancel_webhook_url")

    page.uncheck("#id_cancelable")

    assert not shown(page, "cancel_webhook_url") and not shown(page, "cancel_webhook_body")
    assert shown(page, "include_context")


@pytest.mark.parametrize(
    "auth_type, fields",
    [
        ("none", []),
        ("basic", ["auth_username", "auth_secret"]),
        ("bearer", ["auth_secret"]),
        ("api_key_query", ["api_key_name", "auth_secret"]),
        ("oauth2_client_credentials", ["oauth_token_url", "oauth_client_id", "auth_secret", "oauth_scope"]),
        ("oauth2_authorization_code",
         ["oauth_authorize_url", "oauth_token_url", "oauth_client_id", "auth_secret", "oauth_scope", "oauth_sign_in"]),
    ],
)
def test_the_integration_form_shows_the_fields_of_its_authentication(page, auth_type, fields):
    every = ["auth_username", "auth_secret", "api_key_name", "oauth_authorize_url", "oauth_token_url",
             "oauth_client_id", "oauth_scope", "oauth_sign_in"]
    page.goto(reverse("admin:integrations_integration_add"))

    page.select_option("#id_auth_type", auth_type)

    assert sorted(field for field in every if shown(page, field)) == sorted(fields)
    if auth_type == "oauth2_client_credentials":
        page.locator("#id_auth_type").scroll_into_view_if_needed()
        screenshot(page, "integration-auth-oauth2")


def test_a_field_with_an_error_is_never_hidden(page, action):
    page.goto(reverse("admin:integrations_action_change", args=[action.pk]))
    open_section(page, "Polling")
    page.select_option("#id_polling_mode", "poll")
    page.fill("#id_poll_interval", "ten seconds")
    page.select_option("#id_polling_mode", "none")
    submit(page)

    assert page.get_by_role("tab", name="Polling").get_attribute("aria-selected") == "true"  # its error opens it
    assert page.input_value("#id_polling_mode") == "none"
    assert shown(page, "poll_interval")
    assert "is not a duration" in page.inner_text(".field-poll_interval .errorlist")
    assert not shown(page, "poll_url")


def test_without_javascript_every_field_is_shown(browser, live_server, admin_user, action):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    page.goto(reverse("admin:login"))
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", "alice-password-123")
    page.click("input[type=submit]")
    page.goto(reverse("admin:integrations_action_change", args=[action.pk]))

    assert all(shown(page, field) for field in ["poll_url", "poll_timeout", "on_server_error", "cancel_webhook_url"])
    context.close()


def test_the_error_summary_links_to_each_field_in_error(page, action):
    page.goto(reverse("admin:integrations_action_change", args=[action.pk]))
    page.fill("#id_headers", '{"Accept": }')
    open_section(page, "Conditions and mappings")
    add_row = page.locator("#stop_conditions-group .add-row a")
    add_row.click()
    add_row.click()
    page.fill("#id_stop_conditions-0-path", "status")
    page.fill("#id_stop_conditions-1-path", "$.data[")
    submit(page)

    summary = page.locator(".error-summary")
    expect(summary.locator("li")).to_have_count(2)
    screenshot(page, "action-error-summary")

    summary.get_by_role("link", name="Stop condition 2 › Path").click()

    page.wait_for_function("location.hash === '#id_stop_conditions-1-path'")
    target = page.locator("#id_stop_conditions-1-path")
    assert target.is_visible()
    top = target.evaluate("element => element.getBoundingClientRect().top")
    assert 0 < top < page.viewport_size["height"]
    assert "Invalid JSONPath" in page.inner_text("#stop_conditions-1 .errorlist")

    page.locator(".error-summary").scroll_into_view_if_needed()
    summary.get_by_role("link", name="Request › Headers").click()
    page.wait_for_function("location.hash === '#id_headers'")
    assert page.locator("#id_headers").evaluate("element => element.getBoundingClientRect().top") > 0
    assert not StopCondition.objects.exists()


def test_a_typed_secret_survives_an_error_elsewhere(page):
    page.goto(reverse("admin:integrations_integration_add"))
    page.locator("#id_name").press_sequentially("Vault")
    page.select_option("#id_auth_type", "bearer")
    page.fill("#id_auth_secret", "browser-PLAINTEXT-bearer")
    page.click("#secrets-group .add-row a")
    page.fill("#id_secrets-0-name", "TOKEN")
    page.fill("#id_secrets-0-value", "browser-PLAINTEXT-row")
    page.fill("#id_default_headers", "{oops")
    submit(page)

    assert "Invalid JSON" in page.inner_text(".error-summary")
    html = page.content()
    assert "browser-PLAINTEXT" not in html
    assert page.input_value("#id_auth_secret") == "" and page.input_value("#id_secrets-0-value") == ""
    assert page.locator(".field-auth_secret .write-only-kept").inner_text().startswith("Typed value: kept, not shown")
    assert page.locator("#secrets-0 .write-only-kept").is_visible()
    page.locator("#id_auth_secret").scroll_into_view_if_needed()
    screenshot(page, "integration-secret-kept")

    page.fill("#id_default_headers", "{}")
    submit(page)

    assert "was added successfully" in page.inner_text(".messagelist .success")
    integration = Integration.objects.get(slug="vault")
    assert integration.auth_secret == "browser-PLAINTEXT-bearer"
    assert integration.secrets.get(name="TOKEN").value == "browser-PLAINTEXT-row"
    assert "browser-PLAINTEXT" not in page.content()


@pytest.fixture
def phone(page):
    page.set_viewport_size(PHONE)
    return page


def page_width(page):
    return page.evaluate("document.scrollingElement.scrollWidth")


@pytest.mark.parametrize("name", ["integration", "action"])
def test_the_lists_fit_a_phone(phone, action, name):
    Action.objects.create(integration=action.integration, name="Look up a very long ticket name", slug="look",
                          url="/tickets/{{ ticket_id }}/with/a/rather/long/path/that/goes/on")
    phone.goto(reverse(f"admin:integrations_{name}_changelist"))

    assert page_width(phone) <= PHONE["width"]
    screenshot(phone, f"phone-{name}-list")


def test_the_action_page_fits_a_phone_and_its_tables_scroll_in_their_box(phone, action):
    StopCondition.objects.create(action=action, path="$.data.status", value="done", target_field="status")
    phone.goto(reverse("admin:integrations_action_change", args=[action.pk]))
    open_section(phone, "Polling")
    phone.select_option("#id_polling_mode", "poll")
    open_section(phone, "Conditions and mappings")

    assert page_width(phone) <= PHONE["width"]
    box = phone.locator("#stop_conditions-group fieldset")
    sizes = box.evaluate("element => [element.scrollWidth, element.clientWidth]")
    assert sizes[0] > sizes[1]  # the table is wider than its box, which scrolls
    assert box.evaluate("element => getComputedStyle(element).overflowX") == "auto"
    screenshot(phone, "phone-action-change")


def test_the_integration_page_fits_a_phone(phone, action):
    phone.goto(reverse("admin:integrations_integration_change", args=[action.integration.pk]))
    phone.click("#secrets-group .add-row a")

    assert page_width(phone) <= PHONE["width"]
    screenshot(phone, "phone-integration-change")
