"""The Debug view of an exchange: both sides, the warning on the side that went wrong, pretty bodies, cURL.

Runs are real (engine services, scripted servers on 127.0.0.1, django-q2 in
synchronous mode); the cURL command is run with the real curl.
"""

import shutil
import subprocess

import pytest
from django.urls import reverse

from integrations.models import Integration, Secret
from runs.debug_view import pretty_body
from runs.models import Status
from runs.services import start_run
from tests.engine_helpers import drive, make_action
from tests.servers import reply
from tests.test_admin_runs import text_of
from tests.test_polling_errors import closed_port

pytestmark = pytest.mark.usefixtures("q_sync")

STOP = [("status", "equals", "done", "success"), ("status", "equals", "failed", "failure")]


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def debug_page(client, exchange):
    return client.get(reverse("admin:runs_run_exchange", args=[exchange.run_id, exchange.pk]))


def triangles(response):
    """The tabs that carry the warning triangle."""
    html = response.content.decode()
    found = []
    for tab in ("request", "response"):
        start = html.index(f'id="tab-{tab}"')
        if 'class="warning-triangle"' in html[start: html.index("</button>", start)]:
            found.append(tab)
    return found


def last_exchange(run):
    return run.exchanges.order_by("id").last()


def test_a_refused_connection_puts_the_triangle_on_the_request_tab(staff, db, server):
    action = make_action(f"http://127.0.0.1:{closed_port()}", stop=STOP, connect_timeout=1)

    run = drive(start_run(action))
    response = debug_page(staff, last_exchange(run))

    assert run.status == Status.FAILED
    assert triangles(response) == ["request"]
    assert response.context["debug"]["failed"] == "request"
    assert "Connection failed" in text_of(response)
    assert 'data-selected="request"' in response.content.decode()


def test_a_read_timeout_puts_the_triangle_on_the_request_tab(staff, db, server):
    server.script("/jobs", reply(json={"status": "done"}, delay=3))
    action = make_action(server.base_url, stop=STOP, read_timeout=0.5)

    run = drive(start_run(action))
    response = debug_page(staff, last_exchange(run))

    assert triangles(response) == ["request"]
    assert "timed out" in text_of(response).lower() or "timeout" in text_of(response).lower()


def test_a_refused_address_puts_the_triangle_on_the_request_tab(staff, db):
    action = make_action("http://169.254.169.254", stop=STOP)

    run = drive(start_run(action))
    response = debug_page(staff, last_exchange(run))

    assert triangles(response) == ["request"]
    assert "169.254.169.254" in text_of(response)


def test_an_unexpected_status_puts_the_triangle_on_the_response_tab(staff, db, server):
    server.script("/jobs", reply(500, json={"error": "database is down"}))
    action = make_action(server.base_url, stop=STOP, on_server_error="fail")

    run = drive(start_run(action))
    response = debug_page(staff, last_exchange(run))

    assert run.status == Status.FAILED
    assert triangles(response) == ["response"]
    assert 'data-selected="response"' in response.content.decode()
    assert '"error": "database is down"' in text_of(response)


def test_an_unparsable_body_puts_the_triangle_on_the_response_tab(staff, db, server):
    server.script("/jobs", reply(200, text="<html><body>Login</body></html>", content_type="text/html"))
    action = make_action(server.base_url, stop=STOP)

    run = drive(start_run(action))
    response = debug_page(staff, last_exchange(run))

    assert run.status == Status.FAILED
    assert triangles(response) == ["response"]
    assert "<html><body>Login</body></html>" in text_of(response)


def test_a_failure_outcome_puts_the_triangle_on_the_response_tab(staff, db, server):
    server.script("/jobs", reply(json={"status": "failed"}))
    action = make_action(server.base_url, stop=STOP)

    run = drive(start_run(action))
    response = debug_page(staff, last_exchange(run))

    assert triangles(response) == ["response"]
    assert "failure" in text_of(response)


def test_a_good_answer_has_no_triangle_and_opens_on_the_response(staff, db, server):
    server.script("/jobs", reply(json={"status": "done", "items": [1, 2]}, headers={"X-Request-Id": "r-77"}))
    action = make_action(server.base_url, stop=STOP, body_type="json", body='{"name": "x"}')

    run = drive(start_run(action))
    response = debug_page(staff, last_exchange(run))

    assert triangles(response) == []
    assert 'data-selected="response"' in response.content.decode()
    debug = response.context["debug"]
    assert debug["response"].body.language == "json"
    assert debug["response"].body.text == '{\n  "status": "done",\n  "items": [\n    1,\n    2\n  ]\n}'
    assert ("X-Request-Id", "r-77") in debug["response"].headers
    assert "<th scope=\"row\">X-Request-Id</th><td>r-77</td>" in response.content.decode()


def test_an_xml_answer_is_indented(staff, db, server):
    server.script("/jobs", reply(text="<job><status>done</status><id>7</id></job>", content_type="application/xml"))
    action = make_action(server.base_url, stop=STOP, convert_xml=True)

    run = drive(start_run(action))
    body = debug_page(staff, last_exchange(run)).context["debug"]["response"].body

    assert body.language == "xml"
    assert body.text == "<job>\n  <status>done</status>\n  <id>7</id>\n</job>"


