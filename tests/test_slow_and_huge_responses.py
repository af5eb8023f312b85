import socket
import threading

import pytest

from runs.services import start_run
from runs.models import Status
from tests.engine_helpers import drive, make_action
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

FIFTY_MB = 50 * 1024 * 1024


@pytest.fixture
def trickling_url():
    """A server that sends its headers, then one byte of body every 0.1 s until the client leaves."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n")
            try:
                while not stop.wait(0.1):
                    conn.sendall(b" ")
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d/jobs" % listener.getsockname()[1]
    stop.set()
    thread.join(5)
    listener.close()


def test_a_server_slower_than_the_read_timeout_fails_the_request_naming_the_seconds(db, server):
    server.script("/jobs", reply(json={"status": "done"}, delay=2))
    action = make_action(server.base_url, read_timeout=0.5)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert run.reason == "The first request failed: No answer within 0.5 s (read timeout)."
    exchange = run.exchanges.get()
    assert exchange.error == "No answer within 0.5 s (read timeout)."
    assert exchange.failed_part == "request"
    assert exchange.status_code is None


def test_a_body_that_trickles_in_forever_is_given_up_at_connect_plus_read_timeout(db, trickling_url):
    action = make_action("", url=trickling_url, connect_timeout=0.5, read_timeout=0.5)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "still arriving after 1 s" in run.reason
    assert run.exchanges.get().error.startswith("The response body was still arriving")


def test_a_huge_body_is_cut_at_the_size_limit_and_the_run_fails_saying_so(db, server, settings):
    settings.INTEGRATIONS_MAX_RESPONSE_BYTES = 256 * 1024
    settings.INTEGRATIONS_MAX_LOGGED_BYTES = 4 * 1024
    server.script("/jobs", reply(stream_bytes=FIFTY_MB, content_type="application/json"))
    action = make_action(server.base_url, stop=[("status", "equals", "done", "success")])

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "cut at the size limit" in run.reason
    exchange = run.exchanges.get()
    assert exchange.response_truncated is True
    assert exchange.response_size == FIFTY_MB
    assert 0 < len(exchange.response_body) <= 4 * 1024
    assert exchange.failed_part == "response"


def test_a_huge_body_is_not_read_to_the_end(db, server, settings):
    settings.INTEGRATIONS_MAX_RESPONSE_BYTES = 64 * 1024
    server.script("/jobs", reply(stream_bytes=FIFTY_MB, content_type="text/plain"))
    action = make_action(server.base_url, stop=[("@status", "equals", "200", "success")])

    run = drive(start_run(action))

    # The conditions only need the status, so the cut body does not fail the run.
    assert run.status == Status.SUCCEEDED, run.reason
    assert run.exchanges.get().response_truncated is True


def test_a_body_that_is_not_json_fails_the_run(db, server):
    server.script("/jobs", reply(text="<html><body>Login</body></html>", content_type="text/html"))
    action = make_action(server.base_url, stop=[("status", "equals", "done", "success")])

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert run.reason == "The response is not JSON (Content-Type text/html)."
    assert run.exchanges.get().response_body == "<html><body>Login</body></html>"


def test_a_body_that_is_not_json_is_fine_when_conditions_read_only_status_and_headers(db, server):
    server.script("/jobs", reply(text="<html>ok</html>", content_type="text/html", headers={"X-Job": "finished"}))
    action = make_action(server.base_url, stop=[("@status", "equals", "200", "success", "code"),
                                                ("@headers.X-Job", "equals", "finished", "success")])
    action.mappings.create(field="job_state", path="@headers.x-job")

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason
    assert run.fields == {"job_state": "finished", "code": 200}


def test_a_poll_answer_that_is_not_json_fails_the_run(db, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    server.script("/jobs/1", reply(text="maintenance", content_type="text/html"))
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/1", poll_interval=1,
                         stop=[("status", "equals", "done", "success")])

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "not JSON" in run.reason
