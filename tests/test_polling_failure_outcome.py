import pytest

from runs.services import start_run
from runs.models import Status
from tests.engine_helpers import drive, make_action
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

STOP = [("status", "equals", "successful", "success"), ("status", "equals", "failed", "failure")]


def test_a_failure_row_that_matches_ends_the_run_failed_naming_the_condition(db, server):
    server.script("/jobs", reply(json={"id": 1}))
    server.script("/jobs/1", [reply(json={"status": "running"}), reply(json={"status": "failed", "error": "disk full"})])
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/1", poll_interval=1, stop=STOP)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "status equals 'failed' matched" in run.reason
    assert run.polls == 2
    assert "failure" in run.exchanges.last().decision


def test_the_first_matching_row_wins_even_when_a_later_row_would_also_match(db, server):
    server.script("/jobs", reply(json={"status": "failed"}))
    action = make_action(
        server.base_url, polling_mode="poll", poll_interval=1,
        stop=[("status", "exists", "", "failure"), ("status", "equals", "failed", "success")],
    )

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "status exists" in run.reason


def test_a_first_response_without_polling_can_fail_by_a_failure_row(db, server):
    server.script("/jobs", reply(json={"status": "failed"}))
    action = make_action(server.base_url, stop=STOP)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "status equals 'failed'" in run.reason
