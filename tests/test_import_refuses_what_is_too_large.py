"""An import larger than one import may be (INTEGRATIONS_IMPORT_MAX_BYTES as JSON, INTEGRATIONS_IMPORT_MAX_ACTIONS
actions, INTEGRATIONS_IMPORT_MAX_ROWS rows) is refused, naming the limit, by every way in: the function, the API,
the commands and the admin; nothing is written. The limits are made small here; tests/test_import_keeps_the_engine_running.py imports a document at
the default limits.
"""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from integrations.manifests import ManifestRefused, import_manifest
from integrations.models import Action, Integration
from integrations.transfer import ImportRefused, import_integration
from tests.api_helpers import codes, detail, details, token_client

pytestmark = pytest.mark.django_db

MAX_ACTIONS = 5
MAX_BYTES = 4000
MAX_ROWS = 12


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.INTEGRATIONS_IMPORT_MAX_ACTIONS = MAX_ACTIONS
    settings.INTEGRATIONS_IMPORT_MAX_BYTES = MAX_BYTES
    settings.INTEGRATIONS_IMPORT_MAX_ROWS = MAX_ROWS


def document(actions, note="", inputs=0):
    return {
        "name": "Big", "slug": "big", "description": note,
        "actions": [{"name": f"Step {number}", "slug": f"step-{number}", "url": "https://x.test/steps",
                     "method": "POST", "inputs": [{"name": f"v{index}"} for index in range(inputs)]}
                    for number in range(1, actions + 1)],
    }


def manifest(requests, note="", variables=0):
    data = {"note": note, **{f"v{index}": f"{{{{ v{index} }}}}" for index in range(variables)}}
    return {"execute": [{"url": f"https://x.test/{number}", "method": "POST", "data": data}
                        for number in range(1, requests + 1)]}


def test_a_document_within_the_limits_is_imported():
    integration, created = import_integration(document(MAX_ACTIONS, note="x" * (MAX_BYTES - 2000), inputs=2))

    assert created
    assert integration.actions.count() == MAX_ACTIONS


def test_a_document_with_too_many_actions_is_refused_naming_the_limit():
    with pytest.raises(ImportRefused) as refused:
        import_integration(document(MAX_ACTIONS + 1))

    assert refused.value.errors == {"actions": [
        "The document has 6 actions; one import makes at most 5 (INTEGRATIONS_IMPORT_MAX_ACTIONS)."]}
    assert not Integration.objects.exists()


def test_a_document_with_too_many_rows_is_refused_naming_the_limit():
    with pytest.raises(ImportRefused) as refused:
        import_integration(document(2, inputs=7))

    assert refused.value.errors == {"actions": [
        "The document has 14 rows (its actions' inputs, stop_conditions, continue_if and mappings); one import "
        "makes at most 12 (INTEGRATIONS_IMPORT_MAX_ROWS)."]}
    assert not Integration.objects.exists()


def test_a_document_too_large_as_json_is_refused_naming_the_limit():
    big = document(1, note="x" * MAX_BYTES)
    size = len(json.dumps(big, separators=(",", ":")))

    with pytest.raises(ImportRefused) as refused:
        import_integration(big)

    assert refused.value.errors == {"non_field_errors": [
        f"The document is {size:,} bytes; one import takes at most 4,000 (INTEGRATIONS_IMPORT_MAX_BYTES)."]}
    assert not Integration.objects.exists()


def test_a_manifest_with_too_many_requests_or_bytes_is_refused_before_it_is_converted():
    with pytest.raises(ManifestRefused) as too_many:
        import_manifest(manifest(MAX_ACTIONS + 1), name="Big")
    with pytest.raises(ManifestRefused) as too_large:
        import_manifest(manifest(1, note="x" * MAX_BYTES), name="Big")

    assert too_many.value.faults == [
        "The manifest has 6 requests (execute and revoke), each an action; one import makes at most 5 actions "
        "(INTEGRATIONS_IMPORT_MAX_ACTIONS)."]
    assert too_large.value.faults[0].startswith("The manifest is 4,0")
    assert too_large.value.faults[0].endswith("bytes; one import takes at most 4,000 (INTEGRATIONS_IMPORT_MAX_BYTES).")
    assert not Integration.objects.exists()


def test_a_manifest_whose_steps_declare_too_many_variables_is_refused_once_converted():
    with pytest.raises(ManifestRefused) as refused:
        import_manifest(manifest(3, variables=5), name="Big")  # each of 3 steps declares the chain's 5 variables

    assert refused.value.faults == [
        "Converted into an integration, the manifest has 15 rows (its actions' inputs, stop_conditions, "
        "continue_if and mappings); one import makes at most 12 (INTEGRATIONS_IMPORT_MAX_ROWS)."]
    assert not Integration.objects.exists()


def test_the_api_refuses_a_large_body_before_reading_it_and_too_many_actions_after(admin_user):
    api = token_client(admin_user)
    body = json.dumps(document(1, note="x" * MAX_BYTES))

    large = api.post("/api/integrations/import/", body, content_type="application/json")
    many = api.post("/api/integrations/import/", document(MAX_ACTIONS + 1), format="json")
    steps = api.post("/api/integrations/import-manifest/", {"name": "Big", "manifest": manifest(MAX_ACTIONS + 1)},
                     format="json")

    assert large.status_code == 413
    assert detail(large) == (f"The request body is {len(body):,} bytes; one import takes at most 4,000 "
                             "(INTEGRATIONS_IMPORT_MAX_BYTES).")
    assert codes(large) == {None: ["too_large"]}
    assert many.status_code == 400
    assert "INTEGRATIONS_IMPORT_MAX_ACTIONS" in details(many)["actions"][0]
    assert steps.status_code == 400
    assert "INTEGRATIONS_IMPORT_MAX_ACTIONS" in details(steps)["manifest"][0]
    assert not Integration.objects.exists()


def test_the_commands_refuse_a_large_file_unread(tmp_path):
    path = tmp_path / "big.json"
    path.write_text(json.dumps(document(1, note="x" * MAX_BYTES)))

    for command in ("import_integration", "import_manifest"):
        with pytest.raises(CommandError) as refused:
            call_command(command, str(path))
        assert str(refused.value) == (f"{path} is {path.stat().st_size:,} bytes; one import takes at most 4,000 "
                                      "(INTEGRATIONS_IMPORT_MAX_BYTES).")
    assert not Action.objects.exists()


def test_the_admin_refuses_a_large_manifest_pasted_or_uploaded(client, admin_user):
    client.force_login(admin_user)
    url = reverse("admin:integrations_integration_import_manifest")
    text = json.dumps(manifest(1, note="x" * MAX_BYTES))

    pasted = client.post(url, {"name": "Big", "manifest": text})
    uploaded = client.post(url, {"name": "Big", "manifest_file": SimpleUploadedFile("m.json", text.encode())})

    message = f"The manifest is {len(text):,} bytes; one import takes at most 4,000 (INTEGRATIONS_IMPORT_MAX_BYTES)."
    assert pasted.context["form"].errors["manifest"] == [message]
    assert uploaded.context["form"].errors["manifest_file"] == [message]
    assert not Integration.objects.exists()