def test_xml_with_a_doctype_is_shown_as_it_came():
    bomb = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><lolz>&lol;</lolz>'

    assert pretty_body(bomb, "application/xml").language == "text"
    assert pretty_body(bomb, "application/xml").text == bomb
    assert pretty_body("{not json", "application/json").text == "{not json"


def test_a_capped_body_says_how_much_was_kept(staff, db, server, settings):
    settings.INTEGRATIONS_MAX_LOGGED_BYTES = 1000
    server.script("/jobs", reply(text="x" * 5000 + "done"))
    action = make_action(server.base_url, stop=[("@status", "equals", "200", "success")])

    run = drive(start_run(action))
    text = text_of(debug_page(staff, last_exchange(run)))

    assert "The log keeps the first 1,000 characters of this body; 4.9 KB were received." in text


def test_copy_as_curl_sends_the_same_request(staff, db, server):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    server.script("/jobs", reply(json={"status": "done"}))
    action = make_action(server.base_url, stop=STOP, body_type="json", body='{"name": "it\'s \\"quoted\\""}',
                         headers={"X-Trace": "a b c"}, params={"q": "1 2"})
    run = drive(start_run(action))
    exchange = last_exchange(run)
    command = debug_page(staff, exchange).context["debug"]["curl"]
    assert command.startswith("curl --globoff -X POST ")

    subprocess.run(["bash", "-c", command + " --silent --output /dev/null"], check=True, timeout=30)

    original, again = server.requests_to("/jobs")
    assert again.method == original.method == "POST"
    assert again.query == original.query
    assert again.body == original.body
    assert again.headers["X-Trace"] == "a b c"
    assert again.headers["Content-Type"] == original.headers["Content-Type"]


def test_curl_and_the_page_keep_secrets_as_stars(staff, db, server):
    integration = Integration.objects.create(name="Secretive", slug="secretive", base_url=server.base_url)
    Secret.objects.create(integration=integration, name="KEY", value="PLAINTEXT-key-5e2d")
    server.script("/jobs", reply(json={"status": "done", "echo": "PLAINTEXT-key-5e2d"}))
    action = make_action(server.base_url, integration=integration, stop=STOP,
                         headers={"X-Api-Key": "{{ secrets.KEY }}"}, body_type="json",
                         body='{"key": "{{ secrets.KEY }}"}')

    run = drive(start_run(action))
    response = debug_page(staff, last_exchange(run))

    assert server.requests[0].headers["X-Api-Key"] == "PLAINTEXT-key-5e2d"
    assert "PLAINTEXT-key-5e2d" not in response.content.decode()
    assert "-H 'X-Api-Key: ***'" in response.context["debug"]["curl"]


def test_a_callback_is_shown_as_what_the_service_posted(staff, db, server, client):
    server.script("/jobs", reply(json={"id": "1"}))
    action = make_action(server.base_url, polling_mode="callback", stop=STOP)
    run = drive(start_run(action))
    client.post(reverse("callback", args=[run.callback_token]), {"status": "done"}, content_type="application/json")
    run.refresh_from_db()

    response = debug_page(staff, last_exchange(run))

    assert run.status == Status.SUCCEEDED
    assert response.context["debug"]["callback"] is True
    assert response.context["debug"]["curl"] == ""
    assert run.callback_token not in response.content.decode()
    assert '"status": "done"' in text_of(response)


def test_an_exchange_of_another_run_is_a_404(staff, db, server):
    server.script("/jobs", reply(json={"status": "done"}))
    action = make_action(server.base_url, stop=STOP)
    first, second = drive(start_run(action)), drive(start_run(action))

    response = staff.get(reverse("admin:runs_run_exchange", args=[first.pk, last_exchange(second).pk]))

    assert response.status_code == 404


def test_a_viewer_may_read_the_debug_view(client, viewer_user, db, server):
    server.script("/jobs", reply(json={"status": "done"}))
    run = drive(start_run(make_action(server.base_url, stop=STOP)))
    client.force_login(viewer_user)

    assert debug_page(client, last_exchange(run)).status_code == 200


def test_a_placeholder_that_cannot_be_filled_puts_the_triangle_on_the_request_tab(staff, db, server):
    # The first answer has no "id", so the poll URL's {{ job_id }} has nothing to fill it.
    server.script("/jobs", reply(json={"status": "queued"}))
    action = make_action(server.base_url, stop=STOP, polling_mode="poll", poll_url="/jobs/{{ job_id }}",
                         mappings=[("job_id", "id")])

    run = drive(start_run(action))
    exchange = last_exchange(run)
    response = debug_page(staff, exchange)

    assert run.status == Status.FAILED
    assert exchange.sent is False
    assert triangles(response) == ["request"]
    assert "{{ job_id }}" in text_of(response)


def test_a_binary_body_is_said_to_be_binary(staff, db, server):
    server.script("/jobs", reply(text="", headers={"Content-Type": "application/octet-stream"}))
    server.scripts["/jobs"][0].body = bytes(range(128, 256)) * 8
    action = make_action(server.base_url, stop=[("@status", "equals", "200", "success")])

    run = drive(start_run(action))
    text = text_of(debug_page(staff, last_exchange(run)))

    assert "This body is not UTF-8 text (binary?)" in text
