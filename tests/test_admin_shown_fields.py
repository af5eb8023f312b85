"""The choices that decide which fields apply name real fields of their page (the script in the browser hides
the others; see test_admin_form_in_browser.py)."""

import json

import pytest
from django.contrib.admin.utils import flatten_fieldsets
from django.urls import reverse

from integrations.admin import ActionAdmin, IntegrationAdmin
from integrations.forms import AUTH_ROWS
from integrations.models import AUTH_FIELDS, CANCEL_WEBHOOK_FIELDS, POLLING_FIELDS, AuthType, PollingMode

ACTION_PAGE = flatten_fieldsets(ActionAdmin.fieldsets)
INTEGRATION_PAGE = flatten_fieldsets(IntegrationAdmin.fieldsets)


@pytest.mark.parametrize("fields, page", [
    (POLLING_FIELDS, ACTION_PAGE),
    ({"true": CANCEL_WEBHOOK_FIELDS}, ACTION_PAGE),
    (AUTH_FIELDS, INTEGRATION_PAGE),
    (AUTH_ROWS, INTEGRATION_PAGE),
])
def test_each_field_named_is_on_the_page(fields, page):
    for names in fields.values():
        assert set(names) <= set(page)


def test_every_choice_says_what_it_shows():
    assert set(POLLING_FIELDS) == set(PollingMode)
    assert set(AUTH_FIELDS) == set(AuthType)


def test_every_polling_setting_applies_to_polling():
    [(_, polling)] = [fieldset for fieldset in ActionAdmin.fieldsets if fieldset[0] == "Polling"]

    assert set(flatten_fieldsets([(None, polling)])) - {"polling_mode"} == set(POLLING_FIELDS[PollingMode.POLL])


@pytest.mark.parametrize("page, field, expected", [
    ("action", "polling_mode", POLLING_FIELDS),
    ("action", "cancelable", {"true": CANCEL_WEBHOOK_FIELDS, "false": []}),
    ("integration", "auth_type", AUTH_ROWS),
])
def test_the_choosing_field_tells_the_script(client, admin_user, action, page, field, expected):
    client.force_login(admin_user)
    obj = action if page == "action" else action.integration

    response = client.get(reverse(f"admin:integrations_{page}_change", args=[obj.pk]))

    widget = response.context["adminform"].form.fields[field].widget
    assert json.loads(widget.attrs["data-shows"]) == {str(key): value for key, value in expected.items()}
    assert "integrations/shown-fields.js" in response.content.decode()
