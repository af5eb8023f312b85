"""The OpenAPI schema at /api/schema/ documents the runs API and the callback endpoint, warning-free."""

import pytest
import yaml
from django.core.management import call_command

from runs.api import RUN_DETAIL_EXAMPLE, RUN_EXAMPLE


@pytest.fixture
def schema(client, db):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def test_the_schema_generates_without_warnings_and_validates(tmp_path):
    # Raises SchemaGenerationError on any warning, SchemaValidationError on an invalid document.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    assert "/api/runs/{id}/refire/" in yaml.safe_load((tmp_path / "schema.yaml").read_text())["paths"]


def test_the_callback_endpoint_is_documented_without_credentials(schema):
    callback = schema["paths"]["/api/callbacks/{token}/"]["post"]

    # No security requirement on the operation, and none at the top for it to inherit.
    assert "security" not in callback and "security" not in schema
    assert set(callback["responses"]) == {"202", "404", "405", "409", "411", "413", "429", "500"}
    assert set(callback["requestBody"]["content"]) == {"application/json", "application/xml", "text/plain"}


# Every operation may answer 405 (another method), 406 (an Accept it cannot answer), 429 (throttled) and 500.
ANY = {"405", "406", "429", "500"}
# A body or a filter read: 400, and 415 for a body that is not JSON.
BODY = {"400", "415"}
# An operation that takes an Idempotency-Key: 400 for a key too long, 422 for a key reused.
KEYED = {"400", "422"}


@pytest.mark.parametrize("path, method, codes", [
    ("/api/actions/{action_id}/runs/", "post", {"201", "401", "403", "404", "409", "422"} | BODY),
    ("/api/runs/", "get", {"200", "400", "401", "403", "404"}),
    ("/api/runs/{id}/", "get", {"200", "304", "400", "401", "403", "404"}),
    ("/api/runs/{id}/exchanges/", "get", {"200", "400", "401", "403", "404"}),
    ("/api/runs/{id}/refire/", "post", {"201", "401", "403", "404", "409"} | BODY | KEYED),
    ("/api/runs/{id}/cancel/", "post", {"200", "401", "403", "404", "409"} | KEYED),
    ("/api/runs/{id}/start/", "post", {"200", "401", "403", "404", "409"} | KEYED),
    ("/api/runs/{id}/confirm/", "post", {"200", "401", "403", "404", "409"} | KEYED),
    ("/api/runs/{id}/reject/", "post", {"200", "401", "403", "404", "409"} | BODY | KEYED),
])
def test_every_runs_operation_documents_its_error_responses(schema, path, method, codes):
    operation = schema["paths"][path][method]

    assert set(operation["responses"]) == codes | ANY
    for code in (codes | ANY) - {"200", "201", "304"}:
        assert operation["responses"][code]["description"]
        [content] = operation["responses"][code]["content"].values()
        assert content["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}


def test_the_run_document_has_its_example(schema):
    content = schema["paths"]["/api/runs/{id}/"]["get"]["responses"]["200"]["content"]["application/json"]

    assert content["examples"]["ARunInAChain"]["value"] == RUN_DETAIL_EXAMPLE
    assert set(RUN_DETAIL_EXAMPLE) == set(schema["components"]["schemas"]["RunDetail"]["properties"])
    assert set(RUN_EXAMPLE) == set(schema["components"]["schemas"]["Run"]["properties"])


def test_the_run_statuses_and_chain_statuses_are_enumerated(schema):
    components = schema["components"]["schemas"]
    statuses = {choice for option in components["Run"]["properties"]["status"].get("allOf", [{}])
                for choice in components.get(option.get("$ref", "#/x/y/none").split("/")[-1], {}).get("enum", [])}

    assert {"waiting_start", "waiting_confirmation"} <= statuses
    chain_status = components["RunDetail"]["properties"]["chain_status"]
    [ref] = [option["$ref"] for option in chain_status.get("allOf", [chain_status]) if "$ref" in option]
    assert components[ref.split("/")[-1]]["enum"] == ["running", "waiting", "failed", "succeeded"]


def test_the_idempotency_key_header_is_documented(schema):
    parameters = schema["paths"]["/api/actions/{action_id}/runs/"]["post"]["parameters"]

    header = next(parameter for parameter in parameters if parameter["name"] == "Idempotency-Key")
    assert header["in"] == "header"
    assert not header.get("required", False)
    assert "422" in header["description"]


def test_request_bodies_say_that_unknown_fields_are_refused(schema):
    components = schema["components"]["schemas"]
    requests = [name for name in components if name.endswith("Request") and "properties" in components[name]]

    assert {"StartRunRequest", "IntegrationRequest", "ActionRequest", "StopConditionRequest"} <= set(requests)
    assert [name for name in requests if components[name].get("additionalProperties") is not False] == []
