"""The API checks a definition as the admin does, answers each fault on its field (rows by index), saves nothing."""

import json

import pytest

from integrations.models import Action, ActionInput, Integration, Secret, StopCondition
from tests.admin_helpers import field_errors, input_rows, row_errors, stop_condition_rows
from tests.api_helpers import codes, details
from tests.definitions_api import action_document, post_json


def patch(client, action, **fields):
    return client.patch(f"/api/actions/{action.pk}/", json.dumps(fields), content_type="application/json")


# Each: the field, what the admin's form is sent, what the API is sent (the same value, as JSON).
SAME_FAULTS = [
    ("url", {"url": "ftp://files.acme.test/x"}, {"url": "ftp://files.acme.test/x"}),
    ("url", {"url": "/a b"}, {"url": "/a b"}),
    ("headers", {"headers": '{"X-Note": "a\\nb"}'}, {"headers": {"X-Note": "a\nb"}}),
    ("headers", {"headers": '{"Bad Name": "x"}'}, {"headers": {"Bad Name": "x"}}),
    ("params", {"params": '{"q": ["a"]}'}, {"params": {"q": ["a"]}}),
    ("body", {"body_type": "json", "body": '{"n": NaN}'}, {"body_type": "json", "body": '{"n": NaN}'}),
    ("body", {"body_type": "json", "body": '{"n": 1'}, {"body_type": "json", "body": '{"n": 1'}),
    ("body_type", {"body": "text"}, {"body": "text"}),
    ("accepted_statuses", {"accepted_statuses": "2xx, 99"}, {"accepted_statuses": "2xx, 99"}),
    ("connect_timeout", {"connect_timeout": "PT1H"}, {"connect_timeout": "PT1H"}),
    ("poll_interval", {"poll_interval": "0.5"}, {"poll_interval": 0.5}),
    ("poll_interval", {"poll_interval": "soon"}, {"poll_interval": "soon"}),
    ("poll_max_attempts", {"poll_max_attempts": "0"}, {"poll_max_attempts": 0}),
    ("poll_backoff_max", {"poll_backoff": "exponential", "poll_interval": "60", "poll_backoff_max": "30"},
     {"poll_backoff": "exponential", "poll_interval": 60, "poll_backoff_max": 30}),
    ("max_consecutive_errors", {"max_consecutive_errors": "0"}, {"max_consecutive_errors": 0}),
    ("headers", {"headers": '{"Authorization": "Bearer {{ secrets.TOKN }}"}'},
     {"headers": {"Authorization": "Bearer {{ secrets.TOKN }}"}}),
    ("url", {"url": "/tickets/{{ ticket_id }}"}, {"url": "/tickets/{{ ticket_id }}"}),
    ("name", {"name": "x" * 201}, {"name": "x" * 201}),
]


@pytest.mark.parametrize("field, typed, sent", SAME_FAULTS,
                         ids=[f"{case[0]}-{number}" for number, case in enumerate(SAME_FAULTS)])
def test_a_fault_gets_the_admins_message_on_the_same_field(post_action, admin_api, action, field, typed, sent):
    Secret.objects.create(integration=action.integration, name="TOKEN", value="s")
    from_admin = post_action(**typed)
    from_api = patch(admin_api, action, **sent)

    assert from_admin.status_code == 200
    assert from_api.status_code == 400
    assert field_errors(from_admin, field)
    assert details(from_api)[field] == field_errors(from_admin, field)


def test_a_group_with_two_outcomes_is_refused_on_each_of_its_rows_as_in_the_admin(post_action, admin_api, action):
    rows = [
        {"path": "state", "value": "closed", "group": 1},
        {"path": "number", "value": "8", "group": 1, "outcome": "failure"},
        {"path": "state", "value": "open", "group": 2},
    ]
    from_admin = post_action(**stop_condition_rows(*({**row, "group": str(row["group"])} for row in rows)))

    response = patch(admin_api, action, stop_conditions=rows)

    assert response.status_code == 400
    errors = details(response)
    assert errors["stop_conditions.0.outcome"] == row_errors(from_admin, "stop_conditions", 0, "outcome")
    assert errors["stop_conditions.1.outcome"] == row_errors(from_admin, "stop_conditions", 1, "outcome")
    assert errors["stop_conditions.0.outcome"][0].startswith("Group 1 mixes outcomes (failure, success)")
    assert set(errors) == {"stop_conditions.0.outcome", "stop_conditions.1.outcome"}
    assert not StopCondition.objects.exists()


