"""Definitions, imports and runs take JSON only, and refuse fields they do not have, naming them."""

import json

import pytest

from integrations.models import Action, Integration, Secret
from runs.models import Run
from tests.api_helpers import codes, detail, job_action, token_client

pytestmark = pytest.mark.usefixtures("q_sync")


@pytest.fixture
def api(admin_user):
    return token_client(admin_user)


@pytest.fixture
def action(db, server):
    return job_action(server)


@pytest.mark.parametrize("kind", ["multipart", "form"])
def test_an_integration_with_secrets_in_a_form_is_refused_not_saved_without_them(api, db, kind):
    body = {"name": "Acme", "base_url": "https://acme.test", "secrets[TOKEN]": "s3cret", "secrets": "TOKEN=s3cret"}
    if kind == "form":
        from urllib.parse import urlencode

        response = api.post("/api/integrations/", urlencode(body), content_type="application/x-www-form-urlencoded")
    else:
        response = api.post("/api/integrations/", body, format="multipart")

    assert response.status_code == 415
    assert codes(response) == {None: ["unsupported_media_type"]}
    assert not Integration.objects.exists() and not Secret.objects.exists()


@pytest.mark.parametrize("url", ["/api/actions/", "/api/integrations/import/", "/api/integrations/import-manifest/",
                                 "/api/actions/{action}/runs/", "/api/runs/{run}/refire/", "/api/runs/{run}/reject/"])
def test_every_body_reading_endpoint_refuses_a_form(api, action, url):
    run = Run.objects.create(action=action, integration=action.integration, status="failed")
    before = (Integration.objects.count(), Action.objects.count(), Run.objects.count())

    response = api.post(url.format(action=action.pk, run=run.pk), {"name": "x"}, format="multipart")

    assert response.status_code == 415, response.content
    assert codes(response) == {None: ["unsupported_media_type"]}
    assert (Integration.objects.count(), Action.objects.count(), Run.objects.count()) == before


def test_a_misspelt_field_of_a_run_is_refused_naming_it(api, action):
    response = api.post(f"/api/actions/{action.pk}/runs/", {"variablez": {"env": "production"}}, format="json")

    assert response.status_code == 400
    assert codes(response) == {"variablez": ["unknown_field"]}
    assert "variables" in detail(response, "variablez")
    assert not Run.objects.exists()


def test_unknown_fields_are_named_in_rows_and_beside_other_faults(api, action):
    response = api.patch(f"/api/actions/{action.pk}/", {
        "nmae": "x", "timeout": "soon", "stop_conditions": [{"path": "a", "value": "b", "outcom": "success"}],
    }, format="json")

    assert response.status_code == 400
    assert codes(response) == {"nmae": ["unknown_field"], "timeout": ["unknown_field"],
                               "stop_conditions.0.outcom": ["unknown_field"]}
    assert Action.objects.get().name == action.name


def test_what_was_read_can_be_sent_back(api, action):
    document = api.get(f"/api/actions/{action.pk}/").json()

    response = api.put(f"/api/actions/{action.pk}/", json.dumps(document), content_type="application/json")

    assert response.status_code == 200, response.content


def test_an_import_refuses_an_unknown_field_of_an_action(api, action):
    document = api.get(f"/api/integrations/{action.integration_id}/export/").json()
    document["slug"] = document["name"] = "copy"
    document["actions"][0]["urll"] = "/x"

    response = api.post("/api/integrations/import/", json.dumps(document), content_type="application/json")

    assert response.status_code == 400
    assert [attr for attr, found in codes(response).items() if "unknown_field" in found] == [
        f"actions.{document['actions'][0]['slug']}.urll"
    ]


def test_the_schema_declares_json_bodies_only(client):
    schema = json.loads(client.get("/api/schema/?format=json").content)

    # The callback endpoint takes what services post (JSON, XML, text); every other body is JSON.
    kinds = {kind for path, operations in schema["paths"].items() if not path.startswith("/api/callbacks/")
             for operation in operations.values() for kind in operation.get("requestBody", {}).get("content", {})}
    assert kinds == {"application/json"}
