"""Who may do what with definitions through the API: the admin groups decide, as in the admin.

No credentials (or bad ones): 401 with WWW-Authenticate: Token. Integrations
Viewers read; only Integrations Admins create, change, archive, import and
delete actions; anyone else signed in gets 403.
"""

import json

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from integrations.models import Action, Integration
from tests.definitions_api import action_document, token_client
from tests.api_helpers import detail

READS = [
    ("get", "/api/integrations/", None),
    ("get", "/api/integrations/{integration}/", None),
    ("get", "/api/integrations/{integration}/export/", None),
    ("get", "/api/actions/", None),
    ("get", "/api/actions/{action}/", None),
]
WRITES = [
    ("post", "/api/integrations/", lambda integration: {"name": "New"}),
    ("patch", "/api/integrations/{integration}/", lambda integration: {"description": "changed"}),
    ("put", "/api/integrations/{integration}/", lambda integration: {"name": "Acme", "slug": "acme"}),
    ("post", "/api/integrations/{integration}/archive/", None),
    ("post", "/api/integrations/{integration}/unarchive/", None),
    ("post", "/api/integrations/import/", lambda integration: {"name": "Imported", "actions": []}),
    ("post", "/api/actions/", lambda integration: action_document(integration, slug="another")),
    ("patch", "/api/actions/{action}/", lambda integration: {"description": "changed"}),
    ("put", "/api/actions/{action}/", lambda integration: action_document(integration)),
    ("delete", "/api/actions/{action}/", None),
]


def call(client, method, url, integration, action, body=None):
    url = url.format(integration=integration.pk, action=action.pk)
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, json.dumps(body(integration)), content_type="application/json")


def ids(cases):
    return [f"{case[0]} {case[1]}" for case in cases]


@pytest.mark.parametrize("method, url, body", READS + WRITES, ids=ids(READS + WRITES))
def test_without_credentials_it_is_401_and_says_how_to_authenticate(integration, action, method, url, body):
    response = call(APIClient(), method, url, integration, action, body)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert detail(response) == "Authentication credentials were not provided."


def test_a_bad_token_is_401(integration):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = client.get("/api/integrations/")

    assert response.status_code == 401
    assert detail(response) == "Invalid token."


@pytest.mark.parametrize("method, url, body", READS, ids=ids(READS))
def test_viewers_read(viewer_user, integration, action, method, url, body):
    assert call(token_client(viewer_user), method, url, integration, action).status_code == 200


@pytest.mark.parametrize("method, url, body", WRITES, ids=ids(WRITES))
def test_viewers_change_nothing(viewer_user, integration, action, method, url, body):
    before = (list(Integration.objects.values()), list(Action.objects.values()))

    response = call(token_client(viewer_user), method, url, integration, action, body)

    assert response.status_code == 403
    assert detail(response) == "You do not have permission to perform this action."
    assert (list(Integration.objects.values()), list(Action.objects.values())) == before


@pytest.mark.parametrize("method, url, body", WRITES, ids=ids(WRITES))
def test_integrations_admins_may_do_all_of_it(admin_user, integration, action, method, url, body):
    response = call(token_client(admin_user), method, url, integration, action, body)

    assert response.status_code in (200, 201, 204), response.content


@pytest.mark.parametrize("method, url, body", READS + WRITES, ids=ids(READS + WRITES))
def test_staff_in_neither_group_may_not_even_read(integration, action, method, url, body):
    outsider = User.objects.create_user("carol", password="carol-password-123", is_staff=True)

    response = call(token_client(outsider), method, url, integration, action, body)

    assert response.status_code == 403


def test_session_authentication_serves_the_browsable_api(client, viewer_user, integration):
    client.force_login(viewer_user)

    response = client.get("/api/integrations/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert "Acme" in response.content.decode()


def test_a_session_write_needs_the_csrf_token_a_token_write_does_not(admin_user, integration):
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(admin_user)
    token = token_client(admin_user)
    token.handler.enforce_csrf_checks = True

    refused = session.patch(f"/api/integrations/{integration.pk}/", {"description": "x"}, format="json")
    accepted = token.patch(f"/api/integrations/{integration.pk}/", {"description": "y"}, format="json")

    assert refused.status_code == 403
    assert "CSRF" in detail(refused)
    assert accepted.status_code == 200
    assert Integration.objects.get().description == "y"
