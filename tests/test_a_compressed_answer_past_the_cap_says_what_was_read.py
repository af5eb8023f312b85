"""An answer that decompresses past the size cap (a gzip bomb) is cut at the cap, and what the run and the Debug view
say of it is true: it came compressed and reading stopped once the cap was decompressed. They used to give its
compressed Content-Length as its size: "The response (1043656 bytes or more) is larger than
INTEGRATIONS_MAX_FILE_BYTES (10485760 bytes)".
"""

import gzip

import pytest
from django.urls import reverse

from runs.models import Status
from runs.services import start_run
from tests.engine_helpers import drive, make_action
from tests.servers import Reply
from tests.test_admin_runs import text_of

pytestmark = pytest.mark.usefixtures("q_sync")

CAP = 1_000_000
BOMB = gzip.compress(b"\0" * (5 * CAP))  # about 5 KB on the wire


def bomb(**headers):
    return Reply(body=BOMB, headers={"Content-Type": "application/octet-stream", "Content-Encoding": "gzip", **headers})


def test_a_file_that_decompresses_past_the_cap_fails_its_run_saying_what_was_read(db, server, settings):
    settings.INTEGRATIONS_MAX_FILE_BYTES = CAP
    server.script("/report", bomb())
    action = make_action(server.base_url, url="/report", method="GET", save_as_file="report.bin")

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert run.reason == (
        "The response is larger than INTEGRATIONS_MAX_FILE_BYTES (1,000,000 bytes): it came gzip-compressed, and "
        "reading stopped once 1,000,000 bytes had been decompressed. It cannot be kept as the file 'report.bin'.")
    exchange = run.exchanges.get()
    assert exchange.response_size > CAP  # what was read, decompressed; not the 5 KB on the wire
    assert exchange.response_truncated


def test_a_file_too_large_uncompressed_is_said_to_be_its_declared_size(db, server, settings):
    settings.INTEGRATIONS_MAX_FILE_BYTES = CAP
    server.script("/report", Reply(stream_bytes=3 * CAP, headers={"Content-Type": "application/octet-stream"}))
    action = make_action(server.base_url, url="/report", method="GET", save_as_file="report.bin")

    run = drive(start_run(action))

    assert run.reason == (
        "The response is larger than INTEGRATIONS_MAX_FILE_BYTES (1,000,000 bytes): it is 3,000,000 bytes "
        "(Content-Length), and reading stopped after 1,000,000. It cannot be kept as the file 'report.bin'.")


def test_the_debug_view_says_a_compressed_answer_was_read_up_to_the_cap(db, server, settings, client, admin_user):
    settings.INTEGRATIONS_MAX_RESPONSE_BYTES = CAP
    server.script("/jobs", bomb())
    run = drive(start_run(make_action(server.base_url, stop=[("@status", "equals", "200", "success")])))
    exchange = run.exchanges.get()
    client.force_login(admin_user)

    page = client.get(reverse("admin:runs_run_exchange", args=[run.pk, exchange.pk]))
    text = text_of(page).replace("\xa0", " ")  # filesizeformat writes "1.0 MB" with a no-break space

    assert exchange.response_size > CAP
    assert ("characters of this body; it came gzip-compressed, and 1.0 MB were read (reading stopped at 976.6 KB, "
            "INTEGRATIONS_MAX_RESPONSE_BYTES).") in text
