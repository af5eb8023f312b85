"""A fault while building, sending, judging or writing back one run fails that run with the reason in words;
the other runs of its batch go on, and no exception text (secrets included) leaves the engine unmasked."""

import logging

from django.core.exceptions import ValidationError

import pytest
from django.utils import timezone
from django_q.models import Failure

from integrations.models import Action, Integration
from runs import batch, due_work, exchange_log
from runs.dispatch import dispatch_once
from runs.models import ACTIVE, ExchangeKind, Run, Status
from runs.services import start_run
from tests.engine_helpers import drive, make_action
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

STOP = [("status", "equals", "done", "success")]
SECRET = "s3cr3t-token-value"


def due_together(*runs):
    """Make ``runs`` due at once and dispatch them: they share one batch."""
    Run.objects.filter(pk__in=[run.pk for run in runs]).update(next_poll_at=timezone.now())
    assert dispatch_once() == len(runs)
    for run in runs:
        run.refresh_from_db()
    return runs


def healthy(server):
    server.script("/ok", reply(json={"status": "done"}))
    other = Integration.objects.create(name="Other", slug="other", base_url=server.base_url)
    return start_run(make_action(server.base_url, integration=other, url="/ok", stop=STOP))


def test_a_line_break_from_a_variable_in_a_header_refuses_the_run_before_it_starts(db, server):
    action = make_action(server.base_url, headers={"X-Ticket": "{{ ticket }}"}, stop=STOP, inputs=["ticket"])

    with pytest.raises(ValidationError, match="X-Ticket.*line break"):
        start_run(action, {"ticket": "42\r\nX-Injected: yes"})
    assert not Run.objects.exists()


def test_a_line_break_from_a_variable_in_a_header_fails_that_run_and_its_neighbour_succeeds(db, server):
    server.script("/jobs", reply(json={"status": "done"}))
    action = make_action(server.base_url, headers={"X-Ticket": "{{ ticket }}"}, stop=STOP, inputs=["ticket"])
    broken = start_run(action, {"ticket": "42"})
    # Variables that got past the check at start (a run created before it existed, or by other means).
    Run.objects.filter(pk=broken.pk).update(variables={"ticket": "42\r\nX-Injected: yes"})
    neighbour = healthy(server)

    broken, neighbour = due_together(broken, neighbour)

    assert broken.status == Status.FAILED
    assert "X-Ticket" in broken.reason and "line break" in broken.reason
    assert neighbour.status == Status.SUCCEEDED, neighbour.reason
    assert [r.path for r in server.requests] == ["/ok"]
    assert broken.exchanges.get().sent is False


def test_a_line_break_in_a_value_stored_off_a_response_fails_the_run_at_its_next_poll(db, server):
    server.script("/jobs", reply(201, json={"id": 7, "session": "abc\r\nX-Evil: 1"}))
    action = make_action(server.base_url, polling_mode="poll", poll_url="/jobs/7", poll_interval=1,
                         poll_headers={"X-Session": "{{ session }}"}, stop=STOP, mappings=[("session", "session")])

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "X-Session" in run.reason
    assert [r.path for r in server.requests] == ["/jobs"]
    assert run.lease_token == "" and run.next_poll_at is None


def test_a_control_character_from_a_secret_in_a_header_is_refused_without_quoting_the_secret(db, server):
    integration = Integration.objects.create(name="Acme", slug="acme", base_url=server.base_url)
    integration.secrets.create(name="KEY", value=SECRET + "\x01")
    action = make_action(server.base_url, integration=integration, headers={"X-Key": "{{ secrets.KEY }}"})

    with pytest.raises(ValidationError) as refused:
        start_run(action)
    assert "X-Key" in str(refused.value) and "control character" in str(refused.value)
    assert SECRET not in str(refused.value)


def test_an_invalid_header_name_fails_the_run_in_words(db, server):
    action = make_action(server.base_url, stop=STOP)
    run = start_run(action)
    # Saved before header names were checked (or written around the validation).
    Action.objects.filter(pk=action.pk).update(headers={"X Bad Name": "1"}, updated_at=timezone.now())

    run = drive(run)

    assert run.status == Status.FAILED
    assert "'X Bad Name' is not a valid HTTP header name" in run.reason
    assert server.requests == []


def test_a_timeout_far_past_any_maximum_cannot_block_its_batch(db, server):
    server.script("/jobs", reply(json={"status": "done"}))
    action = make_action(server.base_url, stop=STOP)
    # Saved before timeouts had maxima (or written around the validation).
    Action.objects.filter(pk=action.pk).update(read_timeout=1e10, connect_timeout=1e10, updated_at=timezone.now())
    run = start_run(Action.objects.get(pk=action.pk))
    neighbour = healthy(server)

    run, neighbour = due_together(run, neighbour)

    assert run.status == Status.SUCCEEDED, run.reason
    assert neighbour.status == Status.SUCCEEDED, neighbour.reason


def test_a_bug_while_judging_an_answer_fails_that_run_with_the_exception_masked(db, server, monkeypatch, caplog):
    integration = Integration.objects.create(name="Acme", slug="acme", base_url=server.base_url,
                                             auth_type="bearer", auth_secret=SECRET)
    server.script("/jobs", reply(json={"status": "done"}))
    run = start_run(make_action(server.base_url, integration=integration, stop=STOP))
    neighbour = healthy(server)
    judge = due_work.conclude

    def conclude(run, definition, send, result, **kwargs):
        if definition.integration.slug == "acme":
            raise RuntimeError(f"cannot handle Authorization {send.outbound.headers['Authorization']}")
        return judge(run, definition, send, result, **kwargs)

    monkeypatch.setattr(due_work, "conclude", conclude)
    caplog.set_level(logging.ERROR)

    run, neighbour = due_together(run, neighbour)

    assert run.status == Status.FAILED
    assert run.reason.startswith("Internal error while sending the request or judging its answer: RuntimeError")
    assert SECRET not in run.reason and "Bearer ***" in run.reason
    assert neighbour.status == Status.SUCCEEDED, neighbour.reason
    assert "RuntimeError" in caplog.text and SECRET not in caplog.text
    assert not Failure.objects.exists()


def test_a_decision_the_database_refuses_fails_that_run_and_the_rest_are_saved(db, server):
    server.script("/jobs", reply(json={"status": "queued"}))
    action = make_action(server.base_url, polling_mode="poll", poll_interval=1, stop=STOP)
    refused, saved = start_run(action), start_run(action)
    decisions = []
    for run in (refused, saved):
        decision = due_work.unchanged(run)
        decision.fields = {"ratio": float("nan")} if run is refused else {"ratio": 0.5}
        decision.exchanges.append(exchange_log.exchange(run, ExchangeKind.POLL, at=run.created_at,
                                                        redactor=_redactor(action), decision="Keep polling."))
        decisions.append(batch.Done(decision, run.lease_token, _redactor(action)))

    batch.write_back(decisions)

    refused.refresh_from_db()
    saved.refresh_from_db()
    assert refused.status == Status.FAILED
    assert refused.reason.startswith("The result could not be saved")
    # Its log says so too, in the exchange whose decision was refused.
    logged = refused.exchanges.get()
    assert logged.error.startswith("The answer could not be saved") and logged.failed_part == "response"
    assert saved.fields == {"ratio": 0.5}
    assert saved.exchanges.get().decision == "Keep polling."
    assert saved.status in ACTIVE


def _redactor(action):
    from runs.definitions import definition_for

    return definition_for(action).redactor
