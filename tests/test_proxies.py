"""Proxies from the environment (HTTP_PROXY, NO_PROXY), per action, and the address guard behind them."""

import ipaddress
import select
import socket

import pytest

from runs import http
from runs.http import Outbound, SendError, send
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


# --- the address guard behind a proxy: the proxy connects, so the target is checked before sending ---


def proxied_get(url):
    return Outbound("GET", url, connect_timeout=1, read_timeout=2)


def test_with_an_allowed_list_a_name_not_on_it_is_refused_before_the_proxy(proxy, settings):
    # The proxy resolves names the worker cannot: an unresolvable name is let through only if it is listed.
    settings.INTEGRATIONS_ALLOWED_HOSTS = ["api.example.com", "127.0.0.1"]
    proxy.script("/secret", reply(json={"secret": 1}))

    with pytest.raises(SendError) as caught:
        send(proxied_get("http://internal-only.corp/secret"))

    assert caught.value.kind == "blocked"
    assert "internal-only.corp" in str(caught.value) and "INTEGRATIONS_ALLOWED_HOSTS" in str(caught.value)
    assert proxy.requests == []


def test_with_an_allowed_list_a_listed_name_goes_to_the_proxy_that_need_not_be_listed(proxy, settings):
    settings.INTEGRATIONS_ALLOWED_HOSTS = ["jobs.example.invalid"]
    proxy.script("/jobs", reply(json={"id": 7}))

    received = send(proxied_get(REMOTE + "/jobs"))

    assert received.status == 200
    assert proxy.requests[0].headers["Host"] == "jobs.example.invalid"


def test_with_an_allowed_list_a_name_is_allowed_by_the_network_it_resolves_to(proxy, settings):
    settings.INTEGRATIONS_ALLOWED_HOSTS = ["127.0.0.0/8"]
    proxy.script("/jobs", reply(json={}))

    send(proxied_get("http://localhost:9/jobs"))

    assert len(proxy.requests) == 1


def test_with_an_allowed_list_a_name_resolving_outside_its_networks_is_refused(proxy, settings):
    settings.INTEGRATIONS_ALLOWED_HOSTS = ["10.0.0.0/8"]
    proxy.script("/jobs", reply(json={}))

    with pytest.raises(SendError) as caught:
        send(proxied_get("http://localhost:9/jobs"))

    assert "Requests to localhost (127.0.0.1) are not allowed by INTEGRATIONS_ALLOWED_HOSTS" in str(caught.value)
    assert proxy.requests == []


@pytest.mark.parametrize("host", ["metadata.google.internal", "metadata.goog", "metadata", "instance-data",
                                  "instance-data.ec2.internal", "METADATA.google.internal.", "metadata.tencentyun.com"])
def test_a_metadata_host_name_is_refused_behind_a_proxy_though_the_worker_cannot_resolve_it(proxy, settings, host):
    settings.INTEGRATIONS_ALLOWED_HOSTS = []
    proxy.script("/computeMetadata/v1/", reply(json={"token": "stolen"}))

    with pytest.raises(SendError) as caught:
        send(proxied_get(f"http://{host}/computeMetadata/v1/"))

    assert caught.value.kind == "blocked"
    assert "names a cloud metadata service" in str(caught.value)
    assert proxy.requests == []


@pytest.mark.parametrize("url", ["http://169.254.169.254./latest/", "http://0251.0376.0251.0376/latest/",
                                 "http://0xa9fea9fe/latest/", "http://169.254.43518/latest/",
                                 "http://[::ffff:169.254.169.254]/latest/", "https://169.254.169.254/latest/"])
def test_every_spelling_of_the_metadata_address_is_refused_behind_a_proxy(proxy, settings, monkeypatch, url):
    monkeypatch.setenv("HTTPS_PROXY", proxy.base_url)
    settings.INTEGRATIONS_ALLOWED_HOSTS = []
    proxy.script("/latest/", reply(json={"token": "stolen"}))

    with pytest.raises(SendError) as caught:
        send(proxied_get(url))

    assert caught.value.kind == "blocked"
    assert "never reached" in str(caught.value)
    assert proxy.requests == []


def test_an_allowed_name_that_resolves_to_a_blocked_address_is_refused_behind_a_proxy(proxy, settings, monkeypatch):
    monkeypatch.setattr(http, "ALWAYS_BLOCKED", [*http.ALWAYS_BLOCKED, ipaddress.ip_network("127.0.0.0/8")])
    settings.INTEGRATIONS_ALLOWED_HOSTS = ["localhost"]
    proxy.script("/jobs", reply(json={}))

    with pytest.raises(SendError) as caught:
        send(proxied_get("http://localhost:9/jobs"))

    assert "localhost (127.0.0.1) are refused" in str(caught.value)
    assert proxy.requests == []


def test_a_proxy_at_a_metadata_address_is_refused_and_named_without_its_credentials(proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://relay:pr0xy-pa55@169.254.169.254:3128")

    with pytest.raises(SendError) as caught:
        send(proxied_get(REMOTE + "/jobs"))

    message = str(caught.value)
    assert caught.value.kind == "blocked"
    assert "The proxy http://169.254.169.254:3128 (HTTP_PROXY)" in message
    assert "never reached" in message
    assert "pr0xy-pa55" not in message and "relay" not in message


@pytest.mark.parametrize("proxy_host", ["127.0.0.1", "2130706433", "localhost"])
def test_a_proxy_at_a_blocked_address_is_never_connected_to(monkeypatch, settings, proxy_host):
    monkeypatch.setattr(http, "ALWAYS_BLOCKED", [*http.ALWAYS_BLOCKED, ipaddress.ip_network("127.0.0.0/8")])
    settings.INTEGRATIONS_ALLOWED_HOSTS = ["jobs.example.invalid", "127.0.0.1", "localhost"]
    with socket.create_server(("127.0.0.1", 0)) as listener:
        for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("http_proxy", f"http://{proxy_host}:{listener.getsockname()[1]}")

        with pytest.raises(SendError) as caught:
            send(proxied_get(REMOTE + "/jobs"))

        assert caught.value.kind == "blocked"
        assert "(http_proxy)" in str(caught.value)
        assert not select.select([listener], [], [], 0.2)[0]  # no connection is waiting to be accepted


def test_a_proxy_named_by_a_metadata_host_name_is_refused(proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://metadata.google.internal:80")

    with pytest.raises(SendError) as caught:
        send(proxied_get(REMOTE + "/jobs"))

    assert caught.value.kind == "blocked"
    assert "The proxy http://metadata.google.internal:80 (HTTP_PROXY)" in str(caught.value)


def test_a_proxied_host_is_resolved_once_for_several_requests(proxy, monkeypatch):
    lookups = []
    real_getaddrinfo = socket.getaddrinfo

    def counting_getaddrinfo(host, *args, **kwargs):
        lookups.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting_getaddrinfo)
    proxy.script("/jobs", reply(json={}))

    for _ in range(3):
        send(proxied_get("http://polled-often.example.invalid/jobs"))

    assert len(proxy.requests) == 3
    assert lookups.count("polled-often.example.invalid") == 1
