"""A run's callback URL decides the run, so only those who may change runs see it: in the API, on the run's
page, in its log and Debug view.

The reported attack: a member of "Integrations Viewer" read ``callback_url``
from the API, posted the callback, and the run succeeded. Here a run waits for
its callback after a request that carried the URL in its body (a placeholder,
and "include context"), to a service that echoed it back, from which a mapping
stored it in a field. Viewers find the token nowhere and ``***`` where it was;
Integrations Admins, and anyone given runs.change_run, see it as it was sent.
"""

import json

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from runs.models import ExchangeKind, Status
from runs.services import start_run
from tests.api_helpers import token_client
from tests.engine_helpers import make_action, step
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

MASKED_URL = "/api/callbacks/***/"


@pytest.fixture
def waiting_run(db, server):
    # The service echoes what it was sent: its answer, and the field stored from it, hold the URL too.
    server.script("/jobs", lambda request: reply(202, json={"echo": request.json()}))
    action = make_action(server.base_url, polling_mode="callback", poll_timeout=3600, include_context=True,
                         body_type="json", body='{"notify": "{{ run.callback_url }}"}',
                         mappings=[("notify", "echo.notify")], stop=[("state", "equals", "finished", "success")])
    run = step(start_run(action))
    assert run.status == Status.WAITING_CALLBACK
    assert run.callback_token in run.fields["notify"]
    assert run.callback_token in run.exchanges.get(kind=ExchangeKind.REQUEST).request_body
    return run


@pytest.fixture
def operator(db):
    """Not in any group: runs.view_run and runs.change_run given one by one."""
    user = User.objects.create_user("carol", password="carol-password-123", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="runs",
                                                         codename__in=["view_run", "change_run"]))
    return user


def api_answers(user, run):
    client = token_client(user)
    return {name: client.get(url) for name, url in [
        ("list", "/api/runs/"), ("detail", f"/api/runs/{run.pk}/"), ("exchanges", f"/api/runs/{run.pk}/exchanges/")]}


def test_a_viewer_gets_no_callback_url_from_the_api_and_finds_its_token_nowhere(viewer_user, waiting_run):
    answers = api_answers(viewer_user, waiting_run)

    assert all(answer.status_code == 200 for answer in answers.values())
    assert answers["detail"].json()["callback_url"] is None
    assert answers["list"].json()["results"][0]["callback_url"] is None
    for name, answer in answers.items():
        assert waiting_run.callback_token not in answer.content.decode(), name
    # Masked where it was, not dropped: the viewer still reads what was sent and stored.
    detail = answers["detail"].json()
    assert detail["fields"]["notify"].endswith(MASKED_URL)
    [request] = [row for row in answers["exchanges"].json()["results"] if row["kind"] == "request"]
    sent = json.loads(request["request_body"])
    assert sent["notify"].endswith(MASKED_URL) and sent["context"]["run"]["callback_url"].endswith(MASKED_URL)
    assert json.loads(request["response_body"])["echo"]["notify"].endswith(MASKED_URL)


@pytest.mark.parametrize("who", ["admin_user", "operator"])
def test_those_who_may_change_runs_get_the_callback_url_and_the_log_as_sent(request, who, waiting_run):
    answers = api_answers(request.getfixturevalue(who), waiting_run)

    assert answers["detail"].json()["callback_url"] == waiting_run.callback_url
    assert answers["list"].json()["results"][0]["callback_url"] == waiting_run.callback_url
    assert answers["detail"].json()["fields"]["notify"] == waiting_run.callback_url
    [request_row] = [row for row in answers["exchanges"].json()["results"] if row["kind"] == "request"]
    assert json.loads(request_row["request_body"])["notify"] == waiting_run.callback_url


def test_the_schema_says_callback_url_is_null_for_those_who_may_not_change_runs(admin_api):
    schema = admin_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    for name in ("Run", "RunDetail"):
        field = schema["components"]["schemas"][name]["properties"]["callback_url"]
        assert field["nullable"] is True
        assert "runs.change_run" in field["description"]


def run_pages(client, run):
    request_row = run.exchanges.get(kind=ExchangeKind.REQUEST)
    return [client.get(reverse("admin:runs_run_change", args=[run.pk])),
            client.get(reverse("admin:runs_run_exchange", args=[run.pk, request_row.pk]))]


def test_a_viewer_finds_the_token_nowhere_on_the_run_page_or_in_the_debug_view(client, viewer_user, waiting_run):
    client.force_login(viewer_user)

    run_page, debug_view = run_pages(client, waiting_run)

    for response in (run_page, debug_view):
        assert response.status_code == 200
        assert waiting_run.callback_token not in response.content.decode()
    assert "Callback URL" not in run_page.content.decode()
    assert MASKED_URL in run_page.context["fields_json"]
    assert MASKED_URL in debug_view.context["debug"]["curl"]  # Copy as cURL gives the masked body too
    assert MASKED_URL in debug_view.context["debug"]["response"].body.text


def test_an_integrations_admin_sees_the_callback_url_on_the_run_page_and_in_the_debug_view(
        client, admin_user, waiting_run):
    client.force_login(admin_user)

    run_page, debug_view = run_pages(client, waiting_run)

    assert f"<code>{waiting_run.callback_url}</code>" in run_page.content.decode()
    assert waiting_run.callback_url in debug_view.context["debug"]["curl"]


def test_what_a_viewer_was_shown_is_not_written_back_to_the_run(client, viewer_user, waiting_run):
    client.force_login(viewer_user)
    run_pages(client, waiting_run)
    api_answers(viewer_user, waiting_run)

    waiting_run.refresh_from_db()
    assert waiting_run.callback_token in waiting_run.fields["notify"]
    assert waiting_run.callback_token in waiting_run.exchanges.get(kind=ExchangeKind.REQUEST).request_body
