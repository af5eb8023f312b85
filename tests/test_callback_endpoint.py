import json

import pytest

from runs.services import start_run
from runs.models import ExchangeKind, Status
from tests.engine_helpers import make_action, step
from tests.servers import reply
from tests.api_helpers import detail

pytestmark = pytest.mark.usefixtures("q_sync")

STOP = [("state", "equals", "finished", "success", "state"), ("state", "equals", "error", "failure")]


@pytest.fixture
def waiting_run(db, server):
    server.script("/jobs", reply(202, json={"accepted": True}))
    action = make_action(server.base_url, polling_mode="callback", poll_timeout=3600, stop=STOP,
                         body_type="json", body='{"notify": "{{ run.callback_url }}", "run": "{{ run.id }}"}')
    run = step(start_run(action))
    assert run.status == Status.WAITING_CALLBACK
    return run


def post(client, run_or_token, payload, content_type="application/json"):
    token = getattr(run_or_token, "callback_token", run_or_token)
    body = json.dumps(payload) if content_type == "application/json" else payload
    return client.post(f"/api/callbacks/{token}/", body, content_type=content_type)


def test_the_callback_url_sent_in_the_request_is_the_runs_callback_url(waiting_run, server):
    sent = server.requests[0].json()
    assert sent == {"notify": waiting_run.callback_url, "run": waiting_run.pk}
    assert sent["notify"].endswith(f"/api/callbacks/{waiting_run.callback_token}/")


def test_a_progress_callback_keeps_the_run_waiting_and_is_logged(client, waiting_run):
    response = post(client, waiting_run, {"state": "running", "progress": 30})

    assert response.status_code == 202
    assert response.json() == {"run": waiting_run.pk, "status": "waiting_callback"}
    waiting_run.refresh_from_db()
    assert waiting_run.status == Status.WAITING_CALLBACK
    assert waiting_run.fields == {"state": "running"}
    exchange = waiting_run.exchanges.get(kind=ExchangeKind.CALLBACK)
    assert json.loads(exchange.request_body) == {"state": "running", "progress": 30}
    assert exchange.url == "/api/callbacks/***/"
    assert "Still waiting" in exchange.decision


def test_the_final_callback_ends_the_run_with_its_outcome(client, waiting_run):
    post(client, waiting_run, {"state": "running"})
    response = post(client, waiting_run, {"state": "finished", "result": 1})

    assert response.status_code == 202
    waiting_run.refresh_from_db()
    assert waiting_run.status == Status.SUCCEEDED
    assert "state equals 'finished' matched" in waiting_run.reason
    assert waiting_run.next_poll_at is None
    assert waiting_run.exchanges.filter(kind=ExchangeKind.CALLBACK).count() == 2


def test_a_failure_callback_fails_the_run(client, waiting_run):
    post(client, waiting_run, {"state": "error"})

    waiting_run.refresh_from_db()
    assert waiting_run.status == Status.FAILED
    assert "state equals 'error' matched" in waiting_run.reason


def test_an_unknown_token_is_404(client, waiting_run):
    response = post(client, "not-a-token", {"state": "finished"})

    assert response.status_code == 404
    assert not waiting_run.exchanges.filter(kind=ExchangeKind.CALLBACK).exists()


def test_a_callback_for_a_finished_run_is_409_and_changes_nothing(client, waiting_run):
    post(client, waiting_run, {"state": "finished"})

    response = post(client, waiting_run, {"state": "error"})

    assert response.status_code == 409
    assert "already succeeded" in detail(response)
    waiting_run.refresh_from_db()
    assert waiting_run.status == Status.SUCCEEDED


def test_a_body_over_the_limit_is_413_and_not_logged(client, waiting_run, settings):
    settings.INTEGRATIONS_MAX_CALLBACK_BYTES = 100

    response = post(client, waiting_run, {"state": "finished", "pad": "x" * 200})

    assert response.status_code == 413
    waiting_run.refresh_from_db()
    assert waiting_run.status == Status.WAITING_CALLBACK
    assert not waiting_run.exchanges.filter(kind=ExchangeKind.CALLBACK).exists()


