from datetime import timedelta

import pytest
from django.utils import timezone

from runs.services import start_run
from runs.models import Run, Status
from tests.engine_helpers import drive, make_action, step
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

STOP = [("status", "equals", "done", "success")]


def test_the_attempt_limit_counts_the_first_request_as_poll_1_when_the_request_repeats_itself(db, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    action = make_action(server.base_url, polling_mode="poll", poll_interval=1, poll_max_attempts=3, stop=STOP)

    run = drive(start_run(action))

    assert run.status == Status.TIMED_OUT
    assert "3 polls" in run.reason
    assert run.attempt == run.polls == 3
    assert len(server.requests) == 3  # three requests in all, as ChiefOnboarding's amount: 3


def test_the_attempt_limit_counts_polls_only_when_the_polling_url_is_separate(db, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    server.script("/jobs/1", reply(json={"status": "queued"}))
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/1", poll_interval=1,
                         poll_max_attempts=3, stop=STOP)

    run = drive(start_run(action))

    assert run.status == Status.TIMED_OUT
    assert run.polls == 3
    assert run.attempt == 4
    assert [r.path for r in server.requests] == ["/jobs", "/jobs/1", "/jobs/1", "/jobs/1"]
    assert run.next_poll_at is None and run.finished_at is not None


def test_the_time_limit_times_a_polling_run_out_without_polling_again(db, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    action = make_action(server.base_url, polling_mode="poll", poll_interval=1, poll_timeout=600, stop=STOP)
    run = step(step(start_run(action)))
    assert run.status == Status.POLLING
    assert run.deadline_at is not None
    sent = len(server.requests)

    Run.objects.filter(pk=run.pk).update(deadline_at=timezone.now() - timedelta(seconds=1))
    run = step(run)

    assert run.status == Status.TIMED_OUT
    assert run.reason == "Timed out after 600 s polling."
    assert len(server.requests) == sent


def test_the_next_poll_is_never_later_than_the_deadline(db, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    action = make_action(server.base_url, polling_mode="poll", poll_interval=60, poll_timeout=5, stop=STOP)

    run = step(start_run(action))

    assert run.status == Status.POLLING
    assert run.next_poll_at == run.deadline_at


def test_a_run_waiting_for_a_callback_times_out_too(db, server):
    server.script("/jobs", reply(202, json={"accepted": True}))
    action = make_action(server.base_url, polling_mode="callback", poll_timeout=3600, stop=STOP)
    run = step(start_run(action))
    assert run.status == Status.WAITING_CALLBACK
    assert run.next_poll_at == run.deadline_at

    Run.objects.filter(pk=run.pk).update(deadline_at=timezone.now() - timedelta(seconds=1))
    run = drive(run)

    assert run.status == Status.TIMED_OUT
    assert run.reason == "Timed out after 3600 s waiting for a callback."
    assert len(server.requests) == 1


def test_a_run_waiting_for_a_callback_without_a_time_limit_is_never_due(db, server):
    server.script("/jobs", reply(202, json={}))
    action = make_action(server.base_url, polling_mode="callback", stop=STOP)

    run = step(start_run(action))

    assert run.status == Status.WAITING_CALLBACK
    assert run.next_poll_at is None
