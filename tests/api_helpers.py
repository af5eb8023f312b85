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


# --- the API's one error shape (README, "API conventions") ---


def faults(response):
    """The errors of an error answer, after checking it has the shape every error of the API has."""
    body = response.json()
    assert set(body) == {"type", "errors"}, body
    assert body["type"] in ("validation_error", "client_error", "server_error"), body
    assert body["errors"], body
    for error in body["errors"]:
        assert set(error) == {"code", "detail", "attr"}, error
        assert error["code"] and isinstance(error["code"], str), error
        assert error["detail"] and isinstance(error["detail"], str), error
    return body["errors"]


def codes(response):
    """{attr: [code, ...]} of an error answer (attr None for a fault that is not one field's)."""
    found = {}
    for error in faults(response):
        found.setdefault(error["attr"], []).append(error["code"])
    return found


def detail(response, attr=None):
    """The words of an error answer's faults at ``attr`` (None: the fault of the whole), joined by newlines."""
    return "\n".join(error["detail"] for error in faults(response) if error["attr"] == attr)


def details(response):
    """{attr: [detail, ...]} of an error answer."""
    found = {}
    for error in faults(response):
        found.setdefault(error["attr"], []).append(error["detail"])
    return found
