"""Placeholders work in the authentication fields too (Camunda's own example: {{ secrets.PASSWORD }} as the
Basic password), and what they fill in is masked in the log like the fields themselves."""

import base64
from urllib.parse import parse_qs

import pytest

from integrations.models import Integration
from runs.models import ExchangeKind, Status
from runs.services import start_run
from tests.engine_helpers import drive, make_action
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

PASSWORD = "pa55-from-a-secret"
DONE = reply(json={"status": "done"})


def run_with(server, **auth):
    integration = Integration.objects.create(name="Auth", slug="auth", base_url=server.base_url, **auth)
    integration.secrets.create(name="PASSWORD", value=PASSWORD)
    integration.secrets.create(name="USER", value="svc-user")
    server.script("/jobs", DONE)
    run = drive(start_run(make_action(server.base_url, integration=integration)))
    assert run.status == Status.SUCCEEDED, run.reason
    return run


def test_a_secret_placeholder_in_the_basic_password_is_filled(db, server):
    run = run_with(server, auth_type="basic", auth_username="{{ secrets.USER }}",
                   auth_secret="{{ secrets.PASSWORD }}")

    expected = "Basic " + base64.b64encode(f"svc-user:{PASSWORD}".encode()).decode()
    assert server.requests[0].headers["Authorization"] == expected
    assert run.exchanges.get().request_headers["Authorization"] == "Basic ***"


def test_a_secret_placeholder_in_the_bearer_token_is_filled(db, server):
    run = run_with(server, auth_type="bearer", auth_secret="{{ secrets.PASSWORD }}")

    assert server.requests[0].headers["Authorization"] == f"Bearer {PASSWORD}"
    assert run.exchanges.get().request_headers["Authorization"] == "Bearer ***"


def test_placeholders_in_an_api_key_and_its_parameter_name_are_filled(db, server):
    run = run_with(server, auth_type="api_key_query", api_key_name="key_{{ secrets.USER }}",
                   auth_secret="{{ secrets.PASSWORD }}")

    assert parse_qs(server.requests[0].query) == {"key_svc-user": [PASSWORD]}
    assert PASSWORD not in run.exchanges.get().url


def test_a_secret_placeholder_in_an_api_key_header_is_filled_and_masked(db, server):
    run = run_with(server, auth_type="api_key_header", api_key_name="X-Key", auth_secret="{{ secrets.PASSWORD }}")

    assert server.requests[0].headers["X-Key"] == PASSWORD
    assert run.exchanges.get().request_headers["X-Key"] == "***"


def test_oauth_client_id_and_secret_are_filled_from_secrets(db, server):
    integration = Integration.objects.create(
        name="Auth", slug="auth", base_url=server.base_url, auth_type="oauth2_client_credentials",
        oauth_token_url=server.url("/token"), oauth_client_id="{{ secrets.USER }}",
        auth_secret="{{ secrets.PASSWORD }}",
    )
    integration.secrets.create(name="PASSWORD", value=PASSWORD)
    integration.secrets.create(name="USER", value="svc-user")
    server.script("/token", reply(json={"access_token": "acc-1", "expires_in": 3600}))
    server.script("/jobs", DONE)

    run = drive(start_run(make_action(server.base_url, integration=integration)))

    assert run.status == Status.SUCCEEDED, run.reason
    form = parse_qs(server.requests[0].body.decode())
    assert form["client_id"] == ["svc-user"] and form["client_secret"] == [PASSWORD]
    token_call = run.exchanges.get(kind=ExchangeKind.OAUTH_TOKEN)
    assert PASSWORD not in token_call.request_body


def test_an_unknown_placeholder_in_an_authentication_field_refuses_the_run(db, server):
    integration = Integration.objects.create(name="Auth", slug="auth", base_url=server.base_url,
                                             auth_type="bearer", auth_secret="{{ secrets.MISSING }}")
    action = make_action(server.base_url, integration=integration)

    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="secrets.MISSING"):
        start_run(action)
    assert server.requests == []
