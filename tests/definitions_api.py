"""Helpers for tests of the definitions' API: clients that authenticate by token, and documents to send."""

import json

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def token_client(user):
    """An APIClient that sends ``user``'s token, as a script would."""
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def post_json(client, url, document, **extra):
    return client.post(url, json.dumps(document), content_type="application/json", **extra)


def action_document(integration, **fields):
    """The smallest action document the API takes for ``integration``, with ``fields`` over it."""
    return {"integration": integration.pk, "name": "Create ticket", "method": "POST", "url": "/tickets", **fields}
