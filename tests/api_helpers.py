"""Helpers for API tests: clients that authenticate with a user's token, and a job action to run."""

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.engine_helpers import make_action
from tests.servers import reply

STOP = [("status", "equals", "done", "success", "job_status"), ("status", "equals", "failed", "failure")]


def token_client(user=None):
    """An API client that sends ``user``'s token (none: no credentials at all)."""
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def job_action(server, final="done", **fields):
    """A job action on ``server``: POST /jobs starts job j-1, polls of /jobs/j-1 answer ``final``.

    It takes the variables ``env`` (staging or production, default staging) and ``note``.
    """
    server.script("/jobs", reply(201, json={"id": "j-1", "status": "queued"}))
    server.script("/jobs/j-1", reply(json={"id": "j-1", "status": final}))
    fields.setdefault("body_type", "json")
    fields.setdefault("body", '{"env": "{{ env }}", "note": "{{ note }}"}')
    return make_action(
        server.base_url, polling_mode="poll", poll_url="/jobs/{{ job_id }}", mappings=[("job_id", "id")],
        stop=STOP, inputs=[{"name": "env", "choices": "staging,production", "default": "staging"}, "note"],
        **fields,
    )
