"""The first request and polling (SPEC): with a blank polling URL the first request is poll 1; with a
separate polling URL it is checked against the stop conditions and repeated only where that is safe."""

import socket

import pytest

from runs.models import ExchangeKind, Status
from runs.services import start_run
from tests.engine_helpers import drive, make_action, step
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

STOP = [("status", "equals", "done", "success"), ("status", "equals", "failed", "failure")]
QUEUED = reply(201, json={"status": "queued"})
DONE = reply(json={"status": "done"})


def repeating(server, **fields):
    """An action whose request repeats itself (blank polling URL): the first request is poll 1."""
    fields.setdefault("poll_interval", 1)
    return make_action(server.base_url, polling_mode="poll", stop=STOP, **fields)


def separate(server, **fields):
    """An action that starts a job with a POST and polls it at its own URL."""
    fields.setdefault("poll_interval", 1)
    fields.setdefault("poll_url", "/jobs/1")
    return make_action(server.base_url, polling_mode="poll", stop=STOP, **fields)


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- a blank polling URL: the first request is poll 1 -------------------------------------------


@pytest.mark.parametrize("status, policy_field", [(503, "on_server_error"), (500, "on_server_error"),
                                                  (429, "on_rate_limited")])
def test_an_error_on_poll_1_follows_the_error_policy_for_its_kind(db, server, status, policy_field):
    server.script("/jobs", [reply(status, text="not now"), DONE])
    action = repeating(server, **{policy_field: "retry"})

    run = step(start_run(action))
    assert run.status == Status.RUNNING
    assert run.consecutive_errors == 1
    assert "Error 1 of 3 in a row" in run.exchanges.get().decision

    run = drive(run)
    assert run.status == Status.SUCCEEDED, run.reason
    assert len(server.requests) == 2


def test_a_404_on_poll_1_keeps_polling_when_other_statuses_mean_not_there_yet(db, server):
    server.script("/jobs", [reply(404, json={"detail": "not yet"})] * 4 + [DONE])
    action = repeating(server, method="GET", on_other_status="keep_polling", max_consecutive_errors=2)

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason
    assert run.polls == 5
    assert run.consecutive_errors == 0


def test_a_503_on_poll_1_still_fails_at_once_when_the_policy_says_fail(db, server):
    server.script("/jobs", reply(503, text="down"))
    action = repeating(server, on_server_error="fail")

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert run.reason == "The first request failed: The service answered 503, which is not an accepted status (2xx)."
    assert len(server.requests) == 1


def test_a_retry_after_on_poll_1_delays_the_next_attempt(db, server):
    server.script("/jobs", reply(429, text="slow down", headers={"Retry-After": "40"}))
    action = repeating(server)

    run = step(start_run(action))

    assert run.status == Status.RUNNING
    exchange = run.exchanges.get()
    assert (run.next_poll_at - exchange.created_at).total_seconds() >= 40


def test_a_first_answer_that_meets_a_stop_condition_ends_the_run_without_a_poll(db, server):
    server.script("/jobs", DONE)
    action = repeating(server)

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED
    assert "status equals 'done' matched" in run.reason
    assert len(server.requests) == 1
    assert (run.attempt, run.polls) == (1, 1)


# --- a separate polling URL --------------------------------------------------------------------


def test_a_job_already_done_at_the_first_answer_needs_no_poll(db, server):
    server.script("/jobs", reply(201, json={"id": 1, "status": "done"}))
    action = separate(server)

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason
    assert [r.path for r in server.requests] == ["/jobs"]
    assert run.polls == 0


def test_a_first_answer_that_meets_a_failure_condition_fails_the_run(db, server):
    server.script("/jobs", reply(201, json={"id": 1, "status": "failed"}))
    action = separate(server)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "status equals 'failed' matched" in run.reason
    assert run.exchanges.get().failed_part == "response"


def test_a_post_that_got_a_500_is_not_sent_again(db, server):
    server.script("/jobs", [reply(500, text="oops"), QUEUED])
    action = separate(server, on_server_error="retry")

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "not sent again" in run.reason
    assert "safe to repeat" in run.reason
    assert len(server.requests) == 1


