"""The OpenAPI schema of the definitions' API: valid without a warning, with examples that work and every error."""

import copy
import json
import re

import pytest
import yaml
from django.core.management import call_command

from integrations.models import Action, Integration
from integrations.serializers import ACTION_EXAMPLE, INTEGRATION_EXAMPLE
from tests.definitions_api import post_json


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    """The schema as `manage.py spectacular --validate --fail-on-warn` writes it (the command fails on a warning)."""
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


DEFINITIONS = re.compile(r"^/api/(integrations/|actions/$|actions/\{id\}/$)")


def operations(schema):
    """The definitions' operations (runs, e.g. /api/actions/{id}/runs/, are documented by their own tests)."""
    for path, item in schema["paths"].items():
        if DEFINITIONS.match(path):
            for method, operation in item.items():
                yield method, path, operation


def test_every_operation_documents_its_errors(schema):
    found = list(operations(schema))

    assert len(found) == 16
    for method, path, operation in found:
        codes = set(operation["responses"])
        assert {"401", "403"} <= codes, (method, path)
        # Every operation may be a 404 (?format= that names no renderer); those with an {id} say what is missing.
        assert "404" in codes, (method, path)
        if method in ("put", "patch") or (method == "post" and "requestBody" in operation):
            assert "400" in codes, (method, path)
    assert "409" in schema["paths"]["/api/actions/{id}/"]["delete"]["responses"]
    assert "delete" not in schema["paths"]["/api/integrations/{id}/"]


def test_field_errors_are_described_with_an_example_of_a_nested_row(schema):
    response = schema["paths"]["/api/actions/"]["post"]["responses"]["400"]["content"]["application/json"]

    assert response["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
    example = response["examples"]["ValidationError"]["value"]
    assert example["type"] == "validation_error"
    assert "stop_conditions.1.value" in [error["attr"] for error in example["errors"]]


def test_write_only_values_are_only_in_requests_and_set_flags_only_in_responses(schema):
    components = schema["components"]["schemas"]

    for name, write_only, read_only in [
        ("Integration", ["auth_secret", "secrets"], ["auth_secret_set", "secrets_set"]),
        ("Action", ["client_certificate"], ["client_certificate_set"]),
    ]:
        response, request = components[name]["properties"], components[f"{name}Request"]["properties"]
        assert not set(write_only) & set(response) and set(read_only) <= set(response)
        assert set(write_only) <= set(request) and not set(read_only) & set(request)


def test_the_action_and_integration_documents_have_request_and_response_examples(schema):
    for path, example in [("/api/actions/", ACTION_EXAMPLE), ("/api/integrations/", INTEGRATION_EXAMPLE)]:
        create = schema["paths"][path]["post"]
        [request_example] = create["requestBody"]["content"]["application/json"]["examples"].values()
        [response_example] = create["responses"]["201"]["content"]["application/json"]["examples"].values()
        assert request_example["value"] == example
        assert "id" in response_example["value"] and "created_at" in response_example["value"]


def test_the_documented_examples_are_accepted_as_they_are(admin_api, db):
    integration = post_json(admin_api, "/api/integrations/", INTEGRATION_EXAMPLE)
    assert integration.status_code == 201, integration.json()
    action = copy.deepcopy(ACTION_EXAMPLE)
    action["integration"] = integration.json()["id"]

    created = post_json(admin_api, "/api/actions/", action)

    assert created.status_code == 201, created.json()
    assert Action.objects.get().poll_interval == 10
    assert Integration.objects.get().secrets.get().name == "TOKEN"


def test_the_documented_answers_are_what_the_api_answers(admin_api, schema, integration):
    for path, example, fill in [
        ("/api/integrations/", {**INTEGRATION_EXAMPLE, "slug": "example"}, {}),
        ("/api/actions/", ACTION_EXAMPLE, {"integration": integration.pk}),
    ]:
        create = schema["paths"][path]["post"]
        [documented] = create["responses"]["201"]["content"]["application/json"]["examples"].values()

        answered = post_json(admin_api, path, {**example, **fill}).json()

        varying = {"id", "created_at", "updated_at", "slug", *fill}
        assert {key: value for key, value in answered.items() if key not in varying} == {
            key: value for key, value in documented["value"].items() if key not in varying
        }


def test_the_schema_is_served_at_api_schema(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert "/api/integrations/{id}/export/" in json.loads(response.content)["paths"]
