import pytest

from runs.services import start_run
from runs.http import SendError, check_address
from runs.models import Status
from tests.engine_helpers import drive, make_action
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
])
def test_a_request_to_a_link_local_or_metadata_address_is_refused(db, url):
    action = make_action("", url=url, method="GET", connect_timeout=0.5)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "link-local and cloud metadata addresses are never reached" in run.reason
    exchange = run.exchanges.get()
    assert exchange.failed_part == "request"
    assert exchange.status_code is None


def test_a_host_outside_the_allowed_list_is_refused(db, server, settings):
    settings.INTEGRATIONS_ALLOWED_HOSTS = ["example.invalid"]
    server.script("/jobs", reply(json={}))
    action = make_action(server.base_url)

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "not allowed by INTEGRATIONS_ALLOWED_HOSTS" in run.reason
    assert server.requests == []


@pytest.mark.parametrize("allowed", [["127.0.0.1"], ["127.0.0.0/8"]])
def test_a_host_in_the_allowed_list_is_reached(db, server, settings, allowed):
    settings.INTEGRATIONS_ALLOWED_HOSTS = allowed
    server.script("/jobs", reply(json={}))
    action = make_action(server.base_url)

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason
    assert len(server.requests) == 1


def test_a_poll_to_a_refused_address_fails_at_once_whatever_the_error_policy(db, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    action = make_action(server.base_url, polling_mode="poll", poll_url="http://169.254.169.254/jobs",
                         connect_timeout=0.5, on_connection_error="retry", max_consecutive_errors=5,
                         stop=[("status", "equals", "done", "success")])

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert run.polls == 1
    assert "never reached" in run.reason


@pytest.mark.parametrize("ip", ["169.254.169.254", "::ffff:169.254.169.254", "fe80::1%eth0", "fd00:ec2::254",
                                "100.100.100.200", "::ffff:a9fe:a9fe", "64:ff9b::a9fe:a9fe", "169.254.170.2",
                                "168.63.129.16", "192.0.0.192", "fd00:ec2::23", "fd20:ce::254", "fd00:c1::a9fe:a9fe",
                                "fd00:a9fe:a9fe::1", "fd00:42::42", "fd00:100::100:200"])
def test_check_address_refuses_link_local_and_metadata_addresses_in_every_spelling(ip):
    with pytest.raises(SendError) as caught:
        check_address(ip)

    assert caught.value.kind == "blocked"


@pytest.mark.parametrize("ip", ["127.0.0.1", "::1", "10.1.2.3", "93.184.216.34", "::ffff:127.0.0.1"])
def test_check_address_lets_other_addresses_through_by_default(ip, settings):
    settings.INTEGRATIONS_ALLOWED_HOSTS = []
    check_address(ip)


def test_check_address_with_a_list_allows_only_the_names_and_networks_listed(settings):
    settings.INTEGRATIONS_ALLOWED_HOSTS = ["api.example.com", "10.0.0.0/8"]

    check_address("93.184.216.34", "api.example.com")
    check_address("::ffff:10.9.8.7", "internal")
    with pytest.raises(SendError, match="not allowed"):
        check_address("93.184.216.34", "other.example.com")
    with pytest.raises(SendError, match="never reached"):
        check_address("169.254.169.254", "metadata")


@pytest.mark.parametrize("allowed", [["metadata"], ["169.254.0.0/16"], ["0.0.0.0/0", "::/0"], ["metadata", "fe80::/10"]])
def test_check_address_refuses_link_local_and_metadata_addresses_whatever_the_list_allows(settings, allowed):
    settings.INTEGRATIONS_ALLOWED_HOSTS = allowed

    for ip in ("169.254.169.254", "fe80::1"):
        with pytest.raises(SendError, match="never reached, whatever INTEGRATIONS_ALLOWED_HOSTS says"):
            check_address(ip, "metadata")
