"""Schemathesis over every operation of /api/schema/: no server error, no answer the schema does not describe.

The schema is loaded from the app when the tests are collected, so every
operation it has is fuzzed, those added later too. Requests go to the WSGI
app in-process, as an Integrations Admin with a token. The database holds
three integrations with an action each (one without inputs, so that random
variables start runs; one with inputs; one that waits for callbacks) and a
run of each (failed with exchanges, pending, pending for a callback); half
the generated path parameters are replaced by their ids 1 to 3 and the runs'
callback tokens, so that the answers of existing rows are checked too.
"""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis.checks import CHECKS as REGISTERED_CHECKS
from schemathesis.checks import load_all_checks, not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from integrations_site.wsgi import application
from runs.models import Run, Status
from runs.services import start_run
from tests.api_helpers import job_action
from tests.engine_helpers import drive, make_action

# schemathesis.pytest.from_fixture would load the schema per test, but it sets a node attribute
# that pytest 9 no longer has; the schema needs no database, so it is loaded at collection.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


def operation_ids(raw, header):
    """The operationIds of the operations that take ``header``."""
    return sorted(operation["operationId"] for path in raw["paths"].values() for operation in path.values()
                  if any(parameter.get("in") == "header" and parameter["name"] == header
                         for parameter in operation.get("parameters", [])))


# What a request valid by its schema may still be answered, beside schemathesis' defaults for
# positive_data_acceptance (2xx, 3xx, 401, 403, 404, 409, 429, 5xx), and what a schema-violating one may be
# answered beside its defaults for negative_data_rejection: schemathesis' documented per-operation check
# config (expected-statuses). Every other rule of the API is in its schema (enums, minimums, patterns,
# minItems, minLength of query values...), so any other 4xx to a valid request, or 2xx to an invalid one, fails.
POSITIVE = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
NEGATIVE = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429", "5xx"]
EXPECTED = [
    # If-Match names an ETag; a generated one is never the row's current ETag, so the answer is the documented
    # 412 (nothing saved), a refusal about the row's state as 409 is. RFC 9110 13.2.1: preconditions are
    # evaluated before the request content is processed, so a stale If-Match is a 412 whatever the body.
    (lambda raw: operation_ids(raw, "If-Match"), ["412"], ["412"]),
    # Idempotency-Key: generated keys repeat across cases with other bodies; a key used before for another
    # request is the documented 422 idempotency_key_reused (README, "API conventions"), about state too.
    (lambda raw: operation_ids(raw, "Idempotency-Key"), ["422"], []),
    # Definitions: rules between fields and beyond the body, which OpenAPI 3.0's JSON Schema cannot say,
    # each a 400 naming the field: a relative URL needs the integration's base URL, Basic authentication its
    # secret, a {{ placeholder }} an input, field or secret of that name, an id in the body a row that exists,
    # a header's name no NUL, a manifest's requests what an action can express; and Django's URL check (a
    # host, a port in range) is stricter than `format: uri`. A schedule's action must exist, its cron
    # expression be one croniter reads, its time zone one zoneinfo knows and its variables fit its action.
    (lambda raw: ["createIntegration", "replaceIntegration", "updateIntegration", "importIntegration",
                  "importManifest", "createAction", "replaceAction", "updateAction",
                  "createWebhook", "replaceWebhook", "updateWebhook",
                  "createSchedule", "replaceSchedule", "updateSchedule"], ["400"], []),
]


def operation_ids(raw, header):
    """The operationIds of the operations that take ``header``."""
    return sorted(operation["operationId"] for path in raw["paths"].values() for operation in path.values()
                  if any(parameter.get("in") == "header" and parameter["name"] == header
                         for parameter in operation.get("parameters", [])))


def expected_statuses(raw):
    """EXPECTED as schemathesis' config: one [[operations]] per operation (its rules merged)."""
    extra = {}
    for select, positive, negative in EXPECTED:
        for name in select(raw):
            more = extra.setdefault(name, (set(), set()))
            more[0].update(positive)
            more[1].update(negative)
    return "\n".join(
        f"[[operations]]\ninclude-operation-id = {json.dumps(name)}\n"
        f"checks.positive_data_acceptance.expected-statuses = {json.dumps(POSITIVE + sorted(positive))}\n"
        f"checks.negative_data_rejection.expected-statuses = {json.dumps(NEGATIVE + sorted(negative))}\n"
        for name, (positive, negative) in sorted(extra.items()))


# --checks all: every check schemathesis has, with valid (positive) and invalid (negative) requests.
every = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application,
                                       config=SchemathesisConfig.from_str(expected_statuses(schema.raw_schema)))
every.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
load_all_checks()
ALL_CHECKS = REGISTERED_CHECKS.get_all()
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
IDS = [1, 2, 3]
callback_tokens = []
given_cursors = {}


@every.hook
@schema.hook
def flatmap_path_parameters(context, path_parameters):
    if not path_parameters:
        return st.just(path_parameters)
    existing = [{**path_parameters, name: item}
                for name in path_parameters for item in (callback_tokens if name == "token" else IDS)]
    return st.one_of(st.just(path_parameters), st.sampled_from(existing))


@pytest.fixture
def token(admin_user, server, q_sync):
    make_action(server.base_url, slug="no-inputs")
    action = job_action(server, final="failed")
    runs = [drive(start_run(action, {"note": "fuzz"})), start_run(action, {"note": "fuzz"}),
            start_run(make_action(server.base_url, slug="callback", polling_mode="callback"))]
    assert [(run.pk, run.action_id, run.status) for run in runs] == [
        (1, 2, Status.FAILED), (2, 2, Status.PENDING), (3, 3, Status.PENDING)
    ]
    callback_tokens[:] = Run.objects.order_by("id").values_list("callback_token", flat=True)
    key = Token.objects.create(user=admin_user).key
    # A cursor is a value the API gives (in `next`), as an id is a row's: a cursor it did not give is a 400
    # (invalid_cursor), which JSON Schema cannot tell from a given one. One of each ordering: runs, newest
    # first, and the others, by id (the position is all a cursor holds).
    client = APIClient(HTTP_AUTHORIZATION=f"Token {key}")
    for kind, url in (("runs", "/api/runs/?page_size=1"), ("in_order", "/api/integrations/?page_size=1")):
        given_cursors[kind] = parse_qs(urlsplit(client.get(url).json()["next"]).query)["cursor"][0]
    return key


@pytest.fixture(autouse=True)
def short_waits(settings):
    """GET /api/runs/{id}/?wait= would hold a generated request up to a minute."""
    settings.INTEGRATIONS_API_MAX_WAIT = 0.01


@pytest.fixture(autouse=True)
def no_address_limit(settings):
    """ignored_auth sends each case again without credentials and with wrong ones: hundreds a minute from one
    address, past the rate at which an address's wrong tokens make it wait (429, test_api_throttling)."""
    settings.INTEGRATIONS_API_THROTTLE_ANON = None


@pytest.mark.django_db(transaction=True, reset_sequences=True)
@schema.parametrize()
@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_api_answers_every_generated_request_as_its_schema_says(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)


@pytest.mark.django_db(transaction=True, reset_sequences=True)
@every.parametrize()
# derandomize: the same cases on every run and both databases, so that a red CI is a change, not a draw.
@settings(max_examples=10, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_check_of_schemathesis_holds_on_every_operation(case, token):
    if case.meta.generation.mode.is_positive and "cursor" in (case.query or {}):
        case.query["cursor"] = given_cursors["runs" if case.operation.path == "/api/runs/" else "in_order"]
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=ALL_CHECKS)