def test_a_post_that_timed_out_reading_is_not_sent_again(db, server):
    server.script("/jobs", reply(201, json={"status": "queued"}, delay=1.5))
    action = separate(server, read_timeout=0.5)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "No answer within 0.5 s" in run.reason
    assert "may have reached the service" in run.reason
    assert len(server.wait_for(1, timeout=5)) == 1


@pytest.mark.parametrize("answer", [
    reply(429, text="slow down", headers={"Retry-After": "0"}),
    reply(503, text="maintenance", headers={"Retry-After": "0"}),
])
def test_a_post_refused_before_any_work_is_sent_again(db, server, answer):
    server.script("/jobs", [answer, QUEUED])
    server.script("/jobs/1", DONE)
    action = separate(server)

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason
    assert [r.path for r in server.requests] == ["/jobs", "/jobs", "/jobs/1"]
    first = run.exchanges.filter(kind=ExchangeKind.REQUEST).order_by("id")
    assert [e.attempt for e in first] == [1, 2]


def test_a_503_without_retry_after_may_have_done_work_so_a_post_is_not_repeated(db, server):
    server.script("/jobs", [reply(503, text="oops"), QUEUED])
    action = separate(server)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert len(server.requests) == 1


def test_a_post_that_never_reached_the_service_is_sent_again(db, server):
    action = separate(server, connect_timeout=1, max_consecutive_errors=2)
    action.url = f"http://127.0.0.1:{closed_port()}/jobs"
    action.save()

    run = step(start_run(action))
    assert run.status == Status.RUNNING
    assert "Connection failed" in run.exchanges.get().error

    run = drive(run)
    assert run.status == Status.FAILED
    assert run.reason.startswith("2 errors in a row sending the first request; the last: Connection failed")
    assert run.exchanges.filter(kind=ExchangeKind.REQUEST).count() == 2


@pytest.mark.parametrize("method", ["PUT", "DELETE", "GET"])
def test_an_idempotent_first_request_is_sent_again_after_an_error(db, server, method):
    server.script("/jobs", [reply(500, text="oops"), QUEUED])
    server.script("/jobs/1", DONE)
    action = separate(server, method=method)

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason
    assert [r.method for r in server.requests_to("/jobs")] == [method, method]


def test_a_post_the_action_marks_safe_to_repeat_is_sent_again_after_an_error(db, server):
    server.script("/jobs", [reply(502, text="bad gateway"), QUEUED])
    server.script("/jobs/1", DONE)
    action = separate(server, safe_to_repeat=True)

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason
    assert len(server.requests_to("/jobs")) == 2


def test_retries_of_the_first_request_do_not_count_as_polls(db, server):
    server.script("/jobs", [reply(429, text="wait", headers={"Retry-After": "0"}), QUEUED])
    server.script("/jobs/1", reply(json={"status": "queued"}))
    action = separate(server, poll_max_attempts=2)

    run = drive(start_run(action))

    assert run.status == Status.TIMED_OUT
    assert [r.path for r in server.requests] == ["/jobs", "/jobs", "/jobs/1", "/jobs/1"]
    assert (run.attempt, run.polls) == (4, 2)


def test_continue_if_and_first_response_mappings_read_the_first_accepted_answer(db, server):
    server.script("/jobs", [reply(429, text="wait", headers={"Retry-After": "0"}),
                            reply(201, json={"id": "j-9", "status": "queued"})])
    server.script("/jobs/j-9", DONE)
    action = separate(server, poll_url="/jobs/{{ job_id }}", mappings=[("job_id", "id")])
    action.continue_conditions.create(path="id", operator="exists")

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason
    assert run.fields["job_id"] == "j-9"


def test_without_polling_an_error_fails_at_once(db, server):
    server.script("/jobs", [reply(503, text="down", headers={"Retry-After": "0"}), DONE])
    action = make_action(server.base_url)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert len(server.requests) == 1
