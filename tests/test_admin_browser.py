"""The admin in a real Chromium: an Integrations Admin builds an integration and a polling action.

Screenshots go to test-artifacts/ so that a person can look at the pages.
"""

from django.urls import reverse

from integrations.models import Integration
from tests.browser import BROWSER, browser, open_section, orm_beside_playwright, page, screenshot  # noqa: F401

pytestmark = BROWSER


def choose_in_autocomplete(page, field, text):
    page.click(f".field-{field} .select2-selection")
    page.fill(".select2-search__field", text)
    page.click(f".select2-results__option:has-text('{text}')")


def test_admin_creates_an_integration_and_a_polling_action(page):
    page.goto(reverse("admin:integrations_integration_add"))
    page.locator("#id_name").press_sequentially("Ticket Service")
    page.fill("#id_base_url", "https://tickets.example.test/api")
    page.fill("#id_default_headers", '{"Accept": "application/json"}')
    page.click("#secrets-group .add-row a")
    page.fill("#id_secrets-0-name", "TOKEN")
    page.fill("#id_secrets-0-value", "browser-PLAINTEXT-secret")
    assert page.input_value("#id_slug") == "ticket-service"
    screenshot(page, "integration-add")
    page.click("input[name=_save]")

    assert "was added successfully" in page.inner_text(".messagelist .success")
    screenshot(page, "integration-list")

    page.goto(reverse("admin:integrations_action_add"))
    choose_in_autocomplete(page, "integration", "Ticket Service")
    page.locator("#id_name").press_sequentially("Create ticket")
    page.select_option("#id_method", "POST")
    page.fill("#id_url", "/tickets")
    page.select_option("#id_body_type", "json")
    page.fill("#id_body", '{\n  "title": "{{ title }}"\n}')
    open_section(page, "Polling")
    page.select_option("#id_polling_mode", "poll")
    page.fill("#id_poll_url", "/tickets/{{ ticket_id }}")
    page.fill("#id_poll_interval", "PT30S")
    open_section(page, "Conditions and mappings")
    add_row = page.locator("#stop_conditions-group .add-row a")
    add_row.click()
    add_row.click()
    page.fill("#id_stop_conditions-0-path", "status")
    page.fill("#id_stop_conditions-0-value", "done")
    page.fill("#id_stop_conditions-1-path", "status")
    page.fill("#id_stop_conditions-1-value", "failed")
    page.select_option("#id_stop_conditions-1-outcome", "failure")
    page.click("input[name=_continue]")

    # Nothing declares title or stores ticket_id yet: refused, on the fields that use them.
    assert "{{ title }} names nothing that can fill it" in page.inner_text(".field-body .errorlist")
    assert "{{ ticket_id }} names nothing" in page.inner_text(".field-poll_url .errorlist")
    screenshot(page, "action-unknown-placeholders")
    open_section(page, "Request")
    page.click("#inputs-group .add-row a")
    page.fill("#id_inputs-0-name", "title")
    open_section(page, "Conditions and mappings")
    page.click("#mappings-group .add-row a")
    page.fill("#id_mappings-0-field", "ticket_id")
    page.fill("#id_mappings-0-path", "id")
    page.click("input[name=_continue]")

    assert "was added successfully" in page.inner_text(".messagelist .success")
    screenshot(page, "action-change")
    integration = Integration.objects.get(slug="ticket-service")
    action = integration.actions.get()
    assert action.poll_interval == 30
    assert [(row.value, row.outcome) for row in action.stop_conditions.all()] == [
        ("done", "success"),
        ("failed", "failure"),
    ]

    page.goto(reverse("admin:integrations_integration_change", args=[integration.pk]))
    assert "Create ticket" in page.inner_text("#actions-group")
    assert "browser-PLAINTEXT-secret" not in page.content()
    assert integration.secrets.get(name="TOKEN").value == "browser-PLAINTEXT-secret"
    screenshot(page, "integration-change")


def test_bad_json_is_shown_on_the_field(page, action):
    page.goto(reverse("admin:integrations_action_change", args=[action.pk]))
    page.fill("#id_headers", '{\n  "Accept": \n}')
    page.click("input[name=_continue]")

    error = page.locator(".field-headers .errorlist")
    assert "Invalid JSON at line 3, column 1" in error.inner_text()
    assert page.input_value("#id_headers") == '{\n  "Accept": \n}'
    font = page.eval_on_selector("#id_headers", "element => getComputedStyle(element).fontFamily")
    assert "monospace" in font
    page.locator(".field-headers").scroll_into_view_if_needed()
    screenshot(page, "action-bad-json")
