"""The watcher behind ?wait= and run_action --wait: one query for every waiter, waking those whose run moved
on; it outlives the database going away and lets go of its connection when nobody waits."""

import logging
import threading

import pytest
from django.db import OperationalError, connections

from runs import services, waiting
from runs.models import Run, Status
from runs.services import start_run
from tests.api_helpers import job_action

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def watcher():
    watcher = waiting.Watcher(every=0.01)
    yield watcher
    assert watcher.idle.wait(10), "the watcher still holds its connection with nobody waiting"


@pytest.fixture
def runs(server):
    action = job_action(server)
    return [start_run(action, {"note": str(number)}) for number in range(3)]


def test_one_query_wakes_exactly_the_waiters_whose_run_changed(watcher, runs, monkeypatch):
    everyone = {run.pk for run in runs}
    queries = []
    asked_for_everyone = threading.Event()
    statuses = watcher._statuses

    def counted(run_ids):
        queries.append(set(run_ids))
        if set(run_ids) == everyone:
            asked_for_everyone.set()
        return statuses(run_ids)

    monkeypatch.setattr(watcher, "_statuses", counted)
    # The watcher may ask between two registrations (for the waiters it has so far), never once per waiter.
    waiters = [watcher.register(run.pk, Status.PENDING) for run in runs]
    try:
        services.cancel(runs[1])
        assert waiters[1].woken.wait(10)
        assert asked_for_everyone.wait(10), queries  # all of them in one question
        assert not waiters[0].woken.is_set() and not waiters[2].woken.is_set()
    finally:
        for waiter in waiters:
            watcher.unregister(waiter)


def test_a_waiter_that_saw_an_older_status_is_woken_at_once(watcher, runs):
    with watcher.watching(runs[0].pk, Status.POLLING) as waiter:
        assert waiter.woken.wait(10)


def test_a_deleted_run_wakes_its_waiter(watcher, runs):
    with watcher.watching(runs[0].pk, Status.PENDING) as waiter:
        Run.objects.filter(pk=runs[0].pk).delete()
        assert waiter.woken.wait(10)


def test_a_database_outage_is_logged_once_and_waiters_are_woken_after_it(watcher, runs, monkeypatch, caplog):
    failures = threading.Semaphore(0)
    real = watcher._statuses
    calls = []

    def flaky(run_ids):
        calls.append(1)
        if len(calls) <= 20:
            failures.release()
            raise OperationalError("could not connect to server: Connection refused")
        return real(run_ids)

    monkeypatch.setattr(watcher, "_statuses", flaky)
    with caplog.at_level(logging.INFO, logger="runs.waiting"):
        with watcher.watching(runs[0].pk, Status.PENDING) as waiter:
            for _ in range(20):
                assert failures.acquire(timeout=10)
            services.cancel(runs[0])
            assert waiter.woken.wait(10)

    messages = [record.getMessage() for record in caplog.records if record.name == "runs.waiting"]
    assert messages[0] == ("Watching runs for their waiters failed: OperationalError: could not connect to server: "
                           "Connection refused; trying again (logged once a minute while it lasts).")
    assert messages[1].startswith("Watching runs for their waiters works again after")
    assert len(messages) == 2
    assert not any(record.exc_info for record in caplog.records)


def test_with_nobody_waiting_the_watcher_closes_its_connection(watcher, runs, monkeypatch):
    held = []
    statuses = watcher._statuses

    def noted(run_ids):
        held.append(connections["default"])  # the watcher thread's own
        return statuses(run_ids)

    monkeypatch.setattr(watcher, "_statuses", noted)
    with watcher.watching(runs[0].pk, Status.PENDING) as waiter:
        services.cancel(runs[0])
        assert waiter.woken.wait(10)
    assert watcher.idle.wait(10)

    assert held and held[-1].connection is None
