from urllib.parse import parse_qs

import pytest
from django.core.exceptions import ValidationError

from runs.services import start_run
from runs.models import Run, Status
from tests.engine_helpers import drive, make_action
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

DONE = reply(json={"status": "done"})


def test_json_body_leaves_are_filled_and_a_lone_placeholder_keeps_its_type(db, server):
    server.script("/jobs", DONE)
    action = make_action(
        server.base_url,
        body_type="json",
        body='{"count": "{{ count }}", "tags": "{{ tags }}", "title": "Ticket {{ title }}", '
             '"meta": {"owner": "{{ owner }}", "list": ["{{ count }}", "x"]}}',
        inputs=["count", "tags", "title", "owner"],
    )

    run = drive(start_run(action, {"count": 3, "tags": ["a", "b"], "title": 'say "hi"\n', "owner": None}))

    assert run.status == Status.SUCCEEDED, run.reason
    received = server.requests[0]
    assert received.headers["Content-Type"] == "application/json"
    assert received.json() == {
        "count": 3,
        "tags": ["a", "b"],
        "title": 'Ticket say "hi"\n',
        "meta": {"owner": None, "list": [3, "x"]},
    }


def test_values_in_the_url_are_percent_encoded_and_query_params_are_filled(db, server):
    server.script("/items/a%2Fb%20c%3Fd%3D1", DONE)
    action = make_action(server.base_url, method="GET", url="/items/{{ name }}",
                         params={"q": "{{ query }}", "limit": 10}, inputs=["name", "query"])

    run = drive(start_run(action, {"name": "a/b c?d=1", "query": "x&y=z"}))

    assert run.status == Status.SUCCEEDED, run.reason
    received = server.requests[0]
    assert received.path == "/items/a%2Fb%20c%3Fd%3D1"
    assert parse_qs(received.query) == {"q": ["x&y=z"], "limit": ["10"]}


def test_integration_default_headers_are_sent_and_action_headers_win(db, server):
    server.script("/jobs", DONE)
    action = make_action(server.base_url, headers={"X-Tenant": "{{ tenant }}", "Accept": "application/json"},
                         inputs=["tenant"])
    action.integration.default_headers = {"Accept": "text/plain", "X-Client": "integrations", "X-Run": "{{ run.id }}"}
    action.integration.save()

    run = drive(start_run(action, {"tenant": "acme"}))

    headers = server.requests[0].headers
    assert headers["X-Client"] == "integrations"
    assert headers["X-Tenant"] == "acme"
    assert headers["Accept"] == "application/json"
    assert headers["X-Run"] == str(run.pk)


def test_include_context_adds_run_action_and_integration_facts_to_the_body(db, server):
    server.script("/jobs", DONE)
    action = make_action(server.base_url, body_type="json", body='{"name": "n"}', include_context=True)

    run = drive(start_run(action))

    body = server.requests[0].json()
    assert body["name"] == "n"
    assert body["context"] == {
        "run": {"id": run.pk, "attempt": 1, "rehearsal": False, "callback_url": run.callback_url},
        "action": {"id": action.pk, "name": action.name, "slug": action.slug},
        "integration": {"id": action.integration.pk, "name": "Local", "slug": action.integration.slug},
    }


def test_include_context_makes_a_body_for_a_post_without_one(db, server):
    server.script("/jobs", DONE)
    action = make_action(server.base_url, include_context=True)

    run = drive(start_run(action))

    assert server.requests[0].json()["context"]["run"]["id"] == run.pk


def test_form_bodies_are_url_encoded(db, server):
    server.script("/jobs", DONE)
    action = make_action(server.base_url, body_type="form",
                         body='{"name": "{{ name }}", "count": "{{ count }}", "active": true}',
                         inputs=["name", "count"])

    drive(start_run(action, {"name": "a&b=c d", "count": 2}))

    received = server.requests[0]
    assert received.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(received.body.decode()) == {"name": ["a&b=c d"], "count": ["2"], "active": ["true"]}


def test_raw_xml_bodies_are_sent_as_written_with_placeholders_filled(db, server):
    server.script("/jobs", DONE)
    action = make_action(server.base_url, body_type="raw", headers={"Content-Type": "application/xml"},
                         body='<?xml version="1.0"?><job><name>{{ name }}</name></job>', inputs=["name"])

    drive(start_run(action, {"name": "nightly"}))

    received = server.requests[0]
    assert received.headers["Content-Type"] == "application/xml"
    assert received.body == b'<?xml version="1.0"?><job><name>nightly</name></job>'


def test_an_unknown_placeholder_in_the_request_refuses_the_run_before_anything_is_sent(db, server):
    server.script("/jobs", DONE)
    # ticket_id is a field stored from the first answer: the first request cannot use it.
    action = make_action(server.base_url, body_type="json", body='{"id": "{{ ticket_id }}"}',
                         mappings=[("ticket_id", "id")])

    with pytest.raises(ValidationError) as caught:
        start_run(action, {})

    assert "ticket_id" in str(caught.value.message_dict["variables"])
    assert Run.objects.count() == 0
    assert server.requests == []


def test_an_optional_input_left_out_fills_its_placeholder_with_nothing(db, server):
    server.script("/jobs", DONE)
    action = make_action(server.base_url, body_type="json", body='{"note": "{{ note }}", "n": "{{ n }}"}',
                         inputs=["note", "n"])

    run = drive(start_run(action, {"n": None}))

    assert run.variables == {"note": "", "n": None}
    assert server.requests[0].json() == {"note": "", "n": None}


def test_an_unknown_placeholder_in_the_poll_url_fails_the_run_naming_it(db, server):
    server.script("/jobs", reply(json={"id": 5}))
    # The first answer has no data.id, so job_id is never stored.
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/{{ job_id }}",
                         mappings=[("job_id", "data.id")], stop=[("status", "equals", "done", "success")])

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "{{ job_id }}" in run.reason
    assert [r.path for r in server.requests] == ["/jobs"]
    last = run.exchanges.last()
    assert last.kind == "poll" and last.sent is False
    assert "job_id" in last.error
