"""The Actions log says what was decided in the same words as the run's headline: a status the error policy
judged says what the policy did (fail, or retry in how long, and why that long); a real run's request that could
not be built is "not sent", not "not sent (rehearsal)"; a placeholder whose field a mapping did not find is
blamed on that mapping; the log's header counts requests, not rows.

Real runs against a scripted server on 127.0.0.1 (django-q2 in synchronous mode), read back through the run's
page as an admin sees it.
"""

import re

import pytest
from django.urls import reverse

from runs.models import ExchangeKind, Status
from runs.services import start_run
from tests.engine_helpers import drive, make_action, step
from tests.servers import reply
from tests.test_admin_runs import text_of

pytestmark = pytest.mark.usefixtures("q_sync")

STOP = [("status", "equals", "done", "success")]


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return client


def page_of(client, run):
    return client.get(reverse("admin:runs_run_change", args=[run.pk]))


def test_a_401_row_says_the_status_is_not_accepted_and_the_run_fails_as_its_headline_does(staff, db, server):
    server.script("/jobs", reply(401, json={"error": "bad token"}))
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/1", stop=STOP,
                         on_other_status="fail")

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert run.reason == "The first request failed: The service answered 401, which is not an accepted status (2xx)."
    [row] = run.exchanges.all()
    assert row.decision.endswith("401 is not an accepted status (2xx): the run fails.")
    assert "No stop condition matched" not in row.decision
    text = text_of(page_of(staff, run))
    assert "401 is not an accepted status (2xx): the run fails." in text
    assert "No stop condition matched" not in text


def test_a_503_row_says_it_is_retried_in_the_seconds_its_retry_after_asked_for(staff, db, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    server.script("/jobs/1", [reply(503, text="busy", headers={"Retry-After": "3"}), reply(json={"status": "done"})])
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/1", stop=STOP, poll_interval=1,
                         on_server_error="retry", max_consecutive_errors=3)

    run = step(step(start_run(action)))

    assert run.status == Status.POLLING
    row = run.exchanges.filter(kind=ExchangeKind.POLL).get()
    assert row.status_code == 503
    assert row.decision == "503 is not an accepted status (2xx). Error 1 of 3 in a row: retried in 3 s (Retry-After)."
    assert round((run.next_poll_at - row.created_at).total_seconds()) == 3
    assert "retried in 3 s (Retry-After)" in text_of(page_of(staff, run))
    assert drive(run).status == Status.SUCCEEDED


def test_a_500_row_without_retry_after_says_the_real_interval(db, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    server.script("/jobs/1", [reply(500, text="oops"), reply(json={"status": "done"})])
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/1", stop=STOP, poll_interval=2,
                         on_server_error="retry", max_consecutive_errors=3)

    run = step(step(start_run(action)))

    row = run.exchanges.filter(kind=ExchangeKind.POLL).get()
    assert row.decision == "500 is not an accepted status (2xx). Error 1 of 3 in a row: retried in 2 s."


def test_a_real_run_whose_request_could_not_be_built_is_not_sent_and_not_called_a_rehearsal(staff, db, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/1", stop=STOP)
    run = start_run(action)
    action.poll_url = "/jobs/{{ nowhere }}"
    action.save()  # as if changed while the run was going (the form would refuse an unknown name)

    run = drive(run)

    assert run.status == Status.FAILED
    assert run.reason.startswith("The poll could not be built: Unknown placeholder {{ nowhere }}")
    text = text_of(page_of(staff, run))
    assert "not sent" in text
    assert "not sent (rehearsal)" not in text


def test_a_rehearsal_row_still_says_rehearsal(staff, db, server):
    action = make_action(server.base_url, polling_mode="none")

    run = drive(start_run(action, rehearsal=True))

    assert run.status == Status.SKIPPED
    assert "not sent (rehearsal)" in text_of(page_of(staff, run))


def test_a_placeholder_whose_mapping_found_nothing_blames_that_mapping_at_that_exchange(staff, db, server):
    server.script("/jobs", reply(201, json={"job": {"ref": "j-1"}}))  # no "id" where the mapping looks
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/{{ job_id }}", stop=STOP,
                         mappings=[("job_id", "id")])

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert run.reason == ("The poll could not be built: the mapping job_id <- id found nothing in the answer to "
                          "the first request (attempt 1), so {{ job_id }} has no value.")
    request = run.exchanges.get(kind=ExchangeKind.REQUEST)
    assert "Found nothing for job_id <- id." in request.decision
    assert "the mapping job_id &lt;- id found nothing" in page_of(staff, run).content.decode()


def test_the_log_header_counts_requests_not_rows(staff, db, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    server.script("/jobs/1", [reply(json={"status": "queued"})] * 5 + [reply(json={"status": "done"})])
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/1", stop=STOP, poll_interval=1)

    run = drive(start_run(action))

    assert run.attempt == 7
    rows = run.exchanges.count()
    assert rows == 3  # the request, five identical polls in one row, the last poll
    assert "7 exchanges in 3 rows, newest first" in text_of(page_of(staff, run))


def test_a_long_url_is_one_line_with_the_whole_of_it_on_hover(staff, db, server):
    long_path = "/jobs?" + "&".join(f"filter_{n}=value-{n}" for n in range(30))
    server.script("/jobs", reply(json={"status": "done"}))
    action = make_action(server.base_url, url=long_path, polling_mode="none")

    run = drive(start_run(action))

    html = page_of(staff, run).content.decode()
    [title] = re.findall(r'class="run-log-request" title="([^"]+)"', html)
    assert title.endswith("filter_29=value-29") and title.startswith("POST http://127.0.0.1")
