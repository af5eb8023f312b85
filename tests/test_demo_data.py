"""load_demo creates the sandbox integration: idempotent, valid, secrets encrypted, paths that fit."""

import json
from io import StringIO
from urllib.parse import urljoin, urlsplit

import pytest
import xmltodict
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.urls import resolve

from integrations.models import Action, ActionInput, Integration, ResponseMapping, Secret, StopCondition
from integrations.paths import Response, resolve as resolve_path
from sandbox import views

pytestmark = pytest.mark.django_db

AUTH = {"Authorization": f"Bearer {views.SANDBOX_TOKEN}"}
ROW_MODELS = [Integration, Secret, Action, ActionInput, ResponseMapping, StopCondition]


def load_demo():
    out = StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def demo_action(slug):
    return Action.objects.get(integration__slug="sandbox", slug=slug)


def test_it_creates_the_sandbox_integration_and_its_actions(settings):
    settings.INTEGRATIONS_PUBLIC_URL = "http://demo.test:8000/"

    output = load_demo()

    integration = Integration.objects.get(slug="sandbox")
    assert integration.name == "Sandbox jobs"
    assert integration.base_url == "http://demo.test:8000/sandbox/"
    assert integration.auth_type == "bearer"
    assert integration.auth_secret == views.SANDBOX_TOKEN
    assert integration.secrets.get(name="SANDBOX_TOKEN").value == views.SANDBOX_TOKEN
    assert set(integration.actions.values_list("slug", flat=True)) == {
        "run-job",
        "run-failing-job",
        "run-job-xml",
        "run-job-callback",
        "chain-run-job",
        "chain-download-report",
        "chain-upload-report",
    }
    chain = [demo_action("chain-run-job")]
    while chain[-1].next_action:
        chain.append(chain[-1].next_action)
    assert [action.slug for action in chain] == ["chain-run-job", "chain-download-report", "chain-upload-report"]
    assert chain[1].save_as_file == "report.png"
    assert chain[2].files == {"document": "report.png"}
    assert "Created integration 'Sandbox jobs'" in output


def test_running_it_twice_creates_no_duplicates():
    load_demo()
    first = {model: sorted(model.objects.values_list("pk", flat=True)) for model in ROW_MODELS}

    output = load_demo()

    assert {model: sorted(model.objects.values_list("pk", flat=True)) for model in ROW_MODELS} == first
    assert "Updated integration" in output


def test_every_object_passes_full_clean():
    load_demo()

    objects = [obj for model in ROW_MODELS for obj in model.objects.all()]
    assert len(objects) > 20
    for obj in objects:
        obj.full_clean()


def test_every_placeholder_of_the_demo_names_something_that_fills_it():
    load_demo()

    assert Integration.objects.get(slug="sandbox").placeholder_errors() == {}
    for action in Action.objects.all():
        assert action.placeholder_errors() == {}, action.slug
    assert set(demo_action("run-job").inputs.values_list("name", flat=True)) == {"job_name", "seconds"}


def test_it_refuses_a_demo_action_whose_placeholder_nothing_fills(monkeypatch):
    from sandbox.management.commands import load_demo as command

    broken = {**command.DEMO_ACTIONS[0], "inputs": command.DEMO_ACTIONS[0]["inputs"][:1]}  # no "seconds" input
    monkeypatch.setattr(command, "DEMO_ACTIONS", [broken])

    with pytest.raises(ValidationError, match="seconds"):
        load_demo()
    assert not Integration.objects.exists()


def test_secrets_are_stored_encrypted():
    load_demo()

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT value FROM {Secret._meta.db_table}")
        secret_values = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT auth_secret FROM {Integration._meta.db_table}")
        auth_secrets = [row[0] for row in cursor.fetchall()]
    assert secret_values and auth_secrets
    for raw in secret_values + auth_secrets:
        assert views.SANDBOX_TOKEN not in raw
        assert raw.startswith("fernet:")


def test_run_job_is_cancelable_through_the_sandbox():
    load_demo()

    action = demo_action("run-job")
    assert action.cancelable
    base_url = action.integration.base_url
    cancel_path = urlsplit(urljoin(base_url, action.cancel_webhook_url.replace("{{ job_id }}", "abc"))).path
    assert resolve(cancel_path).url_name == "cancel"


@pytest.mark.parametrize("slug", ["run-job", "run-failing-job", "run-job-xml"])
def test_the_polling_actions_point_at_the_sandbox(slug):
    load_demo()

    action = demo_action(slug)
    base_url = action.integration.base_url
    assert resolve(urlsplit(urljoin(base_url, action.url)).path).url_name == "jobs"
    poll_path = urlsplit(urljoin(base_url, action.poll_url.replace("{{ job_id }}", "abc"))).path
    assert resolve(poll_path).url_name == "job"
    assert action.poll_interval == 1


def test_the_callback_action_waits_for_the_run_callback_url():
    load_demo()

    action = demo_action("run-job-callback")
    assert action.polling_mode == "callback"
    assert json.loads(action.body)["callback_url"] == "{{ run.callback_url }}"


@pytest.mark.parametrize(
    "slug, outcome, fmt",
    [
        ("run-job", "successful", "json"),
        ("run-failing-job", "failed", "json"),
        ("run-job-xml", "successful", "xml"),
        ("run-job-callback", "successful", "json"),
    ],
)
def test_its_paths_read_the_sandbox_answers(client, slug, outcome, fmt):
    """Each action's body, mappings and stop conditions fit what the sandbox really answers."""
    load_demo()
    action = demo_action(slug)
    body = json.loads(action.body)
    assert body.get("outcome", "successful") == outcome
    assert body.get("format", "json") == fmt
    assert action.convert_xml == (fmt == "xml")

    def parsed(response):
        return xmltodict.parse(response.content) if fmt == "xml" else response.json()

    fields = {"name": "demo", "seconds": 0, "outcome": outcome, "format": fmt}
    created = client.post("/sandbox/jobs/", json.dumps(fields), content_type="application/json", headers=AUTH)
    first = Response(status=created.status_code, headers={}, body=parsed(created))
    job_id = resolve_path(action.mappings.get(field="job_id").path, first)
    polled = client.get(f"/sandbox/jobs/{job_id}/", headers=AUTH)
    assert polled.status_code == 200
    final = Response(status=200, headers={}, body=parsed(polled))

    matches = [row for row in action.stop_conditions.all() if resolve_path(row.path, final) == row.value]
    assert [row.outcome for row in matches] == ["success" if outcome == "successful" else "failure"]
    if outcome == "successful":
        result = resolve_path(action.mappings.get(field="result").path, final)
        assert result["message"] == "Job 'demo' finished."


@pytest.mark.usefixtures("q_sync")
def test_the_demo_chain_passes_the_job_report_from_step_to_step(transactional_db, live_server, settings):
    import hashlib

    from runs.models import Status
    from runs.services import start_run
    from tests.engine_helpers import drive
    from tests.test_manifest_import import chain_of

    settings.INTEGRATIONS_PUBLIC_URL = live_server.url
    load_demo()

    runs = chain_of(drive(start_run(demo_action("chain-run-job"), {"job_name": "demo", "seconds": "0"})))

    assert [run.status for run in runs] == [Status.SUCCEEDED] * 3, [run.reason for run in runs]
    kept = runs[1].files.get(name="report.png").file.read()
    assert runs[2].fields["report_sha256"] == hashlib.sha256(kept).hexdigest()
    assert runs[2].fields["report_size"] == len(kept)
