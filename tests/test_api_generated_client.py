"""A client generated from /api/schema/ by openapi-python-client imports cleanly and drives the API: create
an integration with a secret and an action, start a run, read it (README, "API conventions")."""

import importlib
import json
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from integrations.models import Integration
from runs.models import Run
from tests.servers import reply

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
