"""A placeholder that no input, stored field, secret or run fact can fill is refused when a definition is saved."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from integrations.models import Action, ActionInput, ContinueCondition, Integration, Secret, StopCondition
from integrations.placeholders import RUN_FACTS, available_names, integration_names, unknown_placeholders
from tests.admin_helpers import field_errors, inline_rows, input_rows, row_errors, stop_condition_rows

NAMES = available_names(inputs=["title", "job"], fields=["job_id"], secrets=["TOKEN"])


@pytest.mark.parametrize("text", [
    "{{ title }}", "{{ job.id }}", "{{ job.items.0.name }}", "{{ job_id }}", "{{ secrets.TOKEN }}",
    *(f"{{{{ {fact} }}}}" for fact in RUN_FACTS),
])
def test_inputs_stored_fields_paths_below_them_secrets_and_run_facts_are_known(text):
    assert unknown_placeholders(text, NAMES) == ""


@pytest.mark.parametrize("text, unknown", [
    ("{{ titel }}", "titel"),
    ("{{ secrets.TOKN }}", "secrets.TOKN"),
    ("{{ secrets.TOKEN.x }}", "secrets.TOKEN.x"),
    ("{{ run.status }}", "run.status"),
    ("{{ run }}", "run"),
    ("{{ integration.base_url }}", "integration.base_url"),
])
def test_anything_else_is_named_with_what_is_available(text, unknown):
    message = unknown_placeholders(text, NAMES)

    assert message.startswith(f"{{{{ {unknown} }}}} names nothing that can fill it.")
    assert "Available: inputs title, job; stored fields job_id; secrets.TOKEN; run.id, run.callback_url" in message


def test_a_close_name_is_suggested():
    assert "Did you mean {{ job_id }}?" in unknown_placeholders("/jobs/{{ job_idd }}", NAMES)
    assert "Did you mean {{ secrets.TOKEN }}?" in unknown_placeholders("{{ secrets.TOKN }}", NAMES)


def test_every_unknown_placeholder_of_a_json_value_is_named_once():
    message = unknown_placeholders({"{{ a }}": "{{ b }} {{ a }}", "list": ["{{ title }}", 3]}, NAMES)

    assert message.startswith("{{ a }}, {{ b }} name nothing that can fill them.")


def test_integration_fields_may_use_only_secrets_and_run_facts():
    names = integration_names(secrets=["TOKEN"])

    assert unknown_placeholders("Bearer {{ secrets.TOKEN }} {{ run.id }}", names) == ""
    message = unknown_placeholders("{{ tenant }}", names)
    assert "{{ tenant }} names nothing" in message
    assert "An action's inputs and stored fields cannot be used here" in message


@pytest.mark.parametrize("model, field", [(ActionInput, "name"), (StopCondition, "target_field")])
def test_inputs_and_fields_cannot_take_the_names_of_secrets_or_run_facts(action, model, field):
    row = model(action=action, **{field: "run"}, **({"path": "status"} if model is StopCondition else {}))

    with pytest.raises(ValidationError) as caught:
        row.full_clean()

    assert "'run' is taken by {{ run.… }} placeholders" in caught.value.message_dict[field][0]


def test_a_saved_action_reports_its_unfillable_placeholders_field_by_field(action):
    Secret.objects.create(integration=action.integration, name="TOKEN", value="s")
    ActionInput.objects.create(action=action, name="title")
    Action.objects.filter(pk=action.pk).update(
        url="/tickets/{{ title }}", headers={"Authorization": "Bearer {{ secrets.TOKEN }}", "X-Id": "{{ id }}"}
    )
    StopCondition.objects.create(action=action, path="id", value="{{ ticket }}")
    action.refresh_from_db()

    errors = action.placeholder_errors()

    assert sorted(errors) == ["headers", "stop conditions"]
    assert errors["headers"][0].startswith("{{ id }} names nothing")
    assert errors["stop conditions"][0].startswith("Row 1: {{ ticket }} names nothing")


# --- the action's admin page: the form and its inlines are checked together ---------------------------------


def test_an_undeclared_placeholder_is_refused_on_its_field_and_nothing_is_saved(post_action, action):
    response = post_action(url="/tickets/{{ ticket_id }}", body_type="json", body='{"t": "{{ title }}"}')

    assert response.status_code == 200
    [message] = field_errors(response, "url")
    assert message.startswith("{{ ticket_id }} names nothing that can fill it.")
    assert "no secrets" in message and "run.callback_url" in message
    [message] = field_errors(response, "body")
    assert message.startswith("{{ title }} names nothing")
    assert "names nothing that can fill it" in response.content.decode()
    action.refresh_from_db()
    assert action.url == "/tickets"


def test_an_input_declared_in_the_same_save_fills_the_placeholder(post_action, action):
    response = post_action(url="/tickets/{{ ticket_id }}", **input_rows("ticket_id"))

    assert response.status_code == 302
    action.refresh_from_db()
    assert action.url == "/tickets/{{ ticket_id }}"
    assert list(action.inputs.values_list("name", flat=True)) == ["ticket_id"]


def test_fields_stored_by_mappings_and_stop_conditions_fill_placeholders(post_action, action):
    response = post_action(
        polling_mode="poll",
        poll_url="/jobs/{{ job.id }}",
        poll_params='{"seen": "{{ last_status }}"}',
        **inline_rows("mappings", {"field": "job", "path": "data"}, source="request"),
        **stop_condition_rows({"path": "status", "value": "done", "target_field": "last_status"}),
    )

    assert response.status_code == 302
    action.refresh_from_db()
    assert action.poll_url == "/jobs/{{ job.id }}"


def test_a_secret_of_the_integration_fills_a_placeholder_and_a_missing_one_is_refused(post_action, integration):
    Secret.objects.create(integration=integration, name="TOKEN", value="s3cr3t")

    refused = post_action(headers='{"Authorization": "Bearer {{ secrets.TOKN }}"}')
    saved = post_action(headers='{"Authorization": "Bearer {{ secrets.TOKEN }}"}')

    [message] = field_errors(refused, "headers")
    assert "{{ secrets.TOKN }} names nothing" in message and "Did you mean {{ secrets.TOKEN }}?" in message
    assert saved.status_code == 302


def test_condition_values_are_checked_on_their_rows(post_action, action):
    response = post_action(
        **stop_condition_rows({"path": "number", "value": "{{ issue_number }}"}),
        **inline_rows("continue_conditions", {"path": "owner", "value": "{{ owner }}"}, operator="equals"),
        **input_rows("owner"),
    )

    assert response.status_code == 200
    [message] = row_errors(response, "stop_conditions", 0, "value")
    assert message.startswith("{{ issue_number }} names nothing")
    assert row_errors(response, "continue_conditions", 0, "value") == []
    assert not StopCondition.objects.exists() and not ContinueCondition.objects.exists()
    assert not ActionInput.objects.exists()


def test_deleting_an_input_that_a_field_uses_is_refused_on_that_field(post_action, action):
    ActionInput.objects.create(action=action, name="ticket_id")
    Action.objects.filter(pk=action.pk).update(url="/tickets/{{ ticket_id }}")

    response = post_action(**{"inputs-0-DELETE": "on"})

    [message] = field_errors(response, "url")
    assert message.startswith("{{ ticket_id }} names nothing")
    assert action.inputs.exists()


def test_the_add_page_checks_placeholders_too_and_survives_a_missing_integration(client, admin_user, integration,
                                                                                  change_form_data):
    client.force_login(admin_user)
    url = reverse("admin:integrations_action_add")
    fields = {"name": "Close", "slug": "close", "url": "/close/{{ ticket_id }}"}

    without_integration = client.post(url, change_form_data(client.get(url), **fields))
    refused = client.post(url, change_form_data(client.get(url), integration=integration.pk, **fields))
    saved = client.post(url, change_form_data(client.get(url), integration=integration.pk, **fields,
                                              **input_rows("ticket_id")))

    assert field_errors(without_integration, "integration")
    assert not any("names nothing" in message for message in field_errors(without_integration, "url"))
    assert field_errors(refused, "url")[0].startswith("{{ ticket_id }} names nothing")
    assert saved.status_code == 302
    assert integration.actions.get().inputs.get().name == "ticket_id"


# --- the integration's admin page ---------------------------------------------------------------------------


@pytest.fixture
def post_integration(client, admin_user, integration, change_form_data):
    client.force_login(admin_user)
    url = reverse("admin:integrations_integration_change", args=[integration.pk])

    def post(**changes):
        return client.post(url, change_form_data(client.get(url), **changes))

    return post


def secret_rows(*names):
    return inline_rows("secrets", *({"name": name, "value": "v"} for name in names))


def test_default_headers_and_base_url_may_not_use_an_actions_names(post_integration, integration):
    response = post_integration(default_headers='{"X-Tenant": "{{ tenant }}"}',
                                base_url="https://{{ region }}.api.example.com")

    assert response.status_code == 200
    [message] = field_errors(response, "default_headers")
    assert message.startswith("{{ tenant }} names nothing")
    assert "put such a header in the action" in message
    assert field_errors(response, "base_url")[0].startswith("{{ region }} names nothing")
    integration.refresh_from_db()
    assert integration.default_headers == {}


def test_authentication_fields_may_use_a_secret_added_in_the_same_save(post_integration, integration):
    response = post_integration(
        auth_type="basic", auth_username="{{ secrets.USER }}", auth_secret="{{ secrets.PASSWORD }}",
        default_headers='{"X-Run": "{{ run.id }}"}', **secret_rows("USER", "PASSWORD"),
    )

    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.auth_secret == "{{ secrets.PASSWORD }}"
    assert sorted(integration.secrets.values_list("name", flat=True)) == ["PASSWORD", "USER"]


@pytest.mark.parametrize("field", ["auth_username", "auth_secret", "api_key_name", "oauth_client_id", "oauth_scope",
                                   "oauth_token_url"])
def test_each_authentication_field_is_checked(post_integration, field):
    value = "{{ secrets.TENANT }}"
    if field == "oauth_token_url":
        value = f"https://login.example.com/{value}/token"

    response = post_integration(**{field: value})

    [message] = field_errors(response, field)
    assert message.startswith("{{ secrets.TENANT }} names nothing") and "no secrets" in message


def test_a_malformed_placeholder_in_an_authentication_field_is_refused(integration):
    integration.auth_secret = "{{ secrets.PASSWORD"

    with pytest.raises(ValidationError) as caught:
        integration.full_clean()

    assert "never closed" in caught.value.message_dict["auth_secret"][0]


def test_deleting_a_secret_that_an_action_uses_is_allowed_and_breaks_nothing(post_integration, client, integration,
                                                                             action, post_action):
    Secret.objects.create(integration=integration, name="TOKEN", value="s3cr3t")
    Action.objects.filter(pk=action.pk).update(headers={"Authorization": "Bearer {{ secrets.TOKEN }}"})

    deleted = post_integration(**{"secrets-0-DELETE": "on"})

    assert deleted.status_code == 302
    assert not integration.secrets.exists()
    assert client.get(reverse("admin:integrations_action_change", args=[action.pk])).status_code == 200
    action.refresh_from_db()
    assert "{{ secrets.TOKEN }} names nothing" in action.placeholder_errors()["headers"][0]
    # The next save of the action says what is missing.
    assert field_errors(post_action(), "headers")[0].startswith("{{ secrets.TOKEN }} names nothing")


def test_integrations_of_any_kind_still_save_without_placeholders(post_integration):
    assert post_integration(description="Tickets").status_code == 302
    assert Integration.objects.get().description == "Tickets"
