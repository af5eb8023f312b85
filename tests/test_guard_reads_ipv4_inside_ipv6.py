"""An IPv6 address that leads to an IPv4 one (IPv4-mapped, IPv4-compatible, IPv4-translated, 6to4, NAT64, Teredo)
is judged as that IPv4 address: the metadata address in any of them is refused before any connect(), and on the
address actually connected to; the allowed list reads them the same way.

connect() calls are watched through Python's audit events (socket.connect), which every socket raises.
"""

import ipaddress
import sys
import threading

import pytest

from runs.http import Outbound, SendError, check_address, send

METADATA = "169.254.169.254"
# Each spelling leads to 169.254.169.254.
EMBEDDING_THE_METADATA_ADDRESS = {
    "IPv4-mapped": "::ffff:a9fe:a9fe",
    "IPv4-compatible": "::a9fe:a9fe",
    "IPv4-compatible, dotted": "::169.254.169.254",
    "IPv4-translated (SIIT)": "::ffff:0:a9fe:a9fe",
    "6to4": "2002:a9fe:a9fe::1",
    "NAT64": "64:ff9b::a9fe:a9fe",
    "Teredo (client 169.254.169.254, obfuscated)": "2001:0:4136:e378:8000:63bf:5601:5601",
}

_watching = threading.Event()
_connects = []


def _audit(event, args):
    if event == "socket.connect" and _watching.is_set():
        _connects.append(args[1])


sys.addaudithook(_audit)  # cannot be removed; it records nothing unless a test below is watching


@pytest.fixture
def connects():
    """The addresses connect() was called with while the test ran."""
    _connects.clear()
    _watching.set()
    yield _connects
    _watching.clear()


def test_the_spellings_do_embed_the_metadata_address():
    addresses = [ipaddress.IPv6Address(ip) for ip in EMBEDDING_THE_METADATA_ADDRESS.values()]
    last_32_bits = [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) for address in addresses[:4] + addresses[5:6]]

    assert {str(address) for address in last_32_bits} == {METADATA}
    assert str(addresses[4].sixtofour) == METADATA
    assert str(addresses[6].teredo[1]) == METADATA


@pytest.mark.parametrize("ip", EMBEDDING_THE_METADATA_ADDRESS.values(), ids=EMBEDDING_THE_METADATA_ADDRESS)
def test_a_request_to_it_is_refused_before_any_connect(connects, settings, ip):
    settings.INTEGRATIONS_ALLOWED_HOSTS = []

    with pytest.raises(SendError) as caught:
        send(Outbound("GET", f"http://[{ip}]/latest/meta-data/", connect_timeout=0.5, use_env_proxy=False))

    assert caught.value.kind == "blocked"
    assert f"({METADATA}) are refused: link-local and cloud metadata addresses are never reached" in str(caught.value)
    assert connects == []


def test_the_watch_sees_a_connect_that_is_allowed(connects, settings):
    # The control for the test above: an allowed embedded address is connected to, and the watch sees it.
    settings.INTEGRATIONS_ALLOWED_HOSTS = []

    with pytest.raises(SendError):
        send(Outbound("GET", "http://[::ffff:127.0.0.1]:9/", connect_timeout=0.5, use_env_proxy=False))

    assert [address[0] for address in connects] == ["::ffff:127.0.0.1"]


@pytest.mark.parametrize("ip", EMBEDDING_THE_METADATA_ADDRESS.values(), ids=EMBEDDING_THE_METADATA_ADDRESS)
def test_the_address_connected_to_is_refused_in_every_form(ip, settings):
    # What the guard checks on the connected socket's peer as well.
    settings.INTEGRATIONS_ALLOWED_HOSTS = ["0.0.0.0/0", "::/0"]

    with pytest.raises(SendError, match="never reached, whatever INTEGRATIONS_ALLOWED_HOSTS says"):
        check_address(ip)


def test_the_allowed_list_reads_the_ipv4_address_inside(settings):
    settings.INTEGRATIONS_ALLOWED_HOSTS = ["10.0.0.0/8"]

    check_address("2002:a01:203::1")  # 6to4 of 10.1.2.3
    check_address("::a01:203")
    with pytest.raises(SendError, match=r"\(11\.1\.2\.3\) are not allowed"):
        check_address("2002:b01:203::1")


@pytest.mark.parametrize("ip", ["::1", "::", "2001:db8::1", "fd12:3456::1"])
def test_other_ipv6_addresses_are_themselves(ip, settings):
    settings.INTEGRATIONS_ALLOWED_HOSTS = [ip]

    check_address(ip)
