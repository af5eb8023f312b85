"""/api/actions/: an action and its rows (inputs, stop conditions, continue-if, mappings) in one document."""

import pytest

from integrations.models import Action, ActionInput, ContinueCondition, ResponseMapping, StopCondition
from runs.models import Run
from tests.definitions_api import action_document, post_json
from tests.api_helpers import detail


@pytest.fixture
def created(admin_api, integration):
    """An action made through the API with one row of each kind; its id."""
    response = post_json(admin_api, "/api/actions/", action_document(
        integration,
        url="/tickets/{{ title }}",
        inputs=[{"name": "title", "label": "Title"}],
        stop_conditions=[{"path": "status", "value": "done", "target_field": "state"}],
        continue_if=[{"path": "@status", "value": "201"}],
        mappings=[{"field": "ticket", "path": "$.id"}],
    ))
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def test_an_action_is_created_with_its_rows_in_one_request(created, integration):
    action = Action.objects.get(pk=created)

    assert (action.integration, action.name, action.slug, action.url) == (
        integration, "Create ticket", "create-ticket", "/tickets/{{ title }}"
    )
    assert [(row.name, row.label) for row in action.inputs.all()] == [("title", "Title")]
    assert [(row.path, row.value, row.target_field, row.group) for row in action.stop_conditions.all()] == [
        ("status", "done", "state", 1)
    ]
    assert [(row.path, row.value) for row in action.continue_conditions.all()] == [("@status", "201")]
    assert [(row.field, row.path, row.source) for row in action.mappings.all()] == [("ticket", "$.id", "request")]


def test_reading_an_action_gives_its_rows(admin_api, created):
    document = admin_api.get(f"/api/actions/{created}/").json()

    assert document["inputs"] == [
        {"position": 0, "name": "title", "label": "Title", "required": True, "default": "", "choices": ""}
    ]
    assert document["stop_conditions"] == [{
        "group": 1, "position": 0, "path": "status", "target_field": "state", "operator": "equals",
        "value": "done", "outcome": "success",
    }]
    assert document["continue_if"] == [{"position": 0, "path": "@status", "operator": "equals", "value": "201"}]
    assert document["mappings"] == [
        {"position": 0, "field": "ticket", "path": "$.id", "source": "request", "required": False}]


def test_rows_given_on_update_replace_all_of_their_kind_and_rows_not_given_are_kept(admin_api, created):
    response = admin_api.patch(f"/api/actions/{created}/", {
        "stop_conditions": [
            {"path": "status", "value": "closed"},
            {"path": "status", "value": "failed", "outcome": "failure"},
        ],
        "mappings": [],
    }, format="json")

    assert response.status_code == 200, response.json()
    action = Action.objects.get(pk=created)
    assert [(row.value, row.outcome) for row in action.stop_conditions.all()] == [
        ("closed", "success"), ("failed", "failure")
    ]
    assert not action.mappings.exists()
    assert [row.name for row in action.inputs.all()] == ["title"]
    assert action.continue_conditions.count() == 1
    assert [row["value"] for row in response.json()["stop_conditions"]] == ["closed", "failed"]


def test_put_replaces_the_fields_and_keeps_rows_it_does_not_name(admin_api, created, integration):
    response = admin_api.put(f"/api/actions/{created}/", action_document(
        integration, name="Close ticket", slug="close", method="DELETE", url="/tickets/{{ title }}"
    ), format="json")

    assert response.status_code == 200, response.json()
    action = Action.objects.get(pk=created)
    assert (action.name, action.slug, action.method) == ("Close ticket", "close", "DELETE")
    assert action.inputs.count() == 1


def test_a_stop_condition_without_a_group_is_a_group_of_its_own_after_the_numbered_ones(admin_api, integration):
    response = post_json(admin_api, "/api/actions/", action_document(integration, stop_conditions=[
        {"path": "state", "value": "failed", "outcome": "failure"},
        {"group": 1, "path": "state", "value": "closed"},
        {"group": 1, "path": "number", "value": "8"},
        {"path": "state", "value": "cancelled", "outcome": "failure"},
    ]))

    assert response.status_code == 201, response.json()
    rows = Action.objects.get().stop_conditions.all()
    assert [(row.group, row.value) for row in rows] == [(1, "closed"), (1, "8"), (2, "failed"), (3, "cancelled")]


@pytest.mark.parametrize("given, seconds", [(600, 600.0), ("600", 600.0), ("PT10M", 600.0), ("PT1H30M", 5400.0),
                                            (2.5, 2.5)])
def test_durations_are_seconds_or_iso_8601_and_read_back_in_seconds(admin_api, integration, given, seconds):
    response = post_json(admin_api, "/api/actions/", action_document(
        integration, poll_interval=given, poll_timeout=given, poll_backoff_max="P1D"
    ))

    assert response.status_code == 201, response.json()
    assert (response.json()["poll_interval"], response.json()["poll_timeout"]) == (seconds, seconds)
    action = Action.objects.get()
    assert (action.poll_interval, action.poll_timeout, action.poll_backoff_max) == (seconds, seconds, 86400)


def test_the_slug_is_made_from_the_name_when_left_out(admin_api, integration):
    response = post_json(admin_api, "/api/actions/", action_document(integration, name="Open Issue #2"))

    assert response.json()["slug"] == "open-issue-2"


def test_actions_can_be_listed_by_integration(admin_api, action, integration):
    from integrations.models import Integration

    other = Integration.objects.create(name="Other", slug="other", base_url="https://other.test")
    Action.objects.create(integration=other, name="Elsewhere", slug="elsewhere", url="/x")

    everything = admin_api.get("/api/actions/").json()["results"]
    mine = admin_api.get(f"/api/actions/?integration={integration.pk}").json()["results"]
    by_slug = admin_api.get("/api/actions/?slug=elsewhere").json()["results"]

    assert sorted(item["slug"] for item in everything) == ["create-ticket", "elsewhere"]
    assert [item["slug"] for item in mine] == ["create-ticket"]
    assert [item["integration"] for item in by_slug] == [other.pk]
    # An id that names nothing is a well-formed filter (an integer, as the schema says): nothing matches it.
    assert admin_api.get("/api/actions/?integration=9999").json()["results"] == []
    assert admin_api.get("/api/actions/?integration=x").status_code == 400


def test_an_action_without_runs_is_deleted_with_its_rows(admin_api, created):
    response = admin_api.delete(f"/api/actions/{created}/")

    assert response.status_code == 204
    assert not Action.objects.exists()
    assert not any(model.objects.exists() for model in (ActionInput, StopCondition, ContinueCondition,
                                                         ResponseMapping))


def test_an_action_with_runs_is_kept_and_the_refusal_says_why(admin_api, action):
    Run.objects.create(action=action, integration=action.integration)

    response = admin_api.delete(f"/api/actions/{action.pk}/")

    assert response.status_code == 409
    assert detail(response) == (
        "This action has runs and cannot be deleted; archive its integration to stop it being run."
    )
    assert Action.objects.filter(pk=action.pk).exists()


def test_an_unknown_action_is_404(admin_api, db):
    assert admin_api.get("/api/actions/404/").status_code == 404
    assert admin_api.patch("/api/actions/404/", {"name": "x"}, format="json").status_code == 404
