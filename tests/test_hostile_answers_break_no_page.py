"""A third party's answer that nothing can store or show as it is (lone surrogates, NUL, JSON nested 100,000
deep, 1e999, XML nested as deep) never breaks a page: the run goes on with the text cleaned and says so, or
fails saying why, and its exchange is logged either way."""

import pytest
from django.urls import reverse

from runs.models import ExchangeKind, FailedPart, Status
from runs.services import start_run
from tests.engine_helpers import drive, make_action, step
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

DEEP_JSON = "[" * 100_000 + "]" * 100_000
CLEANED = "The answer held NUL characters or lone surrogates, which cannot be stored: replaced by U+FFFD in"


def pages_of(run):
    run.refresh_from_db()
    urls = ["/api/runs/", f"/api/runs/{run.pk}/", f"/api/runs/{run.pk}/exchanges/",
            reverse("admin:runs_run_changelist"), reverse("admin:runs_run_change", args=[run.pk])]
    urls += [reverse("admin:runs_run_exchange", args=[run.pk, exchange.pk]) for exchange in run.exchanges.all()]
    return urls


def assert_every_page_renders(client, admin_user, run):
    client.force_login(admin_user)
    for url in pages_of(run):
        response = client.get(url)
        assert response.status_code == 200, url


def test_lone_surrogates_and_nul_in_a_json_answer_are_replaced_and_the_run_says_so(client, admin_user, db, server):
    server.script("/jobs", reply(text='{"status": "done", "name": "a\\ud800b", "note": "x\\u0000y", '
                                      '"\\udfff": "key"}', content_type="application/json"))
    action = make_action(server.base_url, mappings=[("name", "name"), ("note", "note"), ("whole", "@body")],
                         stop=[("status", "equals", "done", "success", "status")])

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason
    assert run.fields["name"] == "a\ufffdb" and run.fields["note"] == "x\ufffdy"
    assert run.fields["whole"]["\ufffd"] == "key"
    exchange = run.exchanges.get()
    assert exchange.decision.startswith(f"{CLEANED} name, note, ['\\udfff'].")
    assert exchange.response_body.startswith('{"status": "done", "name": "a\\ud800b"')  # logged as it came
    assert_every_page_renders(client, admin_user, run)
    debug_view = client.get(reverse("admin:runs_run_exchange", args=[run.pk, exchange.pk])).content.decode()
    assert "a\\ud800b" in debug_view  # the Debug view shows the escape the service sent


def test_a_nul_in_a_header_is_replaced_when_the_header_is_stored(client, admin_user, db, server):
    server.script("/jobs", reply(json={"status": "done"}, headers={"X-Note": "x\x00y"}))
    action = make_action(server.base_url, mappings=[("note", "@headers.X-Note")])

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason
    assert run.fields == {"note": "x\ufffdy"}
    assert CLEANED + " the header X-Note." in run.exchanges.get().decision
    assert_every_page_renders(client, admin_user, run)


@pytest.mark.parametrize("body, content_type, fault", [
    (DEEP_JSON, "application/json", "The response is not valid JSON: This is nested deeper than 100 levels"),
    ('{"status": "done", "size": 1e999}', "application/json",
     "The response is not valid JSON: The number 1e999 is too large for JSON (at size)."),
    ("<a>" * 5000 + "</a>" * 5000, "application/xml", "The response XML was refused: This is nested deeper"),
])
def test_an_answer_too_deep_or_too_large_fails_its_run_saying_why_and_is_logged(client, admin_user, db, server,
                                                                                body, content_type, fault):
    server.script("/jobs", reply(text=body, content_type=content_type))
    action = make_action(server.base_url, convert_xml=content_type == "application/xml",
                         stop=[("status", "equals", "done", "success")])

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert run.reason.startswith(fault)
    exchange = run.exchanges.get()
    assert exchange.failed_part == FailedPart.RESPONSE and exchange.status_code == 200
    assert exchange.decision.startswith(fault)
    assert_every_page_renders(client, admin_user, run)


@pytest.fixture
def waiting_run(db, server):
    server.script("/jobs", reply(202, json={"accepted": True}))
    action = make_action(server.base_url, polling_mode="callback", poll_timeout=3600,
                         mappings=[("name", "name", "result")], stop=[("state", "equals", "finished", "success")])
    run = step(start_run(action))
    assert run.status == Status.WAITING_CALLBACK
    return run


@pytest.mark.parametrize("body, said", [
    (DEEP_JSON, "The response is not valid JSON: This is nested deeper than 100 levels"),
    ('{"state": 1e999}', "The response is not valid JSON: The number 1e999 is too large for JSON (at state)."),
])
def test_a_callback_too_deep_or_too_large_is_logged_and_the_run_waits_on(client, admin_user, waiting_run, body, said):
    response = client.post(f"/api/callbacks/{waiting_run.callback_token}/", body, content_type="application/json")

    assert response.status_code == 202
    waiting_run.refresh_from_db()
    assert waiting_run.status == Status.WAITING_CALLBACK
    callback = waiting_run.exchanges.get(kind=ExchangeKind.CALLBACK)
    assert callback.decision.startswith(said) and callback.decision.endswith("Still waiting.")
    assert_every_page_renders(client, admin_user, waiting_run)


def test_a_callback_with_a_lone_surrogate_ends_the_run_with_the_text_cleaned(client, admin_user, waiting_run):
    response = client.post(f"/api/callbacks/{waiting_run.callback_token}/", '{"state": "finished", "name": "\\ud83d"}',
                           content_type="application/json")

    assert response.status_code == 202
    waiting_run.refresh_from_db()
    assert waiting_run.status == Status.SUCCEEDED, waiting_run.reason
    assert waiting_run.fields == {"name": "\ufffd"}
    assert waiting_run.exchanges.get(kind=ExchangeKind.CALLBACK).decision.startswith(f"{CLEANED} name.")
    assert_every_page_renders(client, admin_user, waiting_run)
