import json

import pytest

from integrations.models import Integration
from runs.services import start_run
from runs.models import ExchangeKind, Run, Status
from tests.engine_helpers import drive, make_action
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")


def test_a_rehearsal_of_an_action_that_does_not_execute_in_rehearsal_sends_nothing_and_logs_the_request(db, server):
    server.script("/jobs", reply(json={"status": "done"}))
    action = make_action(server.base_url, body_type="json", body='{"name": "{{ name }}"}', polling_mode="poll",
                         inputs=["name"], execute_in_rehearsal=False, stop=[("status", "equals", "done", "success")])

    run = drive(start_run(action, {"name": "nightly"}, rehearsal=True))

    assert run.status == Status.SKIPPED
    assert "Rehearsal" in run.reason
    assert run.next_poll_at is None
    assert server.requests == []
    exchange = run.exchanges.get()
    assert exchange.kind == ExchangeKind.REQUEST
    assert exchange.sent is False
    assert exchange.method == "POST"
    assert exchange.url == server.url("/jobs")
    assert json.loads(exchange.request_body) == {"name": "nightly"}
    assert exchange.status_code is None


def test_a_rehearsal_of_an_action_that_executes_in_rehearsal_sends(db, server):
    server.script("/jobs", reply(json={"status": "done"}))
    action = make_action(server.base_url, execute_in_rehearsal=True, stop=[("status", "equals", "done", "success")])

    run = drive(start_run(action, rehearsal=True))

    assert run.status == Status.SUCCEEDED, run.reason
    assert len(server.requests) == 1
    assert run.exchanges.get().sent is True


def test_a_rehearsal_run_says_so_in_its_context(db, server):
    server.script("/jobs", reply(json={}))
    action = make_action(server.base_url, execute_in_rehearsal=True, include_context=True)

    drive(start_run(action, rehearsal=True))

    assert server.requests[0].json()["context"]["run"]["rehearsal"] is True


def test_a_rehearsal_that_sends_nothing_does_not_fetch_an_oauth_token_either(db, server):
    integration = Integration.objects.create(
        name="OAuth", slug="oauth", base_url=server.base_url, auth_type="oauth2_client_credentials",
        oauth_token_url=server.url("/token"), oauth_client_id="client", auth_secret="client-secret",
    )
    action = make_action(server.base_url, integration=integration)

    run = drive(start_run(action, rehearsal=True))

    assert run.status == Status.SKIPPED
    assert server.requests == []
    assert [e.kind for e in run.exchanges.all()] == [ExchangeKind.REQUEST]
    assert run.exchanges.get().request_headers["Authorization"] == "Bearer ***"


def test_a_rehearsal_whose_request_cannot_be_built_fails_naming_the_placeholder(db, server):
    action = make_action(server.base_url, url="/jobs/{{ job_id }}", inputs=["job_id"])
    run = start_run(action, {"job_id": 1}, rehearsal=True)
    Run.objects.filter(pk=run.pk).update(variables={})

    run = drive(run)

    assert run.status == Status.FAILED
    assert "job_id" in run.reason
    assert server.requests == []
