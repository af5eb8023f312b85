"""A mapping that must find its value: when its path finds nothing the run fails, naming the path
(ChiefOnboarding's store_data), for every action, set in the admin and the API; an import's store_data is one."""

import pytest

from integrations.manifests import import_manifest
from integrations.models import ResponseMapping
from runs.models import Status
from runs.services import start_run
from tests.admin_helpers import inline_rows
from tests.engine_helpers import drive, make_action
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")


def test_a_required_mapping_that_finds_nothing_fails_the_run_naming_its_path(db, server):
    server.script("/users", reply(201, json={"data": {"name": "Ada"}}))
    action = make_action(server.base_url, method="POST", url="/users",
                         mappings=[("name", "data.name"), ("user_id", "data.id"), ("note", "data.note")])
    ResponseMapping.objects.filter(action=action, field="user_id").update(required=True)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert run.reason == "The required mapping user_id <- data.id found nothing in the answer (201)."
    assert run.cause == "mapping"
    assert run.fields == {"name": "Ada"}
    exchange = run.exchanges.get()
    assert exchange.failed_part == "response"
    assert "Found nothing for user_id <- data.id, note <- data.note." in exchange.decision


def test_a_mapping_not_required_that_finds_nothing_lets_the_run_succeed(db, server):
    server.script("/users", reply(201, json={"data": {"name": "Ada"}}))
    action = make_action(server.base_url, method="POST", url="/users", mappings=[("user_id", "data.id")])

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason
    assert "Found nothing for user_id <- data.id." in run.exchanges.get().decision


def test_a_required_result_mapping_is_read_from_the_poll_that_ended_the_run(db, server):
    server.script("/jobs", reply(201, json={"id": "j-1"}))
    server.script("/jobs/j-1", [reply(json={"status": "running"}), reply(json={"status": "done"})])
    action = make_action(server.base_url, method="POST", url="/jobs", polling_mode="poll", poll_url="/jobs/j-1",
                         stop=[("status", "equals", "done", "success")],
                         mappings=[("report", "report.url", "result")])
    ResponseMapping.objects.filter(action=action).update(required=True)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert run.reason == "The required mapping report <- report.url found nothing in the answer (200)."
    assert len(server.requests_to("/jobs/j-1")) == 2


def test_store_data_of_an_import_is_required(db, server):
    server.script("/users", reply(200, json={"user": {}}))

    integration, _ = import_manifest({"execute": [
        {"url": f"{server.base_url}/users", "method": "POST", "store_data": {"USER_ID": "user.id"}},
        {"url": f"{server.base_url}/users/{{{{ USER_ID }}}}", "method": "GET"},
    ]}, name="Store")

    first = integration.actions.get(slug="step-1")
    assert [(m.field, m.path, m.required) for m in first.mappings.all()] == [("USER_ID", "user.id", True)]
    run = drive(start_run(first))
    assert run.status == Status.FAILED
    assert run.reason == "The required mapping USER_ID <- user.id found nothing in the answer (200)."
    assert not run.__class__.objects.filter(previous_run=run).exists()  # the chain does not go on


def test_the_api_sets_and_shows_required(db, admin_api, integration):
    created = admin_api.post("/api/actions/", {
        "integration": integration.pk, "name": "Create", "slug": "create", "method": "POST", "url": "/users",
        "mappings": [{"field": "user_id", "path": "$.id", "required": True}, {"field": "name", "path": "name"}],
    }, format="json")

    assert created.status_code == 201, created.json()
    assert [(row["field"], row["required"]) for row in created.json()["mappings"]] == [
        ("user_id", True), ("name", False)]


def test_the_admin_sets_required_on_a_mapping(post_action, action):
    response = post_action(**inline_rows("mappings", {"field": "user_id", "path": "$.id", "required": "on"},
                                         source="request"))

    assert response.status_code == 302
    assert [(row.field, row.required) for row in action.mappings.all()] == [("user_id", True)]
