import base64
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from django.utils import timezone

from integrations.models import Integration
from runs.services import start_run
from runs.models import ExchangeKind, OAuthToken, Status
from tests.engine_helpers import drive, make_action
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

DONE = reply(json={"status": "done"})


def integration(server, **fields):
    return Integration.objects.create(name="Auth", slug="auth", base_url=server.base_url, **fields)


def run_once(server, **fields):
    server.script("/jobs", DONE)
    action = make_action(server.base_url, integration=integration(server, **fields))
    run = drive(start_run(action))
    assert run.status == Status.SUCCEEDED, run.reason
    return server.requests[-1], run


def test_basic_authentication_sends_the_username_and_password(db, server):
    received, run = run_once(server, auth_type="basic", auth_username="ann", auth_secret="pa:ss-word")

    assert received.headers["Authorization"] == "Basic " + base64.b64encode(b"ann:pa:ss-word").decode()
    assert run.exchanges.get().request_headers["Authorization"] == "Basic ***"


def test_bearer_authentication_sends_the_token(db, server):
    received, run = run_once(server, auth_type="bearer", auth_secret="tok-abc-123")

    assert received.headers["Authorization"] == "Bearer tok-abc-123"
    assert run.exchanges.get().request_headers["Authorization"] == "Bearer ***"


def test_an_api_key_in_a_header_is_sent_in_that_header(db, server):
    received, run = run_once(server, auth_type="api_key_header", api_key_name="X-Api-Key", auth_secret="key-123")

    assert received.headers["X-Api-Key"] == "key-123"
    assert run.exchanges.get().request_headers["X-Api-Key"] == "***"


def test_an_api_key_in_the_query_is_sent_as_a_parameter(db, server):
    received, run = run_once(server, auth_type="api_key_query", api_key_name="api_key", auth_secret="key/with space")

    assert parse_qs(received.query) == {"api_key": ["key/with space"]}
    assert run.exchanges.get().url.endswith("?api_key=***")


@pytest.fixture
def oauth_action(server):
    server.script("/token", [reply(json={"access_token": "access-one", "token_type": "Bearer", "expires_in": 3600}),
                             reply(json={"access_token": "access-two", "token_type": "Bearer", "expires_in": 3600})])
    server.script("/jobs", DONE)
    return make_action(server.base_url, integration=integration(
        server, auth_type="oauth2_client_credentials", oauth_token_url=server.url("/token"),
        oauth_client_id="client-7", oauth_scope="jobs:write", auth_secret="client-secret-xyz",
    ))


def test_oauth_client_credentials_fetches_a_token_and_sends_it(db, server, oauth_action):
    run = drive(start_run(oauth_action))

    assert run.status == Status.SUCCEEDED, run.reason
    token_call, job_call = server.requests
    assert token_call.path == "/token"
    assert parse_qs(token_call.body.decode()) == {
        "grant_type": ["client_credentials"], "client_id": ["client-7"],
        "client_secret": ["client-secret-xyz"], "scope": ["jobs:write"],
    }
    assert job_call.headers["Authorization"] == "Bearer access-one"


def test_the_token_call_is_logged_with_the_client_secret_and_access_token_redacted(db, server, oauth_action):
    run = drive(start_run(oauth_action))

    token_exchange, request_exchange = run.exchanges.order_by("id")
    assert token_exchange.kind == ExchangeKind.OAUTH_TOKEN
    assert token_exchange.status_code == 200
    assert "client_secret=***" in token_exchange.request_body
    assert "client-secret-xyz" not in token_exchange.request_body
    assert '"access_token": "***"' in token_exchange.response_body
    assert "access-one" not in token_exchange.response_body
    assert request_exchange.request_headers["Authorization"] == "Bearer ***"


def test_the_token_is_cached_for_the_next_run_and_fetched_again_after_it_expires(db, server, oauth_action):
    drive(start_run(oauth_action))
    second = drive(start_run(oauth_action))

    assert [r.path for r in server.requests] == ["/token", "/jobs", "/jobs"]
    assert server.requests[2].headers["Authorization"] == "Bearer access-one"
    assert not second.exchanges.filter(kind=ExchangeKind.OAUTH_TOKEN).exists()
    assert second.exchanges.get().request_headers["Authorization"] == "Bearer ***"

    OAuthToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    drive(start_run(oauth_action))

    assert [r.path for r in server.requests] == ["/token", "/jobs", "/jobs", "/token", "/jobs"]
    assert server.requests[-1].headers["Authorization"] == "Bearer access-two"


def test_a_token_url_that_gives_no_token_fails_the_run_before_the_request(db, server, oauth_action):
    server.script("/token", reply(401, json={"error": "invalid_client"}))

    run = drive(start_run(oauth_action))

    assert run.status == Status.FAILED
    assert run.reason == "The first request failed: The OAuth token URL answered 401 without an access_token."
    assert [r.path for r in server.requests] == ["/token"]
    assert [e.kind for e in run.exchanges.order_by("id")] == [ExchangeKind.OAUTH_TOKEN, ExchangeKind.REQUEST]


def test_a_401_forgets_the_cached_token_so_the_next_run_fetches_a_new_one(db, server, oauth_action):
    server.script("/jobs", [reply(401, json={"error": "token revoked"}), DONE])

    first = drive(start_run(oauth_action))
    second = drive(start_run(oauth_action))

    assert first.status == Status.FAILED
    assert second.status == Status.SUCCEEDED, second.reason
    assert [r.path for r in server.requests] == ["/token", "/jobs", "/token", "/jobs"]
    assert server.requests[-1].headers["Authorization"] == "Bearer access-two"
