import pytest

from runs.services import start_run
from runs.models import ExchangeKind, Status
from tests.engine_helpers import drive, make_action, step
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")


def test_it_polls_until_the_stop_condition_says_success(db, server):
    server.script("/jobs", reply(201, json={"id": "job-7"}))
    server.script("/jobs/job-7", [
        reply(json={"status": "pending"}),
        reply(json={"status": "pending"}),
        reply(json={"status": "running", "progress": 50}),
        reply(json={"status": "successful", "result": {"url": "https://x/1"}}),
    ])
    action = make_action(
        server.base_url,
        body_type="json",
        body='{"name": "{{ name }}"}',
        polling_mode="poll",
        poll_url="/jobs/{{ job_id }}",
        poll_interval=1,
        stop=[("status", "equals", "successful", "success", "job_status"),
              ("status", "equals", "failed", "failure")],
        inputs=["name"],
        mappings=[("job_id", "id"), ("result_url", "$.result.url", "result")],
    )

    run = drive(start_run(action, {"name": "nightly"}))

    assert run.status == Status.SUCCEEDED, run.reason
    assert run.fields == {"job_id": "job-7", "job_status": "successful", "result_url": "https://x/1"}
    assert (run.attempt, run.polls) == (5, 4)  # the first request and four polls
    assert server.requests[0].json() == {"name": "nightly"}
    assert [r.path for r in server.requests] == ["/jobs"] + ["/jobs/job-7"] * 4
    kinds = [(e.kind, e.attempt, e.repeat_count) for e in run.exchanges.order_by("id")]
    # The two identical "pending" answers share one exchange.
    assert kinds == [(ExchangeKind.REQUEST, 1, 1), (ExchangeKind.POLL, 2, 2), (ExchangeKind.POLL, 4, 1), (ExchangeKind.POLL, 5, 1)]
    assert run.exchanges.get(attempt=2).last_attempt == 3
    assert "matched" in run.exchanges.last().decision


def test_a_poll_is_scheduled_one_interval_after_the_last(db, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    action = make_action(server.base_url, polling_mode="poll", poll_interval=7,
                         stop=[("status", "equals", "done", "success")])
    run = start_run(action)
    step(run)
    assert run.status == Status.POLLING
    gap = (run.next_poll_at - run.started_at).total_seconds()
    assert 6.9 <= gap <= 7.2
