"""An action's fixed start time: a run started early waits, is shown as scheduled, and can be cancelled."""

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from runs.dispatch import dispatch_once
from runs.models import Run, Status
from runs.services import cancel, start_run
from tests.api_helpers import token_client
from tests.engine_helpers import make_action
from tests.servers import reply
from tests.test_admin_runs import text_of

pytestmark = pytest.mark.usefixtures("q_sync")

STOP = [("status", "equals", "done", "success")]


def scheduled_action(server, starts_in, **fields):
    server.script("/jobs", reply(json={"status": "done"}))
    return make_action(server.base_url, stop=STOP, fixed_start_time=timezone.now() + starts_in, **fields)


def test_a_run_started_before_the_fixed_time_waits_and_says_so(db, server):
    action = scheduled_action(server, timedelta(hours=1))

    run = start_run(action)
    dispatch_once()

    run.refresh_from_db()
    assert run.status == Status.PENDING
    assert run.is_scheduled
    assert run.next_poll_at == action.fixed_start_time
    assert run.reason.startswith("Scheduled: the action starts at its fixed start time, ")
    assert server.requests == []


def test_a_run_starts_at_the_fixed_time(db, server):
    action = scheduled_action(server, timedelta(seconds=1.5))
    run = start_run(action)

    # The time itself is what is awaited: the dispatcher is asked, as its thread would, until the run is sent.
    deadline = time.monotonic() + 15
    while not server.requests and time.monotonic() < deadline:
        dispatch_once()
        time.sleep(0.05)

    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED
    assert run.started_at >= action.fixed_start_time
    assert not run.is_scheduled


def test_a_run_started_after_the_fixed_time_starts_at_once(db, server):
    action = scheduled_action(server, -timedelta(minutes=5))

    run = start_run(action)

    assert not run.is_scheduled
    assert run.reason == ""
    assert run.next_poll_at <= timezone.now()


def test_a_scheduled_run_can_be_cancelled_even_when_the_action_is_not_cancelable(db, server):
    server.script("/cancel", reply(204))
    action = scheduled_action(server, timedelta(hours=1), cancelable=False, cancel_webhook_url="/cancel")
    run = start_run(action)

    cancelled = cancel(run)

    assert cancelled.status == Status.CANCELLED
    assert server.requests == []  # nothing was started, so the service is not told of a cancel


def test_the_admin_shows_a_scheduled_run_and_cancels_it(client, admin_user, db, server):
    action = scheduled_action(server, timedelta(hours=1), cancelable=False)
    run = start_run(action)
    client.force_login(admin_user)

    listing = client.get(reverse("admin:runs_run_changelist")).content.decode()
    page = client.get(reverse("admin:runs_run_change", args=[run.pk]))

    assert 'run-status--scheduled' in listing and ">Scheduled</span>" in listing
    assert "Starts at" in text_of(page)
    assert reverse("admin:runs_run_cancel", args=[run.pk]) in page.content.decode()
    client.post(reverse("admin:runs_run_cancel", args=[run.pk]))
    assert Run.objects.get(pk=run.pk).status == Status.CANCELLED


def test_the_api_cancels_a_scheduled_run(admin_user, db, server):
    action = scheduled_action(server, timedelta(hours=1), cancelable=False)
    run = start_run(action)

    response = token_client(admin_user).post(f"/api/runs/{run.pk}/cancel/")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"


def test_a_run_that_has_started_is_not_cancelable_unless_its_action_is(db, server):
    server.script("/jobs/1", reply(json={"status": "running"}))
    server.script("/jobs", reply(json={"status": "queued"}))
    action = make_action(server.base_url, stop=STOP, polling_mode="poll", poll_url="/jobs/1", cancelable=False)
    run = start_run(action)
    dispatch_once()
    run.refresh_from_db()

    assert run.status == Status.POLLING
    assert not run.can_cancel
