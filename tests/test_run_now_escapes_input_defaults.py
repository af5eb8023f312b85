"""Run now and Refire show an input's label, default and choices as text, never as HTML.

The admin renders a field's help text as HTML, and the help text quotes the
input's default: stored text that an admin typed or an imported export
document brought. (The browser test, test_xss_never_runs_in_the_browser.py,
shows the same in Chromium with every other field.)
"""

import pytest
from django.urls import reverse

from integrations.models import ActionInput
from integrations.transfer import import_integration
from runs.models import Run, Status

PAYLOAD = '<img src=x onerror="window.__xss=1">'
ESCAPED = "&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;"


@pytest.fixture
def hostile_action(db):
    """An action whose inputs came in through an export document, each holding markup."""
    integration, _ = import_integration({
        "name": "Imported", "slug": "imported", "base_url": "https://api.example.com",
        "actions": [{
            "name": "Hostile", "slug": "hostile", "method": "POST", "url": "/jobs",
            "body_type": "json", "body": '{"a": "{{ plain }}", "b": "{{ picked }}"}',
            "inputs": [
                {"name": "plain", "label": f"Label {PAYLOAD}", "required": False, "default": PAYLOAD},
                {"name": "picked", "label": "Picked", "required": False, "default": PAYLOAD,
                 "choices": f"{PAYLOAD},other"},
            ],
        }],
    })
    action = integration.actions.get()
    assert ActionInput.objects.get(action=action, name="plain").default == PAYLOAD  # the import kept it as it was
    return action


def assert_shown_as_text(response):
    html = response.content.decode()
    assert response.status_code == 200
    assert PAYLOAD not in html, "the input's stored text reached the page as markup"
    assert f"Left blank: &#x27;{ESCAPED}&#x27;." in html  # the help text quotes the default, escaped
    assert f"Label {ESCAPED}" in html
    assert f"(default: {ESCAPED})" in html  # the blank choice of the select names the default


def test_run_now_escapes_the_inputs_of_an_imported_action(client, admin_user, hostile_action):
    client.force_login(admin_user)

    assert_shown_as_text(client.get(reverse("admin:integrations_action_run", args=[hostile_action.pk])))


def test_refire_escapes_the_inputs_and_the_variables_of_the_run(client, admin_user, hostile_action):
    run = Run.objects.create(action=hostile_action, integration=hostile_action.integration, status=Status.FAILED,
                             variables={"plain": PAYLOAD})
    client.force_login(admin_user)

    response = client.get(reverse("admin:runs_run_refire", args=[run.pk]))

    assert_shown_as_text(response)
    assert f'value="{ESCAPED}"' in response.content.decode()  # the run's own value, to edit
