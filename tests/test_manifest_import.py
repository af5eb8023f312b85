"""A ChiefOnboarding manifest imported by command and API, then run end to end against the sandbox.

The sandbox is this site's own remote job API, served by the live server; the
chain starts a job, polls it, downloads its report as a file and uploads it,
and the sandbox's digest of the upload is checked against the kept file.
"""

import hashlib
import json

import pytest
from django.core.management import CommandError, call_command

from integrations.models import Integration
from runs.models import Run, Status
from runs.services import start_run
from sandbox.views import SANDBOX_TOKEN
from tests.api_helpers import codes, details, token_client
from tests.engine_helpers import drive

pytestmark = pytest.mark.usefixtures("q_sync")


def manifest(site):
    return {
        "headers": {"Authorization": "Bearer {{ SANDBOX_TOKEN }}", "Content-Type": "application/json"},
        "initial_data_form": [{"id": "SANDBOX_TOKEN", "name": "Sandbox token", "description": "The API token."}],
        "execute": [
            {"url": f"{site}/sandbox/jobs/", "method": "POST",
             "data": {"name": "welcome {{ first_name }}", "seconds": 0}, "store_data": {"JOB_ID": "id"}},
            {"url": f"{site}/sandbox/jobs/{{{{ JOB_ID }}}}/", "method": "GET",
             "polling": {"interval": 1, "amount": 5},
             "continue_if": {"response_notation": "status", "value": "successful"}},
            {"url": f"{site}/sandbox/jobs/{{{{ JOB_ID }}}}/report/", "method": "GET", "save_as_file": "report.png"},
            {"url": f"{site}/sandbox/uploads/", "method": "POST", "headers": {"Authorization":
             "Bearer {{ SANDBOX_TOKEN }}"}, "data": {"job": "{{ JOB_ID }}"}, "files": {"document": "report.png"},
             "store_data": {"DIGEST": "files.0.sha256", "SIZE": "files.0.size"}},
        ],
    }


def chain_of(first):
    """The runs of the chain started by ``first``, in order."""
    runs, run = [first], first
    while True:
        following = Run.objects.filter(previous_run=run).order_by("id").last()
        if following is None:
            return runs
        runs.append(drive(following))
        run = following


@pytest.fixture
def site(live_server, settings):
    settings.INTEGRATIONS_PUBLIC_URL = live_server.url
    return live_server.url


def test_an_imported_manifest_runs_end_to_end_against_the_sandbox(transactional_db, site, tmp_path):
    path = tmp_path / "sandbox-onboarding.json"
    path.write_text(json.dumps(manifest(site)))

    call_command("import_manifest", str(path), "--secret", f"SANDBOX_TOKEN={SANDBOX_TOKEN}")

    integration = Integration.objects.get(slug="sandbox-onboarding")
    assert integration.secrets.get(name="SANDBOX_TOKEN").value == SANDBOX_TOKEN
    first = integration.actions.get(slug="step-1")
    runs = chain_of(drive(start_run(first, {"first_name": "Ada"})))

    assert [run.action.slug for run in runs] == ["step-1", "step-2", "step-3", "step-4"]
    assert [run.status for run in runs] == [Status.SUCCEEDED] * 4, [run.reason for run in runs]
    report = runs[2].files.get(name="report.png")
    kept = report.file.read()
    assert kept.startswith(b"\x89PNG")
    assert runs[3].fields["DIGEST"] == hashlib.sha256(kept).hexdigest()
    assert runs[3].fields["SIZE"] == len(kept)
    assert runs[3].variables["first_name"] == "Ada"


def test_a_manifest_with_what_cannot_be_expressed_writes_nothing(db, tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"execute": [{"url": "https://x.test/", "method": "POST"}],
                                "oauth": {"authenticate_url": "https://x.test/auth"}}))

    with pytest.raises(CommandError) as refused:
        call_command("import_manifest", str(path))

    assert "oauth: OAuth (ChiefOnboarding's authorization-code sign-in) has no counterpart here" in str(refused.value)
    assert not Integration.objects.exists()


def test_a_secret_without_a_value_is_named(db, tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest("https://sandbox.example.test")))

    with pytest.raises(CommandError) as refused:
        call_command("import_manifest", str(path))

    assert "SANDBOX_TOKEN" in str(refused.value)
    assert not Integration.objects.exists()


def test_the_api_imports_a_manifest_and_names_what_it_refuses(admin_user, viewer_user, db):
    body = {"name": "Onboarding", "secrets": {"SANDBOX_TOKEN": "t"}, "manifest": manifest("https://x.test")}

    oauth = {"authenticate_url": "https://x.test/auth"}
    refused = token_client(admin_user).post(
        "/api/integrations/import-manifest/", {**body, "manifest": {**body["manifest"], "oauth": oauth}}, format="json")
    forbidden = token_client(viewer_user).post("/api/integrations/import-manifest/", body, format="json")
    created = token_client(admin_user).post("/api/integrations/import-manifest/", body, format="json")

    assert refused.status_code == 400
    assert details(refused)["manifest"][0].startswith("oauth: OAuth (ChiefOnboarding's authorization-code")
    assert set(codes(refused)["manifest"]) == {"manifest_unsupported"}
    assert forbidden.status_code == 403
    assert created.status_code == 201, created.json()
    assert created.json()["slug"] == "onboarding"
    assert created.json()["secrets_set"] == ["SANDBOX_TOKEN"]
    integration = Integration.objects.get(slug="onboarding")
    steps = {action.slug: action for action in integration.actions.all()}
    assert [steps[f"step-{n}"].next_action for n in (1, 2, 3)] == [steps["step-2"], steps["step-3"], steps["step-4"]]
