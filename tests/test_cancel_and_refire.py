import socket

import pytest
from django.core.exceptions import ValidationError

from integrations.models import ActionInput
from runs.services import RunRefused, cancel, refire, start_run
from runs.models import ExchangeKind, Run, Status
from tests.engine_helpers import drive, make_action, step
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

STOP = [("status", "equals", "done", "success"), ("status", "equals", "failed", "failure")]


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def polling_action(server, **fields):
    server.script("/jobs", reply(201, json={"id": "j-1", "status": "queued"}))
    mappings = [("job_id", "id"), *fields.pop("mappings", [])]
    return make_action(server.base_url, polling_mode="poll", poll_url="/jobs/{{ job_id }}", stop=STOP,
                       mappings=mappings, **fields)


def test_cancelling_a_polling_run_calls_the_cancel_webhook_and_ends_it_cancelled(db, server):
    server.script("/jobs/j-1/cancel", reply(204))
    action = polling_action(server, cancel_webhook_url="/jobs/{{ job_id }}/cancel",
                            cancel_webhook_body='{"job": "{{ job_id }}", "reason": "operator"}')
    run = step(start_run(action))
    assert run.status == Status.POLLING

    cancel(run)

    received = server.wait_for(1, path="/jobs/j-1/cancel")[0]
    assert received.method == "POST"
    assert received.json() == {"job": "j-1", "reason": "operator"}
    run.refresh_from_db()
    assert run.status == Status.CANCELLED
    assert run.next_poll_at is None and run.finished_at is not None
    webhook = run.exchanges.get(kind=ExchangeKind.CANCEL_WEBHOOK)
    assert webhook.status_code == 204
    assert webhook.url == server.url("/jobs/j-1/cancel")


def test_cancelling_names_who_cancelled(db, server, admin_user):
    run = step(start_run(polling_action(server)))

    cancel(run, user=admin_user)

    run.refresh_from_db()
    assert run.reason == "Cancelled by alice."
    assert not run.exchanges.filter(kind=ExchangeKind.CANCEL_WEBHOOK).exists()


def test_a_cancel_webhook_that_cannot_be_built_is_logged_and_the_run_stays_cancelled(db, server):
    # The answer has no remote.id, so the field the webhook needs is never stored.
    action = polling_action(server, cancel_webhook_url="/jobs/{{ remote_id }}/cancel",
                            mappings=[("remote_id", "remote.id")])
    run = step(start_run(action))

    cancel(run)

    run.refresh_from_db()
    assert run.status == Status.CANCELLED
    webhook = run.exchanges.get(kind=ExchangeKind.CANCEL_WEBHOOK)
    assert webhook.sent is False
    assert "remote_id" in webhook.error
    assert server.requests_to("/jobs/j-1/cancel") == []


def test_a_cancel_webhook_that_fails_is_logged_with_its_error(db, server):
    action = polling_action(server, cancel_webhook_url=f"http://127.0.0.1:{closed_port()}/cancel", connect_timeout=1)
    run = step(start_run(action))

    cancel(run)

    run.refresh_from_db()
    assert run.status == Status.CANCELLED
    webhook = run.exchanges.get(kind=ExchangeKind.CANCEL_WEBHOOK)
    assert webhook.error.startswith("Connection failed")
    assert webhook.failed_part == "request"


def test_a_run_of_an_action_that_is_not_cancelable_refuses(db, server):
    run = step(start_run(polling_action(server, cancelable=False)))

    with pytest.raises(RunRefused, match="not cancelable"):
        cancel(run)

    run.refresh_from_db()
    assert run.status == Status.POLLING


def test_a_finished_run_cannot_be_cancelled(db, server):
    server.script("/jobs/j-1", reply(json={"status": "done"}))
    run = drive(start_run(polling_action(server)))

    with pytest.raises(RunRefused, match="already succeeded"):
        cancel(run)


@pytest.fixture
def failed_run(db, server):
    server.script("/jobs/j-1", reply(json={"status": "failed"}))
    action = polling_action(server)
    ActionInput.objects.create(action=action, name="env", choices="staging,production")
    run = drive(start_run(action, {"env": "staging"}))
    assert run.status == Status.FAILED
    return run


def test_refiring_a_failed_run_makes_a_linked_run_with_the_same_variables(failed_run, admin_user, server):
    server.script("/jobs/j-1", reply(json={"status": "done"}))

    new = refire(failed_run, user=admin_user)

    assert new.pk != failed_run.pk
    assert new.refired_from == failed_run
    assert new.variables == {"env": "staging"}
    assert new.created_by == admin_user
    assert new.status == Status.PENDING
    assert list(failed_run.refires.all()) == [new]
    assert drive(new).status == Status.SUCCEEDED


def test_refiring_with_edited_variables_uses_them(failed_run):
    new = refire(failed_run, {"env": "production"})

    assert new.variables == {"env": "production"}
    assert new.refired_from == failed_run


def test_refiring_with_bad_variables_is_refused_like_a_new_run(failed_run):
    with pytest.raises(ValidationError) as caught:
        refire(failed_run, {"env": "moon"})

    assert "env" in caught.value.message_dict
    assert Run.objects.count() == 1


def test_refiring_a_succeeded_run_is_refused(db, server):
    server.script("/jobs/j-1", reply(json={"status": "done"}))
    run = drive(start_run(polling_action(server)))

    with pytest.raises(RunRefused, match="this one is succeeded"):
        refire(run)

    assert Run.objects.count() == 1


def test_a_cancelled_run_can_be_refired(db, server):
    run = step(start_run(polling_action(server)))
    cancel(run)
    run.refresh_from_db()

    assert refire(run).refired_from == run