def test_an_xml_callback_body_is_evaluated(client, waiting_run):
    waiting_run.action.stop_conditions.create(path="callback.state", value="finished", target_field="xml_state")

    response = post(client, waiting_run, "<callback><state>finished</state></callback>", content_type="application/xml")

    assert response.status_code == 202
    waiting_run.refresh_from_db()
    assert waiting_run.status == Status.SUCCEEDED, waiting_run.reason
    assert waiting_run.fields == {"xml_state": "finished"}
    assert "callback.state equals 'finished' matched" in waiting_run.reason


def test_a_callback_that_is_not_json_keeps_the_run_waiting_and_says_why(client, waiting_run):
    response = post(client, waiting_run, "state=finished", content_type="text/plain")

    assert response.status_code == 202
    waiting_run.refresh_from_db()
    assert waiting_run.status == Status.WAITING_CALLBACK
    exchange = waiting_run.exchanges.get(kind=ExchangeKind.CALLBACK)
    assert exchange.decision.startswith("The response is not JSON")
    assert exchange.failed_part == "request"


def test_a_callback_that_arrives_before_the_request_finished_is_evaluated_once_the_run_waits(client, db, server):
    server.script("/jobs", reply(202, json={"accepted": True}))
    action = make_action(server.base_url, polling_mode="callback", stop=STOP)
    run = start_run(action)

    response = post(client, run, {"state": "finished"})
    assert response.status_code == 202
    run.refresh_from_db()
    assert run.status == Status.PENDING

    run = step(run)
    assert run.status == Status.SUCCEEDED, run.reason
    assert "matched" in run.exchanges.get(kind=ExchangeKind.CALLBACK).decision


def test_a_run_of_an_action_that_polls_refuses_callbacks(client, db, server):
    server.script("/jobs", reply(json={"state": "queued"}))
    action = make_action(server.base_url, polling_mode="poll", stop=STOP)
    run = step(start_run(action))
    assert run.status == Status.POLLING

    response = post(client, run, {"state": "finished"})

    assert response.status_code == 409
    assert "does not wait for callbacks" in detail(response)
    assert not run.exchanges.filter(kind=ExchangeKind.CALLBACK).exists()


def test_the_endpoint_takes_only_post(client, waiting_run):
    assert client.get(f"/api/callbacks/{waiting_run.callback_token}/").status_code == 405


def test_a_service_that_accepts_only_xml_still_gets_the_json_answer(client, waiting_run):
    response = client.post(f"/api/callbacks/{waiting_run.callback_token}/", json.dumps({"state": "running"}),
                           content_type="application/json", HTTP_ACCEPT="application/xml")

    assert response.status_code == 202
    assert response.json() == {"run": waiting_run.pk, "status": "waiting_callback"}


def test_credentials_the_service_sends_along_are_not_checked(client, waiting_run):
    response = client.post(f"/api/callbacks/{waiting_run.callback_token}/", json.dumps({"state": "finished"}),
                           content_type="application/json", HTTP_AUTHORIZATION="Token not-one-of-ours")

    assert response.status_code == 202
    waiting_run.refresh_from_db()
    assert waiting_run.status == Status.SUCCEEDED


def test_a_browser_session_without_a_csrf_token_does_not_block_the_callback(waiting_run, admin_user):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)

    response = post(browser, waiting_run, {"state": "finished"})

    assert response.status_code == 202


@pytest.mark.parametrize("token", ["a%00b", "a%20b", "a.b~"])
def test_a_token_with_characters_no_token_has_is_404(client, waiting_run, token):
    # A NUL would reach PostgreSQL as a query parameter and fail there; no token is looked up for it.
    response = client.post(f"/api/callbacks/{token}/", "{}", content_type="application/json")

    assert response.status_code == 404
    assert detail(response) == "Not found."
