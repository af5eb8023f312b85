"""Stop conditions form groups: all rows of a group must match (AND); the first group that matches decides (OR)."""

from importlib import import_module

import pytest
from django.apps import apps

from integrations.models import StopCondition, mixed_outcome_errors, stop_groups
from integrations.paths import Response
from integrations.templating import Context
from runs.services import start_run
from runs.evaluation import Answer, stop_decision
from runs.models import Status
from tests.engine_helpers import drive, make_action
from tests.servers import reply

ISSUE_CLOSED = [
    {"path": "state", "value": "closed", "outcome": "success", "group": 1},
    {"path": "number", "value": "{{ issue_number }}", "outcome": "success", "group": 1},
]


def answer(body):
    return Answer(Response(status=200, headers={}, body=body), "")


def rows(*specs):
    """Unsaved stop conditions, in the order given (as the engine gets them from the database)."""
    return tuple(StopCondition(**{"operator": "equals", "outcome": "success", "target_field": "", **spec})
                 for spec in specs)


@pytest.mark.usefixtures("q_sync")
def test_a_group_does_not_end_the_run_when_only_one_of_its_rows_matches(db, server):
    server.script("/jobs", reply(json={}))
    server.script("/events", [reply(json={"number": 8, "state": "open"}),
                              reply(json={"number": 7, "state": "closed"}),
                              reply(json={"number": 8, "state": "closed"})])
    action = make_action(server.base_url, polling_mode="poll", poll_url="/events", stop=ISSUE_CLOSED,
                         inputs=["issue_number"])

    run = drive(start_run(action, {"issue_number": 8}))

    assert run.status == Status.SUCCEEDED, run.reason
    assert run.polls == 3
    assert run.reason == (
        "Stop condition matched: Group 1: state equals 'closed' matched (found \"closed\") "
        "and number equals '8' matched (found 8): success."
    )


@pytest.mark.usefixtures("q_sync")
def test_groups_are_tried_in_order_and_the_first_that_matches_gives_the_outcome(db, server):
    server.script("/jobs", reply(json={}))
    server.script("/jobs/1", [reply(json={"status": "done", "errors": 0}),
                              reply(json={"status": "done", "errors": 2})])
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/1", stop=[
        {"path": "status", "value": "done", "outcome": "failure", "group": 1},
        {"path": "errors", "operator": "gt", "value": "0", "outcome": "failure", "group": 1},
        {"path": "status", "value": "done", "outcome": "success", "group": 2},
    ])

    first = drive(start_run(action))
    second = drive(start_run(action))

    assert (first.status, second.status) == (Status.SUCCEEDED, Status.FAILED)
    assert first.reason == "Stop condition matched: status equals 'done' matched (found \"done\"): success."
    assert "Group 1:" in second.reason and "errors > '0' matched (found 2)" in second.reason


def test_rows_without_a_group_number_in_the_helper_are_each_a_group_of_their_own(db, integration):
    action = make_action("https://api.acme.test", stop=[("status", "equals", "done", "success"),
                                                        ("status", "equals", "failed", "failure")])

    groups = stop_groups(tuple(action.stop_conditions.all()))

    assert [(group.number, group.outcome, len(group.rows)) for group in groups] == [
        (1, "success", 1), (2, "failure", 1)
    ]


def test_nothing_matched_is_said_briefly_naming_what_was_found():
    matched, stored, decision = stop_decision(rows(*ISSUE_CLOSED), answer({"number": 8, "state": "open"}),
                                              Context({"issue_number": 8}))

    assert matched is None
    assert decision == 'No stop condition matched (state = "open", number = 8).'


def test_the_matched_group_carries_its_rows_and_outcome():
    conditions = rows({"path": "state", "value": "closed", "outcome": "failure", "group": 3},
                      {"path": "reason", "operator": "exists", "value": "", "outcome": "failure", "group": 3})

    matched, _, decision = stop_decision(conditions, answer({"state": "closed", "reason": "wontfix"}), Context({}))

    assert matched.outcome == "failure"
    assert matched.rows == conditions
    assert decision == ("Group 3: state equals 'closed' matched (found \"closed\") "
                        "and reason exists '' matched (found \"wontfix\"): failure.")


def test_target_fields_are_stored_from_every_row_whether_or_not_its_group_matched():
    conditions = rows({"path": "state", "value": "closed", "group": 1, "target_field": "state"},
                      {"path": "number", "value": "8", "group": 1, "target_field": "number"},
                      {"path": "progress", "operator": "gte", "value": "100", "group": 2, "target_field": "progress"})

    matched, stored, _ = stop_decision(conditions, answer({"state": "open", "number": 8, "progress": 40}), Context({}))

    assert matched is None
    assert stored == {"state": "open", "number": 8, "progress": 40}


def test_groups_go_by_number_whatever_the_order_of_the_rows():
    conditions = rows({"path": "a", "value": "1", "group": 2}, {"path": "b", "value": "1", "group": 1},
                      {"path": "c", "value": "1", "group": 2})

    assert [[row.path for row in group.rows] for group in stop_groups(conditions)] == [["b"], ["a", "c"]]


def test_a_new_row_without_a_group_number_is_saved_as_a_new_group(action):
    StopCondition.objects.create(action=action, path="state", value="closed", group=4)
    StopCondition.objects.create(action=action, path="number", value="8", group=4)

    added = StopCondition.objects.create(action=action, path="state", value="failed", outcome="failure")

    assert added.group == 5


def test_the_migration_makes_each_existing_row_a_group_of_its_own_in_todays_order(action, integration):
    other = make_action("https://api.acme.test", integration=integration)
    created = [
        StopCondition(action=action, position=1, path="b", group=0),
        StopCondition(action=action, position=0, path="a", group=0),
        StopCondition(action=action, position=1, path="c", group=0),
        StopCondition(action=other, position=0, path="x", group=0),
    ]
    StopCondition.objects.bulk_create(created)  # as the rows stood before the migration: no group yet

    import_module("integrations.migrations.0005_stopcondition_group").one_group_per_row(apps, None)

    assert [(row.path, row.group) for row in action.stop_conditions.all()] == [("a", 1), ("b", 2), ("c", 3)]
    assert [(row.path, row.group) for row in other.stop_conditions.all()] == [("x", 1)]


def test_mixed_outcomes_are_named_for_every_row_of_the_group_and_only_those():
    conditions = rows({"path": "a", "group": 1}, {"path": "b", "group": 1, "outcome": "failure"},
                      {"path": "c", "group": 2}, {"path": "d", "outcome": "failure"})

    errors = mixed_outcome_errors(conditions)

    assert sorted(errors) == [0, 1]
    assert "Group 1 mixes outcomes (failure, success)" in errors[0]
