"""Copy as cURL, run with the real curl: a URL holding [ ] { } (curl's globbing: ${IFS} became a set of URLs) is
requested once and as it was, and an action that does not verify TLS gets a command that does not either (-k).
"""

import shutil
import subprocess
from urllib.parse import quote, unquote

import pytest
from django.urls import reverse

from runs.models import Status
from runs.services import start_run
from tests.engine_helpers import drive, make_action
from tests.servers import reply
from tests.test_transport import _https_server, pki  # noqa: F401 (a fixture)

pytestmark = [
    pytest.mark.usefixtures("q_sync"),
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed"),
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),  # what -k is about
]


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def curl_command(client, run):
    exchange = run.exchanges.order_by("id").last()
    page = client.get(reverse("admin:runs_run_exchange", args=[run.pk, exchange.pk]))
    return page.context["debug"]["curl"]


def run_curl(command):
    return subprocess.run(["bash", "-c", command + " --silent --show-error --output /dev/null"],
                          capture_output=True, text=True, timeout=30)


def test_a_url_with_brackets_and_braces_is_requested_once_as_it_was(staff, server):
    path = "/jobs/${IFS}/[1-2]/{a,b}"
    # The engine's client percent-encodes the brackets and braces, curl sends them as they are: one resource.
    server.script(quote(path, safe="/$,"), reply(json={"status": "done"}))
    server.script(path, reply(json={"status": "done"}))
    action = make_action(server.base_url, url=path, method="GET", stop=[("status", "equals", "done", "success")])
    run = drive(start_run(action))
    assert run.status == Status.SUCCEEDED, run.reason
    command = curl_command(staff, run)

    done = run_curl(command)

    assert done.returncode == 0, done.stderr
    original, again = server.requests  # one request each: curl made no set of URLs of it
    assert unquote(again.path) == unquote(original.path) == path
    assert command.startswith("curl --globoff ")


def test_an_action_that_does_not_verify_tls_gets_a_command_that_does_not_either(staff, pki):  # noqa: F811
    with _https_server(pki) as server:
        server.script("/jobs", reply(json={"status": "done"}))
        trusting = make_action(server.base_url, verify_tls=False, stop=[("status", "equals", "done", "success")])
        checking = make_action(server.base_url, integration=trusting.integration)
        trusted_run, checked_run = drive(start_run(trusting)), drive(start_run(checking))
        insecure, secure = curl_command(staff, trusted_run), curl_command(staff, checked_run)

        sent, refused = run_curl(insecure), run_curl(secure)

    assert trusted_run.status == Status.SUCCEEDED and checked_run.status == Status.FAILED
    assert insecure.startswith("curl --globoff -k -X POST ")
    assert " -k " not in secure
    assert sent.returncode == 0, sent.stderr
    assert refused.returncode == 60  # curl: the peer's certificate cannot be verified
    assert len(server.requests) == 2  # the run's request, and curl's with -k
