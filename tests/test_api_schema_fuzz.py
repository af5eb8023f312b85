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

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
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

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
IDS = [1, 2, 3]
callback_tokens = []


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
    return Token.objects.create(user=admin_user).key


@pytest.fixture(autouse=True)
def short_waits(settings):
    """GET /api/runs/{id}/?wait= would hold a generated request up to a minute."""
    settings.INTEGRATIONS_API_MAX_WAIT = 0.01


@pytest.mark.django_db(transaction=True, reset_sequences=True)
@schema.parametrize()
@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_api_answers_every_generated_request_as_its_schema_says(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
