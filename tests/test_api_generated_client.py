"""A client generated from /api/schema/ by openapi-python-client imports cleanly and runs the README's whole
cycle: definitions, runs waited for with ?wait= beside a real cluster, refire, cancel, export and import, and
the run-end webhooks verified with a Standard Webhooks library (README, "API", "API conventions", "Webhooks")."""

import importlib
import json
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from rest_framework.authtoken.models import Token

from integrations.models import Integration
from runs.models import Run
from tests.cluster import Workers
from tests.servers import ScriptedServer, reply
from tests.webhook_helpers import grant_group_permissions

GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "integrations_api_client"


@pytest.fixture
def generated(client, tmp_path, monkeypatch):
    if not GENERATOR.exists():
        pytest.skip("openapi-python-client is not installed (requirements-dev.txt)")
    schema = tmp_path / "schema.json"
    schema.write_bytes(client.get("/api/schema/?format=json").content)
    # The generator formats its output with ruff, which it finds on PATH (installed beside it).
    monkeypatch.setenv("PATH", f"{GENERATOR.parent}:{shutil.os.environ.get('PATH', '')}")
    done = subprocess.run(
        [str(GENERATOR), "generate", "--path", str(schema), "--output-path", str(tmp_path / PACKAGE),
         "--meta", "none"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module(PACKAGE)
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]


def test_every_module_of_the_generated_client_imports(generated):
    names = [module.name for module in pkgutil.walk_packages(generated.__path__, f"{PACKAGE}.")]

    for name in names:
        importlib.import_module(name)  # a NameError (Unset) or any other fault fails here
    assert f"{PACKAGE}.api.actions.start_run" in names and f"{PACKAGE}.api.runs.download_run_file" in names


def test_the_generated_client_creates_an_integration_starts_a_run_and_reads_it(
    generated, live_server, admin_user, server, q_sync,
):
    server.script("/jobs", reply(201, json={"id": "j-1", "status": "done"}))
    from integrations_api_client import AuthenticatedClient, models
    from integrations_api_client.api.actions import create_action, start_run
    from integrations_api_client.api.integrations import create_integration
    from integrations_api_client.api.runs import get_run

    api = AuthenticatedClient(base_url=live_server.url, token=Token.objects.create(user=admin_user).key)
    made = create_integration.sync_detailed(client=api, body=models.IntegrationRequest.from_dict({
        "name": "Generated", "base_url": server.base_url, "auth_type": "bearer",
        "auth_secret": "{{ secrets.TOKEN }}", "secrets": {"TOKEN": "s3cret"},
    }))
    assert made.status_code == 201, made.content
    assert made.parsed.secrets_set == ["TOKEN"]
    action = create_action.sync_detailed(client=api, body=models.ActionRequest.from_dict({
        "integration": made.parsed.id, "name": "Start job", "method": "POST", "url": "/jobs",
        "inputs": [{"name": "note"}],
        "stop_conditions": [{"path": "status", "value": "done"}],
    }))
    assert action.status_code == 201, action.content

    started = start_run.sync_detailed(action.parsed.id, client=api, idempotency_key="gen-1",
                                      body=models.StartRunRequest.from_dict({"variables": {"note": "hi"}}))
    assert started.status_code == 201, started.content
    read = get_run.sync_detailed(started.parsed.id, client=api)

    assert read.status_code == 200, read.content
    assert read.parsed.id == Run.objects.get().pk and read.parsed.variables.to_dict() == {"note": "hi"}
    assert [step.run for step in read.parsed.chain] == [read.parsed.id]
    assert list(Integration.objects.get().secrets.values_list("name", flat=True)) == ["TOKEN"]

    refused = start_run.sync_detailed(action.parsed.id, client=api,
                                      body=models.StartRunRequest.from_dict({"variables": {"nope": 1}}))
    assert refused.status_code == 400
    assert isinstance(refused.parsed, models.ErrorResponse)
    assert refused.parsed.errors[0].attr == "variables.nope" and refused.parsed.errors[0].code
    assert json.loads(refused.content)["type"] == "validation_error"


STOP_GROUPS = [  # two groups: done is a success, broken a failure
    {"path": "status", "operator": "equals", "value": "done", "outcome": "success", "group": 1},
    {"path": "status", "operator": "equals", "value": "broken", "outcome": "failure", "group": 2},
]
ENDED = {"succeeded", "failed", "timed_out", "cancelled"}


def waited(get_run, api, run_id):
    """The run once ended, read with ?wait= (each answer comes when its status changes, or when the time is up)."""
    for _ in range(20):
        read = get_run.sync_detailed(run_id, client=api, wait=30)
        assert read.status_code == 200, read.content
        if read.parsed.status.value in ENDED:
            return read.parsed
    raise AssertionError(f"run {run_id} did not end: {read.parsed.status}")


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_the_readme_s_whole_cycle_through_the_generated_client_beside_a_real_cluster(
    generated, live_server, admin_user, server,
):
    """README, "API" and "Webhooks": every step is a call of the generated client; the runs are run by a real
    runworkers cluster, and the run-end webhooks arrive signed at a local receiver."""
    grant_group_permissions()  # a transactional test's flush leaves the groups without webhooks' permissions
    # The job's status follows the variable env: staging breaks, production is done.
    server.script("/jobs", lambda request: reply(201, json={"id": request.json()["env"], "status": "queued"}))
    server.script("/jobs/staging", reply(json={"status": "broken"}))
    server.script("/jobs/production", reply(json={"status": "done"}))
    from integrations_api_client import AuthenticatedClient, models
    from integrations_api_client.api.actions import create_action, start_run
    from integrations_api_client.api.integrations import (
        create_integration,
        export_integration,
        import_integration,
    )
    from integrations_api_client.api.runs import (
        cancel_run,
        get_run,
        list_run_exchanges,
        refire_run,
    )
    from integrations_api_client.api.webhooks import create_webhook
    from standardwebhooks.webhooks import Webhook

    api = AuthenticatedClient(base_url=live_server.url, token=Token.objects.create(user=admin_user).key,
                              timeout=httpx.Timeout(60.0))  # ?wait=30 holds an answer up to 30 s
    with ScriptedServer() as receiver:
        receiver.script("/hook", reply(204))
        hook = create_webhook.sync_detailed(client=api, body=models.SubscriptionRequest.from_dict({
            "name": "Cycle", "url": receiver.url("/hook"),
            "events": ["run.succeeded", "run.failed", "run.cancelled"],
        }))
        assert hook.status_code == 201, hook.content
        secret = hook.parsed.secret
        assert secret.startswith("whsec_")

        made = create_integration.sync_detailed(client=api, body=models.IntegrationRequest.from_dict({
            "name": "Cycle", "slug": "cycle", "base_url": server.base_url, "auth_type": "bearer",
            "auth_secret": "{{ secrets.TOKEN }}", "secrets": {"TOKEN": "s3cret-cycle"},
        }))
        assert made.status_code == 201, made.content
        assert made.parsed.secrets_set == ["TOKEN"]
        action = create_action.sync_detailed(client=api, body=models.ActionRequest.from_dict({
            "integration": made.parsed.id, "name": "Deploy", "slug": "deploy", "method": "POST", "url": "/jobs",
            "body_type": "json", "body": '{"env": "{{ env }}"}',
            "inputs": [{"name": "env", "choices": "staging,production", "default": "staging"}],
            "polling_mode": "poll", "poll_url": "/jobs/{{ job_id }}", "poll_interval": 1,
            "mappings": [{"field": "job_id", "path": "id"}],
            "stop_conditions": STOP_GROUPS,
        }))
        assert action.status_code == 201, action.content
        assert sorted((row.group, row.outcome.value) for row in action.parsed.stop_conditions) == [
            (1, "success"), (2, "failure")]
        later = create_action.sync_detailed(client=api, body=models.ActionRequest.from_dict({
            "integration": made.parsed.id, "name": "Later", "slug": "later", "url": "/jobs",
            "cancelable": True, "fixed_start_time": "2099-01-01T00:00:00Z",
        }))
        assert later.status_code == 201, later.content

        workers = Workers().start()
        try:
            body = models.StartRunRequest.from_dict({"variables": {"env": "staging"}})
            started = start_run.sync_detailed(action.parsed.id, client=api, idempotency_key="cycle-1", body=body)
            assert started.status_code == 201, started.content
            again = start_run.sync_detailed(action.parsed.id, client=api, idempotency_key="cycle-1", body=body)
            assert again.parsed.id == started.parsed.id  # the same key: the same run, not a second one

            failed = waited(get_run, api, started.parsed.id)
            assert failed.status.value == "failed"
            exchanges = list_run_exchanges.sync_detailed(failed.id, client=api)
            assert exchanges.status_code == 200, exchanges.content
            sent = [(row.method, row.url) for row in exchanges.parsed.results]
            assert sent[0] == ("POST", server.url("/jobs")) and ("GET", server.url("/jobs/staging")) in sent
            assert b"s3cret-cycle" not in exchanges.content

            refired = refire_run.sync_detailed(failed.id, client=api, body=models.RefireRequest.from_dict(
                {"variables": {"env": "production"}}))
            assert refired.status_code == 201, refired.content
            succeeded = waited(get_run, api, refired.parsed.id)
            assert succeeded.status.value == "succeeded"
            assert succeeded.refired_from == failed.id and succeeded.variables.to_dict() == {"env": "production"}

            pending = start_run.sync_detailed(later.parsed.id, client=api, body=models.StartRunRequest.from_dict({}))
            assert pending.status_code == 201, pending.content
            cancelled = cancel_run.sync_detailed(pending.parsed.id, client=api)
            assert cancelled.status_code == 200, cancelled.content
            assert cancelled.parsed.status.value == "cancelled"

            hooks = receiver.wait_for(3, path="/hook", timeout=60)
        finally:
            workers.stop()

    exported = export_integration.sync_detailed(made.parsed.id, client=api)
    assert exported.status_code == 200, exported.content
    document = exported.parsed.to_dict() | {"slug": "cycle-copy", "name": "Cycle copy",
                                            "auth_secret": "{{ secrets.TOKEN }}", "secrets": {"TOKEN": "s3cret-copy"}}
    # (an export holds neither secrets nor the write-only auth_secret)
    imported = import_integration.sync_detailed(
        client=api, body=models.IntegrationDocumentRequest.from_dict(document))
    assert imported.status_code == 201, imported.content
    assert imported.parsed.slug == "cycle-copy" and imported.parsed.id != made.parsed.id
    copy = Integration.objects.get(slug="cycle-copy")
    assert sorted(copy.actions.values_list("slug", flat=True)) == ["deploy", "later"]
    assert sorted(copy.actions.get(slug="deploy").stop_conditions.values_list("outcome", flat=True)) == [
        "failure", "success"]

    events = [Webhook(secret).verify(request.body, request.headers) for request in hooks]  # raises if forged
    assert sorted((event["data"]["id"], event["type"]) for event in events) == sorted([
        (failed.id, "run.failed"), (succeeded.id, "run.succeeded"), (pending.parsed.id, "run.cancelled")])
    assert len({request.headers["webhook-id"] for request in hooks}) == 3
