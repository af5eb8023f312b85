"""The address guard decides before a TCP connection is opened, on every spelling of an address.

A socket listening on 127.0.0.1 shows whether a connection reached it: the
kernel queues each completed connection until it is accepted, even one the
client closed at once. Loopback stands in for the metadata address (which a
test cannot watch) by joining ALWAYS_BLOCKED.
"""

import ipaddress
import select
import socket

import pytest

from runs import http
from runs.http import Outbound, SendError, send

SPELLINGS_OF_127_0_0_1 = ["127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0x7f.0.0.1",
                          "127.0.0.1.", "localhost"]


@pytest.fixture
def listener():
    """A socket listening on 127.0.0.1 that never answers."""
    sock = socket.create_server(("127.0.0.1", 0))
    yield sock
    sock.close()


def connections_to(listener):
    """How many connections have reached ``listener`` (and closes them)."""
    count = 0
    while select.select([listener], [], [], 0.2)[0]:
        connection, _ = listener.accept()
        connection.close()
        count += 1
    return count


@pytest.fixture
def loopback_is_metadata(monkeypatch):
    monkeypatch.setattr(http, "ALWAYS_BLOCKED", [*http.ALWAYS_BLOCKED, ipaddress.ip_network("127.0.0.0/8")])


def get(host, port):
    return Outbound("GET", f"http://{host}:{port}/", connect_timeout=1, read_timeout=0.2, use_env_proxy=False)


@pytest.mark.parametrize("host", SPELLINGS_OF_127_0_0_1)
def test_an_allowed_address_is_connected_to_in_every_spelling(listener, settings, host):
    # The control for the tests below: the listener does see a connection that is allowed.
    settings.INTEGRATIONS_ALLOWED_HOSTS = ["127.0.0.0/8"]

    with pytest.raises(SendError) as caught:
        send(get(host, listener.getsockname()[1]))

    assert caught.value.kind == "timeout"  # connected; the listener never answers
    assert connections_to(listener) == 1


@pytest.mark.parametrize("host", SPELLINGS_OF_127_0_0_1)
def test_an_address_outside_the_allowed_list_is_refused_before_connecting(listener, settings, host):
    settings.INTEGRATIONS_ALLOWED_HOSTS = ["10.0.0.0/8", "api.example.com"]

    with pytest.raises(SendError) as caught:
        send(get(host, listener.getsockname()[1]))

    assert caught.value.kind == "blocked"
    assert "not allowed by INTEGRATIONS_ALLOWED_HOSTS" in str(caught.value)
    assert "127.0.0.1" in str(caught.value)
    assert connections_to(listener) == 0


@pytest.mark.parametrize("host", SPELLINGS_OF_127_0_0_1)
def test_a_blocked_address_is_refused_before_connecting_in_every_spelling(listener, settings, loopback_is_metadata,
                                                                         host):
    settings.INTEGRATIONS_ALLOWED_HOSTS = []

    with pytest.raises(SendError) as caught:
        send(get(host, listener.getsockname()[1]))

    assert caught.value.kind == "blocked"
    assert "never reached" in str(caught.value)
    assert connections_to(listener) == 0


@pytest.mark.parametrize("allowed", [["localhost"], ["localhost", "127.0.0.0/8"]])
def test_an_allowed_name_that_resolves_to_a_blocked_address_is_refused(listener, settings, loopback_is_metadata,
                                                                      allowed):
    settings.INTEGRATIONS_ALLOWED_HOSTS = allowed

    with pytest.raises(SendError) as caught:
        send(get("localhost", listener.getsockname()[1]))

    assert caught.value.kind == "blocked"
    assert "never reached, whatever INTEGRATIONS_ALLOWED_HOSTS says" in str(caught.value)
    assert connections_to(listener) == 0


@pytest.mark.parametrize("url", ["http://2852039166/", "http://0251.0376.0251.0376/", "http://0xa9fea9fe/",
                                 "http://169.254.169.254./", "http://0xa9.254.0251.0xfe/", "http://169.254.43518/",
                                 "http://[::ffff:169.254.169.254]/", "http://[64:ff9b::a9fe:a9fe]/"])
def test_every_spelling_of_the_metadata_address_is_refused_in_words(settings, url):
    settings.INTEGRATIONS_ALLOWED_HOSTS = ["169.254.0.0/16", "2852039166"]

    with pytest.raises(SendError) as caught:
        send(Outbound("GET", url, connect_timeout=0.5, use_env_proxy=False))

    assert caught.value.kind == "blocked"
    assert "(169.254.169.254) are refused: link-local and cloud metadata addresses are never reached" in str(caught.value)


@pytest.mark.parametrize("host", ["metadata.google.internal", "metadata.goog", "metadata", "instance-data",
                                  "instance-data.ec2.internal", "Metadata.Google.Internal."])
def test_a_metadata_host_name_is_refused_before_it_is_resolved(settings, host):
    settings.INTEGRATIONS_ALLOWED_HOSTS = [host.lower().rstrip(".")]

    with pytest.raises(SendError) as caught:
        send(Outbound("GET", f"http://{host}/computeMetadata/v1/", connect_timeout=0.5, use_env_proxy=False))

    assert caught.value.kind == "blocked"
    assert "names a cloud metadata service" in str(caught.value)
