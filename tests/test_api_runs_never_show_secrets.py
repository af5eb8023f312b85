"""A secret sent to a service and echoed back never appears in any answer of the runs API."""

import base64
import json
from urllib.parse import quote, quote_plus

import pytest

from integrations.models import Integration
from runs.models import Run, Status
from tests.api_helpers import token_client
from tests.engine_helpers import drive, make_action
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

NAMED_SECRET = "Sup3r/Secret+Val=ue"
PASSWORD = "basic-pa55word!"


def forms(secret):
    """The shapes a secret takes on the wire and in JSON."""
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}


SECRETS = forms(NAMED_SECRET) | forms(PASSWORD) | {base64.b64encode(f"ann:{PASSWORD}".encode()).decode()}


def echo(request):
    """A careless service: it repeats in its answer the secrets it was sent, in body and headers."""
    return reply(json={"id": "j-1", "status": "failed", "token": NAMED_SECRET, "seen": request.headers["X-Key"],
                       "auth": request.headers["Authorization"]},
                 headers={"X-Echo": NAMED_SECRET, "X-Auth-Echo": request.headers["Authorization"]})


@pytest.fixture
def action(db, server):
    integration = Integration.objects.create(name="Careless", slug="careless", base_url=server.base_url,
                                             auth_type="basic", auth_username="ann", auth_secret=PASSWORD)
    integration.secrets.create(name="KEY", value=NAMED_SECRET)
    server.script("/jobs", echo)
    server.script("/jobs/j-1", echo)
    return make_action(
        server.base_url, integration=integration, url="/jobs", headers={"X-Key": "{{ secrets.KEY }}"},
        body_type="json", body='{"key": "{{ secrets.KEY }}", "note": "key is {{ secrets.KEY }}"}',
        polling_mode="poll", poll_url="/jobs/{{ job_id }}", poll_headers={"X-Key": "{{ secrets.KEY }}"},
        mappings=[("job_id", "id"), ("echoed", "token"), ("auth_seen", "auth")],
        stop=[("status", "equals", "failed", "failure", "final_status")],
    )


def test_no_answer_of_the_runs_api_holds_a_secret(action, admin_user, server):
    api = token_client(admin_user)
    answers = [api.post(f"/api/actions/{action.pk}/runs/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k")]
    run = drive(Run.objects.get(pk=answers[0].json()["id"]))
    assert run.status == Status.FAILED, run.reason
    # The secrets did go out, and came back.
    assert server.requests[0].headers["X-Key"] == NAMED_SECRET
    assert NAMED_SECRET in server.requests[0].body.decode()
    assert base64.b64encode(f"ann:{PASSWORD}".encode()).decode() in server.requests[0].headers["Authorization"]

    answers += [
        api.get("/api/runs/"),
        api.get(f"/api/runs/{run.pk}/"),
        api.get(f"/api/runs/{run.pk}/exchanges/"),
        api.post(f"/api/runs/{run.pk}/refire/", format="json"),
        api.post(f"/api/actions/{action.pk}/runs/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k"),
    ]

    for answer in answers:
        assert answer.status_code in (200, 201), answer.content
        text = answer.content.decode()
        for secret in SECRETS:
            assert secret not in text, (answer.request["PATH_INFO"], secret)
    exchanges = answers[3].json()["results"]
    assert exchanges[0]["request_headers"]["X-Key"] == "***"
    assert exchanges[0]["request_headers"]["Authorization"] == "Basic ***"
    assert exchanges[0]["response_headers"]["X-Echo"] == "***"
    assert json.loads(exchanges[0]["request_body"]) == {"key": "***", "note": "key is ***"}
    assert answers[2].json()["fields"] == {"job_id": "j-1", "echoed": "***", "auth_seen": "Basic ***",
                                           "final_status": "failed"}
