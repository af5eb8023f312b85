"""Proxies from the environment (HTTP_PROXY, NO_PROXY), per action, and the address guard behind them."""

import pytest

from runs.services import start_run
from runs.models import Status
from tests.engine_helpers import drive, make_action
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

REMOTE = "http://jobs.example.invalid"  # never resolves: only a proxy can reach it


@pytest.fixture
def proxy(server, monkeypatch):
    """The scripted server plays an HTTP proxy named by the environment."""
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.base_url)
    return server


def test_a_request_goes_through_the_proxy_the_environment_names(db, proxy):
    proxy.script("/jobs", reply(json={"id": 7}))
    action = make_action(REMOTE)

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason
    (received,) = proxy.requests
    assert received.method == "POST"
    assert received.headers["Host"] == "jobs.example.invalid"


def test_no_proxy_sends_that_host_directly(db, proxy, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "jobs.example.invalid")
    action = make_action(REMOTE, connect_timeout=1)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "Connection failed" in run.reason
    assert proxy.requests == []


def test_an_action_can_ignore_the_environments_proxy(db, proxy):
    action = make_action(REMOTE, use_env_proxy=False, connect_timeout=1)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert proxy.requests == []


def test_behind_a_proxy_a_name_for_a_metadata_address_is_still_refused(db, proxy):
    # 2852039166 is 169.254.169.254 written as one number: not an IP literal to
    # ipaddress, but the resolver turns it into the metadata address.
    action = make_action("http://2852039166", url="/latest/meta-data/", method="GET")

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "link-local and cloud metadata addresses are never reached" in run.reason
    assert proxy.requests == []


def test_a_change_of_proxy_in_the_environment_is_seen(db, proxy, monkeypatch):
    proxy.script("/jobs", reply(json={}))
    action = make_action(REMOTE, connect_timeout=1)
    assert drive(start_run(action)).status == Status.SUCCEEDED

    monkeypatch.delenv("HTTP_PROXY")

    assert drive(start_run(action)).status == Status.FAILED
    assert len(proxy.requests) == 1


def test_credentials_in_the_proxy_url_go_to_the_proxy_and_nowhere_else(db, proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", proxy.base_url.replace("http://", "http://relay:pr0xy-pa55@"))
    proxy.script("/jobs", reply(json={}))
    action = make_action(REMOTE)

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason
    headers = {name.lower(): value for name, value in proxy.requests[0].headers.items()}
    assert headers["proxy-authorization"] == "Basic cmVsYXk6cHIweHktcGE1NQ=="  # relay:pr0xy-pa55
    exchange = run.exchanges.get()
    assert "pr0xy-pa55" not in str(exchange.request_headers) + exchange.url
