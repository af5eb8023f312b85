"""A run that ends failed or timed out names its cause (runs.causes), counted in its tally in the same step."""

import socket

import pytest

from runs import causes, due_work
from runs.models import Run, Status, Tally
from runs.services import reject, start_run
from tests.engine_helpers import drive, make_action, step
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

STOP = [("status", "equals", "done", "success"), ("status", "equals", "failed", "failure")]


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tallied(run):
    return Tally.objects.get(action=run.action_id, status=run.status, cause=run.cause).count


def test_a_status_not_accepted_is_its_cause(db, server):
    server.script("/jobs", reply(401, json={"error": "who are you"}))

    run = drive(start_run(make_action(server.base_url)))

    assert (run.status, run.cause) == (Status.FAILED, "status:401")
    assert causes.label(run.cause) == "HTTP 401 not accepted"
    assert tallied(run) == 1


def test_a_read_timeout_is_its_cause(db, server):
    server.script("/jobs", reply(json={}, delay=1.5))

    run = drive(start_run(make_action(server.base_url, read_timeout=0.3)))

    assert (run.status, run.cause) == (Status.FAILED, "timeout")
    assert "read timeout" in run.reason


def test_a_refused_connection_is_its_cause(db):
    action = make_action(f"http://127.0.0.1:{closed_port()}", connect_timeout=1)

    run = drive(start_run(action))

    assert (run.status, run.cause) == (Status.FAILED, "connection")
    assert causes.label(run.cause) == "Connection failed"


def test_a_failure_outcome_names_its_condition(db, server):
    server.script("/jobs", reply(json={"status": "failed"}))

    run = drive(start_run(make_action(server.base_url, stop=STOP)))

    assert (run.status, run.cause) == (Status.FAILED, "outcome:status equals failed")
    assert causes.label(run.cause) == "Failure outcome: status equals failed"


def test_exhausted_attempts_are_the_cause_of_a_time_out(db, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    server.script("/jobs/1", reply(json={"status": "queued"}))
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/1", poll_interval=1,
                         poll_max_attempts=2, stop=STOP)

    run = drive(start_run(action))

    assert (run.status, run.cause) == (Status.TIMED_OUT, "attempts")
    assert causes.label(run.cause) == "Attempts exhausted"
    assert tallied(run) == 1


def test_a_request_that_cannot_be_built_is_a_template_cause(db, server):
    action = make_action(server.base_url, inputs=["job"], url="/jobs/{{ job }}")
    run = start_run(action, {"job": "1"})
    action.url = "/jobs/{{ job.missing.deeper }}"  # changed after the run started: the placeholder finds nothing
    action.save(update_fields=["url"])

    run = drive(run)

    assert (run.status, run.cause) == (Status.FAILED, "template"), run.reason
    assert server.requests == []


def test_a_refused_address_is_its_cause(db):
    action = make_action("", url="http://169.254.169.254/latest/meta-data/", method="GET", connect_timeout=0.5)

    run = drive(start_run(action))

    assert (run.status, run.cause) == (Status.FAILED, "blocked")
    assert causes.label(run.cause) == "Address refused by the outbound guard"


def test_a_rejected_success_is_its_cause_and_a_success_has_none(db, server):
    server.script("/jobs", reply(json={"status": "done"}))
    waiting = drive(start_run(make_action(server.base_url, finish_on_success=False)))
    succeeded = drive(start_run(make_action(server.base_url)))

    rejected = reject(waiting, reason="wrong file")

    assert (rejected.status, rejected.cause) == (Status.FAILED, "rejected")
    assert (succeeded.status, succeeded.cause) == (Status.SUCCEEDED, "")
    assert tallied(rejected) == 1 and tallied(succeeded) == 1


def test_ending_a_run_failed_without_a_cause_is_refused(db, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    run = Run.objects.get(pk=step(start_run(make_action(server.base_url, polling_mode="poll",
                                                         poll_url="/jobs/1", stop=STOP))).pk)

    with pytest.raises(causes.MissingCause):
        due_work.move(due_work.unchanged(run), Status.FAILED, "Broken.", run.started_at)
    with pytest.raises(causes.MissingCause):
        due_work.move(due_work.unchanged(run), Status.TIMED_OUT, "Broken.", run.started_at)
