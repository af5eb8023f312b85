"""`manage.py run_action --wait` waits as the API's ?wait= does: woken by the watcher when the run's status
changes, not by polling the run itself."""

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from runs import services, waiting
from runs.models import Run, Status
from tests.api_helpers import job_action

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def watcher_left_idle():
    yield
    assert waiting.watcher.idle.wait(10), "the watcher still holds its connection with nobody waiting"


@pytest.fixture
def action(server):
    return job_action(server)


@pytest.fixture
def registered(monkeypatch):
    """An Event set once a waiter is registered with the watcher."""
    event = threading.Event()
    register = waiting.watcher.register

    def register_and_tell(*args, **kwargs):
        waiter = register(*args, **kwargs)
        event.set()
        return waiter

    monkeypatch.setattr(waiting.watcher, "register", register_and_tell)
    return event


def test_it_follows_the_run_with_the_watcher_and_ends_when_the_run_does(action, registered, capsys, monkeypatch):
    monkeypatch.setattr("runs.management.commands.run_action.PROGRESS_EVERY", 30)
    outcomes = []

    def noted(*args, **kwargs):
        outcomes.append(waiting.wait_for_change(*args, **kwargs))
        return outcomes[-1]

    monkeypatch.setattr("runs.management.commands.run_action.wait_for_change", noted)

    def cancel_once_waited_for():
        try:
            assert registered.wait(30)
            services.cancel(Run.objects.get())
        finally:
            connection.close()

    canceller = threading.Thread(target=cancel_once_waited_for)
    canceller.start()
    with pytest.raises(SystemExit) as exit_:
        call_command("run_action", f"{action.integration.slug}/{action.slug}", "--wait", "--timeout", "60")
    canceller.join(10)

    assert outcomes == [waiting.Outcome.CHANGED]  # woken by the change, not by the time
    assert exit_.value.code == 1  # it did not succeed
    run = Run.objects.get()
    assert run.status == Status.CANCELLED
    assert f"Run {run.pk} cancelled" in capsys.readouterr().out


def test_the_timeout_ends_the_wait_with_an_error(action, registered):
    with pytest.raises(CommandError, match=r"is still pending after 0.3 s"):
        call_command("run_action", f"{action.integration.slug}/{action.slug}", "--wait", "--timeout", "0.3")

    assert registered.is_set()