def test_a_row_fault_is_answered_at_its_index_naming_the_field(admin_api, action):
    response = patch(admin_api, action, stop_conditions=[
        {"path": "status", "value": "done"},
        {"path": "$.items[", "value": "x"},
        {"path": "count", "operator": "gt", "value": "many"},
    ], continue_if=[{"path": "ok", "operator": "matches", "value": "("}])

    assert response.status_code == 400
    errors = details(response)
    assert set(errors) == {"stop_conditions.1.path", "stop_conditions.2.value", "continue_if.0.value"}
    assert errors["stop_conditions.2.value"] == ["'>' needs a number, not 'many'."]
    assert errors["continue_if.0.value"][0].startswith("This regular expression does not compile")


def test_a_value_that_does_not_parse_is_answered_at_its_row_before_what_the_values_mean(admin_api, action):
    response = patch(admin_api, action, stop_conditions=[
        {"path": "$.items[", "value": "x"},
        {"path": "count", "operator": "bigger"},
        {"path": "count", "group": "first"},
    ])

    assert response.status_code == 400
    assert details(response) == {
        "stop_conditions.1.operator": ['"bigger" is not a valid choice.'],
        "stop_conditions.2.group": ["A valid integer is required."],
    }
    assert codes(response) == {"stop_conditions.1.operator": ["invalid_choice"], "stop_conditions.2.group": ["invalid"]}


def test_a_placeholder_is_filled_by_an_input_declared_in_the_same_document_and_refused_without(admin_api, action):
    refused = patch(admin_api, action, url="/tickets/{{ ticket_id }}", inputs=[{"name": "ticket"}])
    saved = patch(admin_api, action, url="/tickets/{{ ticket_id }}", inputs=[{"name": "ticket_id"}])

    assert refused.status_code == 400
    assert details(refused)["url"][0].startswith("{{ ticket_id }} names nothing that can fill it.")
    assert "Did you mean {{ ticket }}?" in details(refused)["url"][0]
    assert saved.status_code == 200, saved.json()
    assert Action.objects.get().url == "/tickets/{{ ticket_id }}"


def test_condition_values_may_use_fields_stored_by_mappings_and_stop_conditions(admin_api, action):
    response = patch(
        admin_api, action,
        polling_mode="poll", poll_url="/jobs/{{ job.id }}",
        mappings=[{"field": "job", "path": "data"}],
        stop_conditions=[{"path": "status", "value": "done", "target_field": "last"},
                         {"path": "seen", "value": "{{ last }}"},
                         {"path": "owner", "value": "{{ owner }}"}],
    )

    assert response.status_code == 400
    errors = details(response)
    assert list(errors) == ["stop_conditions.2.value"]
    assert errors["stop_conditions.2.value"][0].startswith("{{ owner }} names nothing")


def test_removing_an_input_that_the_url_uses_is_refused(admin_api, action):
    ActionInput.objects.create(action=action, name="ticket_id")
    Action.objects.filter(pk=action.pk).update(url="/tickets/{{ ticket_id }}")

    response = patch(admin_api, action, inputs=[])

    assert response.status_code == 400
    assert details(response)["url"][0].startswith("{{ ticket_id }} names nothing")
    assert action.inputs.count() == 1


def test_two_inputs_with_one_name_are_refused_on_the_second(admin_api, action):
    response = patch(admin_api, action, inputs=[{"name": "title"}, {"name": "body"}, {"name": "title"}])

    assert response.status_code == 400
    assert details(response) == {"inputs.2.name": ["Input 1 has this name already."]}


def test_a_slug_taken_in_the_same_integration_is_refused(admin_api, action, integration):
    response = post_json(admin_api, "/api/actions/", action_document(integration, slug=action.slug))

    # The admin's words; a conflict with what exists, so a 409 slug_exists naming the slug (as an import's).
    assert response.status_code == 409
    assert details(response) == {"slug": ["Action with this Integration and Slug already exists."]}


def test_nan_in_the_request_itself_is_refused_before_anything_is_read(admin_api, action):
    response = admin_api.patch(
        f"/api/actions/{action.pk}/", '{"connect_timeout": NaN}', content_type="application/json"
    )

    assert response.status_code == 400
    assert details(response) == {"connect_timeout": ['NaN is not JSON: write a number, or "NaN" as text.']}


@pytest.mark.parametrize("field, value, errors", [
    ("connect_timeout", "1e999", ["The number 1e999 is too large for JSON."]),
    ("poll_interval", '"Infinity"',
     ["'Infinity' is not a number of seconds: give seconds (10) or a duration (PT10M)."]),
    ("headers.X-Limit", '{"X-Limit": 1e999}', ["The number 1e999 is too large for JSON."]),
    ("params.q", '{"q": "a\\u0000b"}', ["This contains a NUL character (U+0000), which cannot be stored."]),
])
def test_numbers_too_large_for_json_and_unstorable_text_are_field_errors(admin_api, action, field, value, errors):
    response = admin_api.patch(
        f"/api/actions/{action.pk}/", f'{{"{field.split(".")[0]}": {value}}}', content_type="application/json"
    )

    assert response.status_code == 400
    assert details(response) == {field: errors}


