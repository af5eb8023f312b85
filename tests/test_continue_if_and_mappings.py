import pytest

from integrations.models import ContinueCondition
from runs.services import start_run
from runs.models import Status
from tests.engine_helpers import drive, make_action, step
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")


def test_an_unmet_continue_if_fails_the_run_naming_the_path_and_what_was_found(db, server):
    server.script("/jobs", reply(json={"ok": False, "error": "quota"}))
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/1",
                         stop=[("status", "equals", "done", "success")])
    ContinueCondition.objects.create(action=action, path="ok", value="true")

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert run.reason == "The response does not meet continue_if: ok equals 'true' (found false)."
    assert len(server.requests) == 1
    exchange = run.exchanges.get()
    assert exchange.failed_part == "response"
    assert exchange.decision.startswith("continue_if not met")


def test_a_missing_value_is_reported_as_found_nothing(db, server):
    server.script("/jobs", reply(json={}))
    action = make_action(server.base_url)
    ContinueCondition.objects.create(action=action, path="$.data.id", operator="exists")

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "$.data.id exists" in run.reason
    assert "(found nothing)" in run.reason


def test_a_met_continue_if_lets_the_run_go_on(db, server):
    server.script("/jobs", reply(json={"ok": True, "status": "done"}))
    action = make_action(server.base_url, stop=[("status", "equals", "done", "success")])
    ContinueCondition.objects.create(action=action, path="ok", value="true")
    ContinueCondition.objects.create(action=action, path="@status", operator="lt", value="300")

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason


def test_mappings_store_fields_from_the_first_and_the_final_response(db, server):
    server.script("/jobs", reply(201, json={"data": {"items": [{"id": "a-1", "tags": ["x"]}]}},
                                 headers={"Location": "/jobs/a-1"}))
    server.script("/jobs/a-1", reply(json={"status": "done", "output": {"rows": 12}}))
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/{{ job_id }}",
                         stop=[("status", "equals", "done", "success")],
                         mappings=[("job_id", "data.items.0.id"), ("tags", "$.data.items[0].tags"),
                                   ("location", "@headers.location"), ("absent", "data.nope"),
                                   ("rows", "$.output.rows", "result")])

    run = step(start_run(action))
    assert run.fields == {"job_id": "a-1", "tags": ["x"], "location": "/jobs/a-1"}
    assert "Found nothing for absent <- data.nope" in run.exchanges.get().decision

    run = drive(run)
    assert run.status == Status.SUCCEEDED, run.reason
    assert run.fields["rows"] == 12
    assert server.requests[-1].path == "/jobs/a-1"


def test_stop_condition_target_fields_are_stored_at_every_attempt(db, server):
    server.script("/jobs", reply(json={}))
    server.script("/jobs/1", [reply(json={"status": "queued", "progress": 0}),
                              reply(json={"status": "running", "progress": 40}),
                              reply(json={"status": "done", "progress": 100})])
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/1",
                         stop=[("status", "equals", "done", "success", "job_status"),
                               ("progress", "gt", "1000", "failure", "progress")])

    run = step(start_run(action))
    seen = []
    while run.is_active:
        run = step(run)
        seen.append(dict(run.fields))

    assert run.status == Status.SUCCEEDED, run.reason
    assert seen == [
        {"job_status": "queued", "progress": 0},
        {"job_status": "running", "progress": 40},
        {"job_status": "done", "progress": 100},
    ]


def test_a_placeholder_in_a_stop_condition_matches_the_answer_to_its_run(db, server):
    server.script("/jobs", reply(json={}))
    server.script("/events", [reply(json={"number": 7, "state": "closed"}),
                              reply(json={"number": 8, "state": "closed"})])
    action = make_action(server.base_url, polling_mode="poll", poll_url="/events",
                         stop=[("number", "equals", "{{ issue_number }}", "success")], inputs=["issue_number"])

    run = drive(start_run(action, {"issue_number": 8}))

    assert run.status == Status.SUCCEEDED, run.reason
    assert run.polls == 2
    assert "number equals '8' matched" in run.reason


def test_contains_tests_a_list_found_by_a_jsonpath(db, server):
    server.script("/jobs", reply(json={}))
    server.script("/issues/1", [reply(json={"labels": [{"name": "bug"}]}),
                                reply(json={"labels": [{"name": "bug"}, {"name": "deployed"}]})])
    action = make_action(server.base_url, polling_mode="poll", poll_url="/issues/1",
                         stop=[("$.labels[*].name", "contains", "deployed", "success")])

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason
    assert run.polls == 2
    assert "found [\"bug\", \"deployed\"]" in run.reason
