"""Model-level validation: what the admin and the API both rely on."""

import pytest
from django.core.exceptions import ValidationError

from integrations.models import Action, ActionInput, Integration, StopCondition


def errors_of(obj):
    with pytest.raises(ValidationError) as info:
        obj.full_clean()
    return info.value.message_dict


def test_a_valid_action_passes(action):
    action.headers = {"Accept": "application/json", "X-Token": "{{ secrets.TOKEN }}"}
    action.body_type = "json"
    action.body = '{"title": "{{ title }}", "count": "{{ n }}"}'
    action.full_clean()


def test_json_body_fault_is_named_with_line_and_column(action):
    action.body_type = "json"
    action.body = '{"title": }'
    assert errors_of(action)["body"] == ["Invalid JSON at line 1, column 11: Expecting value."]


def test_body_without_type_is_refused(action):
    action.body = "hello"
    assert "body_type" in errors_of(action)


def test_headers_must_be_an_object_of_text(action):
    action.headers = {"Accept": ["a", "b"]}
    assert "not a list or object" in errors_of(action)["headers"][0]
    action.headers = ["Accept"]
    assert "JSON object" in errors_of(action)["headers"][0]


def test_relative_url_needs_a_base_url(db):
    integration = Integration.objects.create(name="No base", slug="no-base")
    action = Action(integration=integration, name="x", slug="x", url="/tickets")
    assert "no base URL" in errors_of(action)["url"][0]


def test_interval_must_be_at_least_one_second(action):
    action.poll_interval = 0.5
    assert "poll_interval" in errors_of(action)


def test_malformed_placeholder_in_url_is_refused(action):
    action.url = "/tickets/{{ a b }}"
    assert "malformed" in errors_of(action)["url"][0]


def test_stop_condition_path_and_value_are_checked(action):
    condition = StopCondition(action=action, path="$.items[", operator="lt", value="abc")
    errors = errors_of(condition)
    assert "Invalid JSONPath" in errors["path"][0]
    condition.path = "count"
    assert "needs a number" in errors_of(condition)["value"][0]


def test_auth_type_requires_its_fields(integration):
    integration.auth_type = "oauth2_client_credentials"
    errors = errors_of(integration)
    assert set(errors) == {"oauth_token_url", "oauth_client_id", "auth_secret"}


def test_declared_inputs_refuse_missing_unknown_and_off_choice_variables(action):
    ActionInput.objects.create(action=action, name="title", label="Title")
    ActionInput.objects.create(action=action, name="priority", required=False, default="low", choices="low, high")
    with pytest.raises(ValidationError) as info:
        action.validate_variables({"priority": "urgent", "colour": "red"})
    errors = info.value.message_dict
    assert errors["title"] == ["Title is required."]
    assert "not one of the choices" in errors["priority"][0]
    assert "takes no variable 'colour'" in errors["colour"][0]
    assert action.validate_variables({"title": "Printer on fire"}) == {"title": "Printer on fire", "priority": "low"}