@pytest.mark.parametrize("value", [[], [1], "text", 3])
def test_a_json_map_must_be_an_object_even_when_empty(admin_api, action, value):
    response = patch(admin_api, action, headers=value)

    assert response.status_code == 400
    assert details(response) == {
        "headers": ['Expected a JSON object of names to values, e.g. {"Accept": "application/json"}.']
    }
    assert Action.objects.get().headers == {}


def test_a_json_map_typed_into_a_form_is_refused_as_the_api_takes_json_only(admin_api, action):
    typed = admin_api.patch(f"/api/actions/{action.pk}/", {"params": '{"q": 1}'}, format="multipart")

    assert typed.status_code == 415
    assert codes(typed) == {None: ["unsupported_media_type"]}
    assert Action.objects.get().params == {}


def test_nothing_is_saved_when_one_part_of_the_document_is_wrong(admin_api, action):
    ActionInput.objects.create(action=action, name="title")

    response = patch(admin_api, action, name="Renamed", inputs=[{"name": "ticket"}],
                     mappings=[{"field": "job", "path": "$["}])

    assert response.status_code == 400
    action.refresh_from_db()
    assert action.name == "Create ticket"
    assert [row.name for row in action.inputs.all()] == ["title"]
    assert not action.mappings.exists()


def test_a_failure_while_saving_rolls_back_the_whole_document(admin_api, action, monkeypatch):
    ActionInput.objects.create(action=action, name="title")

    def fail(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("integrations.models.ResponseMapping.save", fail)
    with pytest.raises(RuntimeError):
        patch(admin_api, action, name="Renamed", inputs=[{"name": "ticket"}], mappings=[{"field": "job", "path": "a"}])

    action.refresh_from_db()
    assert action.name == "Create ticket"
    assert [row.name for row in action.inputs.all()] == ["title"]


def test_an_integration_is_checked_as_in_the_admin(admin_api, db):
    response = post_json(admin_api, "/api/integrations/", {
        "name": "Acme",
        "base_url": "acme.test",
        "auth_type": "basic",
        "default_headers": {"Authorization": "Bearer {{ secrets.TOKEN }}"},
        "secrets": {"not a name": "x", "EMPTY": ""},
    })

    assert response.status_code == 400
    errors = details(response)
    assert errors["base_url"] == ["The base URL must be absolute: https://host/optional/path."]
    assert errors["auth_username"] == ["Required for Basic (username and password) authentication (username)."]
    assert errors["auth_secret"] == [
        "Required for Basic (username and password) authentication (password, token or key)."
    ]
    assert errors["default_headers"][0].startswith("{{ secrets.TOKEN }} names nothing that can fill it.")
    assert errors["secrets.not a name"] == [
        "Use letters, digits and underscores, not starting with a digit (e.g. ticket_id)."
    ]
    assert errors["secrets.EMPTY"] == ["A secret needs a value; null deletes it."]
    assert not Integration.objects.exists()


def test_deleting_a_secret_that_the_integration_uses_is_refused(admin_api, integration):
    Secret.objects.create(integration=integration, name="TOKEN", value="s")
    Integration.objects.filter(pk=integration.pk).update(auth_type="bearer", auth_secret="{{ secrets.TOKEN }}")

    response = admin_api.patch(f"/api/integrations/{integration.pk}/", {"secrets": {"TOKEN": None}}, format="json")

    assert response.status_code == 400
    assert "auth_secret" in details(response)
    assert integration.secrets.filter(name="TOKEN").exists()


def test_the_admin_page_still_checks_placeholders_after_the_shared_function(post_action, action):
    response = post_action(url="/tickets/{{ ticket_id }}", **input_rows("ticket"))

    assert "Did you mean {{ ticket }}?" in field_errors(response, "url")[0]


@pytest.mark.parametrize("body, errors", [
    ('{"method": "\\ud800"}',
     {"method": ["This contains a lone surrogate (\\ud800, half of a UTF-16 pair: not text), which cannot be stored."]}),
    ('{"name": "a\\udfffb"}',
     {"name": ["This contains a lone surrogate (\\udfff, half of a UTF-16 pair: not text), which cannot be stored."]}),
    ('{"headers": {"\\ud800": "x"}}',
     {"headers": ["The name '\\ud800' contains a lone surrogate (\\ud800, half of a UTF-16 pair: not text), "
                  "which cannot be stored."]}),
])
def test_a_lone_surrogate_is_refused_on_its_field_not_a_server_error(admin_api, action, body, errors):
    response = admin_api.patch(f"/api/actions/{action.pk}/", body, content_type="application/json")

    assert response.status_code == 400
    assert details(response) == errors
