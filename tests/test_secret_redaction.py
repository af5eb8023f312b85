import base64
from urllib.parse import quote, quote_plus

import pytest
from django.db import connection

from integrations.models import Integration
from runs.services import start_run
from runs.models import Exchange, Status
from tests.engine_helpers import drive, make_action
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

NAMED_SECRET = "Sup3r/Secret+Val=ue"
BEARER = "bearer-7f3a9c1e"
PASSWORD = "basic-pa55word!"


def wire_forms(secret):
    return {secret, quote(secret, safe=""), quote_plus(secret)}


def echo(request, token=NAMED_SECRET):
    """The careless service: it repeats whatever secret it was sent."""
    seen = request.headers.get("Authorization", "") + " " + request.headers.get("X-Key", "")
    return reply(json={"status": "done", "seen": seen, "token": token, "body": request.body.decode()},
                 headers={"X-Echo": NAMED_SECRET, "X-Auth-Echo": request.headers.get("Authorization", "")})


def action_on(server, **auth):
    integration = Integration.objects.create(name=auth["auth_type"], slug=auth["auth_type"], base_url=server.base_url,
                                             **auth)
    integration.secrets.create(name="X", value=NAMED_SECRET)
    action = make_action(
        server.base_url,
        integration=integration,
        url="/jobs/{{ secrets.X }}",
        params={"key": "{{ secrets.X }}"},
        headers={"X-Key": "{{ secrets.X }}"},
        body_type="json",
        body='{"key": "{{ secrets.X }}", "note": "key is {{ secrets.X }}"}',
        polling_mode="poll",
        poll_url="/poll",
        poll_headers={"X-Key": "{{ secrets.X }}"},
        stop=[("token", "equals", "{{ secrets.X }}", "success", "echoed_token"),
              ("@headers.X-Echo", "equals", "nothing", "failure", "echoed_header")],
    )
    action.mappings.create(field="first_seen", path="seen")
    return action


def database_text():
    """Every row of every table, as text."""
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            rows.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(rows)


def test_no_secret_is_stored_anywhere_in_the_database_after_runs_that_sent_and_received_them(db, server):
    # The first answer echoes what it was sent too, but is not yet the one the stop condition waits for.
    server.script(f"/jobs/{quote(NAMED_SECRET, safe='')}", lambda request: echo(request, token="queued"))
    server.script("/poll", [reply(json={"status": "running", "token": "not yet"}), echo])
    runs = [
        drive(start_run(action_on(server, auth_type="bearer", auth_secret=BEARER))),
        drive(start_run(action_on(server, auth_type="basic", auth_username="ann", auth_secret=PASSWORD))),
    ]

    for run in runs:
        assert run.status == Status.SUCCEEDED, run.reason
    # The secrets did go out, and came back.
    sent = server.requests
    assert sent[0].headers["Authorization"] == f"Bearer {BEARER}"
    assert sent[0].json()["key"] == NAMED_SECRET
    assert sent[3].headers["Authorization"] == "Basic " + base64.b64encode(f"ann:{PASSWORD}".encode()).decode()

    dump = database_text()
    secrets = wire_forms(NAMED_SECRET) | wire_forms(BEARER) | wire_forms(PASSWORD)
    secrets.add(base64.b64encode(f"ann:{PASSWORD}".encode()).decode())
    for secret in secrets:
        assert secret not in dump, [line for line in dump.splitlines() if secret in line]

    assert Exchange.objects.filter(request_body__contains="***").count() == 2
    assert Exchange.objects.filter(response_body__contains="***").count() >= 4
    assert runs[0].fields == {"first_seen": "Bearer *** ***", "echoed_token": "***", "echoed_header": "***"}
    assert runs[1].exchanges.first().response_headers["X-Auth-Echo"] == "Basic ***"
    assert "***" in runs[0].reason
