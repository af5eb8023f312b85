"""Schemathesis against the definitions' part of /api/schema/.

Valid input (as the schema describes it) gets an answer the schema
documents, in status, content type and body; any input, valid or not, gets
no server error.
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from integrations_site.wsgi import application
from tests.definitions_api import token_client

# The definitions' operations; runs (e.g. /api/actions/{id}/runs/) are tested by their own file.
DEFINITIONS = r"^/api/(integrations/|actions/$|actions/\{id\}/$)"


def definitions_schema(mode, phases):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    schema.config.generation.update(modes=[mode])
    schema.config.phases.update(phases=phases)
    return schema.include(path_regex=DEFINITIONS)


valid_input = definitions_schema(GenerationMode.POSITIVE, ["examples", "fuzzing"])
# The coverage phase sends every boundary and wrong type the schema implies: thorough, and most of this file's time.
any_input = definitions_schema(GenerationMode.NEGATIVE, ["examples", "coverage", "fuzzing"])
EXAMPLES = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture
def token(admin_user, integration, action):
    """An Integrations Admin's Authorization header; an integration and an action exist for ids to find."""
    return token_client(admin_user)._credentials["HTTP_AUTHORIZATION"]


@pytest.fixture(autouse=True)
def one_connection():
    """Requests go straight to the WSGI application: keep the test's connection (and its transaction)
    open across them, as Django's test client does."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@valid_input.parametrize()
@EXAMPLES
def test_valid_input_gets_a_documented_answer(case, token):
    case.call_and_validate(
        headers={"Authorization": token},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance],
    )


@any_input.parametrize()
@EXAMPLES
def test_no_input_causes_a_server_error(case, token):
    case.call_and_validate(headers={"Authorization": token}, checks=[not_a_server_error])
