"""Every kind of bad input in the admin gets its message on the field at fault; good input saves."""

import pytest
from django.urls import reverse

from integrations.models import Action, Integration, StopCondition
from tests.admin_helpers import field_errors, input_rows, stop_condition_errors, stop_condition_rows


@pytest.fixture
def client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_bad_json_names_line_and_column(post_action):
    response = post_action(headers='{\n  "Accept": "application/json",\n}')

    assert response.status_code == 200
    [message] = field_errors(response, "headers")
    assert "line 3, column 1" in message
    assert message in response.content.decode()


def test_bad_json_body_names_line_and_column(post_action):
    response = post_action(body_type="json", body='{"title": "x" "body": 1}')

    [message] = field_errors(response, "body")
    assert "line 1, column 15" in message


def test_form_body_must_be_an_object_of_values(post_action):
    response = post_action(body_type="form", body='{"tags": ["a", "b"]}')

    [message] = field_errors(response, "body")
    assert "'tags'" in message and "not a list" in message


def test_header_value_that_is_a_list_is_refused(post_action):
    response = post_action(headers='{"Accept": ["application/json", "text/xml"]}')

    [message] = field_errors(response, "headers")
    assert "'Accept'" in message and "not a list or object" in message


def test_headers_that_are_not_an_object_are_refused(post_action):
    response = post_action(params='["page", 1]')

    [message] = field_errors(response, "params")
    assert "Expected a JSON object" in message


def test_jsonpath_that_does_not_parse_is_refused(post_action):
    response = post_action(**stop_condition_rows({"path": "$.data["}))

    assert response.status_code == 200
    [message] = stop_condition_errors(response, 0, "path")
    assert "Invalid JSONPath" in message
    assert not StopCondition.objects.exists()


def test_dot_path_with_empty_segment_is_refused(post_action):
    response = post_action(**stop_condition_rows({"path": "data..id"}))

    [message] = stop_condition_errors(response, 0, "path")
    assert "a name between every two dots" in message


def test_interval_under_one_second_is_refused(post_action, action):
    response = post_action(polling_mode="poll", poll_interval="0.5")

    [message] = field_errors(response, "poll_interval")
    assert message == "The interval must be at least 1 second, not 0.5."
    action.refresh_from_db()
    assert action.poll_interval == 10


def test_duration_that_is_not_one_is_refused(post_action):
    response = post_action(polling_mode="poll", poll_timeout="ten minutes")

    [message] = field_errors(response, "poll_timeout")
    assert "is not a duration" in message


def test_iso_duration_is_accepted_and_stored_in_seconds(post_action, action):
    response = post_action(polling_mode="poll", poll_interval="PT10M", poll_timeout="PT1H")

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    action.refresh_from_db()
    assert action.poll_interval == 600
    assert action.poll_timeout == 3600


def test_relative_url_without_base_url_is_refused(post_action, integration):
    integration.base_url = ""
    integration.save()

    response = post_action(url="/tickets")

    [message] = field_errors(response, "url")
    assert "relative but the integration has no base URL" in message


def test_less_than_with_a_value_that_is_not_a_number_is_refused(post_action):
    response = post_action(**stop_condition_rows({"path": "progress", "operator": "lt", "value": "half"}))

    [message] = stop_condition_errors(response, 0, "value")
    assert "needs a number" in message


def test_regex_that_does_not_compile_is_refused(post_action):
    response = post_action(**stop_condition_rows({"path": "status", "operator": "matches", "value": "(done"}))

    [message] = stop_condition_errors(response, 0, "value")
    assert "does not compile" in message


def test_malformed_placeholder_is_refused(post_action):
    response = post_action(url="/tickets/{{ a b }}")

    assert any("'{{ a b }}' is malformed" in message for message in field_errors(response, "url"))


def test_malformed_placeholder_in_a_header_is_refused(post_action):
    response = post_action(headers='{"Authorization": "Bearer {{ secrets.TOKEN"}')

    [message] = field_errors(response, "headers")
    assert "never closed" in message


@pytest.mark.parametrize(
    "auth_type, missing",
    [
        ("basic", ["auth_username", "auth_secret"]),
        ("bearer", ["auth_secret"]),
        ("api_key_header", ["api_key_name", "auth_secret"]),
        ("api_key_query", ["api_key_name", "auth_secret"]),
        ("oauth2_client_credentials", ["oauth_token_url", "oauth_client_id", "auth_secret"]),
    ],
)
def test_each_auth_type_requires_its_fields(client, integration, change_form_data, auth_type, missing):
    url = reverse("admin:integrations_integration_change", args=[integration.pk])

    response = client.post(url, change_form_data(client.get(url), auth_type=auth_type))

    errors = response.context["adminform"].form.errors
    assert sorted(errors) == sorted(missing)
    for field in missing:
        assert errors[field][0].startswith("Required for")


def test_auth_type_with_its_fields_saves(client, integration, change_form_data):
    url = reverse("admin:integrations_integration_change", args=[integration.pk])

    response = client.post(
        url, change_form_data(client.get(url), auth_type="api_key_header", api_key_name="X-API-Key", auth_secret="k")
    )

    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.auth_type == "api_key_header"
    assert (integration.api_key_name, integration.auth_secret) == ("X-API-Key", "k")


def test_valid_action_saves_with_its_rows(post_action, action):
    response = post_action(
        headers='{"Accept": "application/json", "X-Ticket": "{{ ticket_id }}"}',
        body_type="json",
        body='{"title": "{{ title }}", "count": "{{ count }}"}',
        polling_mode="poll",
        poll_url="/tickets/{{ ticket_id }}",
        poll_interval="PT30S",
        **stop_condition_rows(
            {"path": "$.status", "value": "done"},
            {"path": "status", "value": "failed", "outcome": "failure"},
        ),
        **input_rows("ticket_id", "title", "count"),
    )

    assert response.status_code == 302
    action.refresh_from_db()
    assert action.headers == {"Accept": "application/json", "X-Ticket": "{{ ticket_id }}"}
    assert action.poll_interval == 30
    assert [(row.path, row.outcome) for row in action.stop_conditions.all()] == [
        ("$.status", "success"),
        ("status", "failure"),
    ]


def test_valid_integration_saves_from_the_add_page(client, change_form_data):
    url = reverse("admin:integrations_integration_add")

    response = client.post(
        url,
        change_form_data(
            client.get(url),
            name="Service Desk",
            slug="service-desk",
            base_url="https://desk.example.com/api",
            default_headers='{"Accept": "application/json"}',
        ),
    )

    assert response.status_code == 302
    integration = Integration.objects.get(slug="service-desk")
    assert integration.default_headers == {"Accept": "application/json"}


def test_json_is_shown_indented(client, action):
    Action.objects.filter(pk=action.pk).update(headers={"Accept": "application/json", "X-Team": "ops"})

    response = client.get(reverse("admin:integrations_action_change", args=[action.pk]))

    assert '{\n  &quot;Accept&quot;: &quot;application/json&quot;,\n  &quot;X-Team&quot;: &quot;ops&quot;\n}' in (
        response.content.decode()
    )


def test_interval_in_seconds_is_shown_without_decimals(client, action):
    Action.objects.filter(pk=action.pk).update(poll_interval=600)

    response = client.get(reverse("admin:integrations_action_change", args=[action.pk]))

    assert 'name="poll_interval" value="600"' in response.content.decode()
