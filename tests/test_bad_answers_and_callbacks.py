"""Answers and callbacks that probe the edges: NaN in JSON, a secret across the log's size cap, chunked
callbacks, NUL characters."""

import io
import json

import pytest
from django.test import override_settings

from integrations.models import Integration
from runs.models import ExchangeKind, Status
from runs.services import start_run
from tests.engine_helpers import drive, make_action, step
from tests.servers import reply
from tests.api_helpers import detail

pytestmark = pytest.mark.usefixtures("q_sync")

SECRET = "s3cr3t-token-value"


def test_nan_in_a_json_answer_is_not_json_and_the_run_fails_saying_so(db, server):
    server.script("/jobs", reply(text='{"status": "done", "ratio": NaN}', content_type="application/json"))
    action = make_action(server.base_url, stop=[("status", "equals", "done", "success", "status")])
    action.mappings.create(field="ratio", path="ratio")

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "not valid JSON" in run.reason and "NaN" in run.reason
    assert run.fields == {}


@override_settings(INTEGRATIONS_MAX_LOGGED_BYTES=40)
def test_a_secret_cut_by_the_log_size_cap_leaves_no_prefix_behind(db, server):
    integration = Integration.objects.create(name="Acme", slug="acme", base_url=server.base_url)
    integration.secrets.create(name="TOKEN", value=SECRET)
    # The secret starts 30 characters in: a cut at 40 before masking would keep "s3cr3t-tok".
    body = "x" * 30 + SECRET + "y" * 30
    server.script("/jobs", reply(text=body, headers={"X-Echo": body}))
    action = make_action(server.base_url, integration=integration, body_type="raw", body=f"{'x' * 30}{{{{ secrets.TOKEN }}}}")

    run = drive(start_run(action))

    exchange = run.exchanges.get()
    for text in (exchange.response_body, exchange.request_body, exchange.response_headers["X-Echo"]):
        assert text.startswith("x" * 30 + "***")
        assert "s3cr" not in text and len(text) <= 40


def test_a_nul_character_in_an_answer_is_logged_escaped(db, server):
    server.script("/jobs", reply(text="before\x00after"))
    action = make_action(server.base_url)

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason
    assert run.exchanges.get().response_body == "before\\u0000after"


@pytest.fixture
def waiting_run(db, server):
    server.script("/jobs", reply(202, json={"accepted": True}))
    action = make_action(server.base_url, polling_mode="callback", poll_timeout=3600,
                         stop=[("state", "equals", "finished", "success")])
    run = step(start_run(action))
    assert run.status == Status.WAITING_CALLBACK
    return run


def test_a_chunked_callback_that_the_server_did_not_decode_is_refused_with_411(client, waiting_run):
    response = client.post(f"/api/callbacks/{waiting_run.callback_token}/", b"",
                           content_type="application/json", HTTP_TRANSFER_ENCODING="chunked")

    assert response.status_code == 411
    assert "Content-Length" in detail(response)
    waiting_run.refresh_from_db()
    assert waiting_run.status == Status.WAITING_CALLBACK
    assert not waiting_run.exchanges.filter(kind=ExchangeKind.CALLBACK).exists()


def test_a_chunked_callback_decoded_by_the_server_is_read_within_the_cap(client, waiting_run):
    body = json.dumps({"state": "finished"}).encode()
    response = client.generic(
        "POST", f"/api/callbacks/{waiting_run.callback_token}/", b"", content_type="application/json",
        HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input_terminated": True, "wsgi.input": io.BytesIO(body)},
    )

    assert response.status_code == 202, response.content
    waiting_run.refresh_from_db()
    assert waiting_run.status == Status.SUCCEEDED
    assert json.loads(waiting_run.exchanges.get(kind=ExchangeKind.CALLBACK).request_body) == {"state": "finished"}


@override_settings(INTEGRATIONS_MAX_CALLBACK_BYTES=100)
def test_a_chunked_callback_over_the_cap_is_refused_with_413(client, waiting_run):
    body = json.dumps({"state": "finished", "pad": "x" * 200}).encode()
    response = client.generic(
        "POST", f"/api/callbacks/{waiting_run.callback_token}/", b"", content_type="application/json",
        HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input_terminated": True, "wsgi.input": io.BytesIO(body)},
    )

    assert response.status_code == 413
