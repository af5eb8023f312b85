"""GET /api/runs/{id}/?wait=SECONDS answers as soon as the run's status changes, or when the time is up."""

import threading
import time

import pytest
import yaml
from django.contrib.auth.models import User
from django.db import connection

from runs import services, waiting
from runs.models import Status
from runs.services import start_run
from tests.api_helpers import detail, job_action, token_client
from tests.engine_helpers import drive

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("q_sync")]


@pytest.fixture(autouse=True)
def watcher_left_idle():
    """After each test the watcher holds no connection (PostgreSQL drops the test database at the end)."""
    yield
    assert waiting.watcher.idle.wait(10), "the watcher still holds its connection with nobody waiting"


@pytest.fixture
def api(viewer_user):
    return token_client(viewer_user)


@pytest.fixture
def pending(server):
    """A run that stays pending: no cluster runs here."""
    return start_run(job_action(server), {"note": "n"})


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


@pytest.fixture
def never_waits(monkeypatch):
    """Fail the test if anything registers a waiter."""
    def register(*args, **kwargs):
        raise AssertionError("a waiter was registered")

    monkeypatch.setattr(waiting.watcher, "register", register)


def in_thread(target):
    """Run ``target`` in a thread that closes its database connection when done."""
    def run():
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_it_answers_as_soon_as_the_run_is_cancelled_from_elsewhere(api, pending, registered):
    def cancel_once_waited_for():
        assert registered.wait(30)
        services.cancel(pending)

    canceller = in_thread(cancel_once_waited_for)
    started = time.monotonic()
    response = api.get(f"/api/runs/{pending.pk}/?wait=30")
    took = time.monotonic() - started
    canceller.join(10)

    assert response.status_code == 200
    assert response["Wait-Outcome"] == "changed"
    assert response.json()["status"] == "cancelled"
    assert took < 30


def test_with_the_status_seen_it_answers_when_the_run_leaves_it(api, pending, registered):
    canceller = in_thread(lambda: registered.wait(30) and services.cancel(pending))

    response = api.get(f"/api/runs/{pending.pk}/?wait=30&status=pending")
    canceller.join(10)

    assert response["Wait-Outcome"] == "changed"
    assert response.json()["status"] == "cancelled"


def test_when_the_time_is_up_it_answers_the_unchanged_run(api, pending):
    plain = api.get(f"/api/runs/{pending.pk}/").json()

    response = api.get(f"/api/runs/{pending.pk}/?wait=0.3")

    assert response.status_code == 200
    assert response["Wait-Outcome"] == "timeout"
    assert response.json() == plain
    assert response.json()["status"] == "pending"


def test_a_finished_run_answers_at_once_as_ended(api, server, never_waits):
    failed = drive(start_run(job_action(server, final="failed"), {"note": "n"}))

    response = api.get(f"/api/runs/{failed.pk}/?wait=30")

    assert response.status_code == 200
    assert response["Wait-Outcome"] == "ended"
    assert response.json()["status"] == "failed"


def test_a_status_other_than_the_one_seen_answers_at_once_as_changed(api, server, never_waits):
    failed = drive(start_run(job_action(server, final="failed"), {"note": "n"}))

    response = api.get(f"/api/runs/{failed.pk}/?wait=30&status=polling")

    assert response["Wait-Outcome"] == "changed"
    assert response.json()["status"] == "failed"


def test_without_wait_there_is_no_wait_outcome(api, pending, never_waits):
    response = api.get(f"/api/runs/{pending.pk}/")

    assert response.status_code == 200
    assert "Wait-Outcome" not in response


def test_a_longer_wait_is_cut_to_the_setting(api, pending, settings, monkeypatch):
    settings.INTEGRATIONS_API_MAX_WAIT = 0.2
    asked = []
    wait_for_change = waiting.wait_for_change

    def spy(run, seconds, **kwargs):
        asked.append(seconds)
        return wait_for_change(run, seconds, **kwargs)

    monkeypatch.setattr(waiting, "wait_for_change", spy)

    response = api.get(f"/api/runs/{pending.pk}/?wait=3600")

    assert asked == [0.2]
    assert response["Wait-Outcome"] == "timeout"


SECONDS = "Give the seconds to wait: a number, 0 or more."


@pytest.mark.parametrize("query, field, message", [
    ("wait=soon", "wait", SECONDS),
    ("wait=", "wait", SECONDS),
    ("wait=-1", "wait", SECONDS),
    ("wait=nan", "wait", SECONDS),
    ("wait=inf", "wait", SECONDS),
    ("wait=1e999", "wait", SECONDS),
    ("wait=5&status=moon", "status", "is no status; give one of pending, running,"),
])
def test_a_bad_wait_or_status_is_a_400_naming_it(api, pending, never_waits, query, field, message):
    response = api.get(f"/api/runs/{pending.pk}/?{query}")

    assert response.status_code == 400
    assert message in detail(response, field)


def test_a_status_without_wait_waits_for_nothing(api, pending, never_waits):
    """The schema lets ?status= stand alone; it then answers at once, as without it (no Wait-Outcome)."""
    response = api.get(f"/api/runs/{pending.pk}/?status=running")

    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    assert "Wait-Outcome" not in response


@pytest.mark.parametrize("who, code", [("nobody", 401), ("no permission", 403)])
def test_waiting_needs_what_reading_needs(pending, never_waits, who, code):
    client = token_client(None if who == "nobody" else User.objects.create_user("carol"))

    response = client.get(f"/api/runs/{pending.pk}/?wait=30")

    assert response.status_code == code
    assert "Wait-Outcome" not in response


def test_an_unknown_run_is_a_404_without_waiting(api, never_waits):
    response = api.get("/api/runs/999999/?wait=30")

    assert response.status_code == 404


def test_the_schema_documents_the_parameters_and_the_header(api):
    schema = yaml.safe_load(api.get("/api/schema/").content)
    read = schema["paths"]["/api/runs/{id}/"]["get"]

    parameters = {parameter["name"]: parameter for parameter in read["parameters"]}
    assert parameters["wait"]["in"] == "query" and parameters["wait"]["schema"]["type"] == "number"
    assert "pending" in parameters["status"]["schema"]["enum"]
    header = read["responses"]["200"]["headers"]["Wait-Outcome"]
    assert sorted(header["schema"]["enum"]) == ["changed", "ended", "timeout"]
    assert "400" in read["responses"]
