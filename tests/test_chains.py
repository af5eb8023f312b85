"""Chains: a run that succeeds goes on into its action's next action, with every variable and field so far."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from runs import batch, due_work
from runs.chains import ChainStatus, chain_of, chain_status
from runs.models import Run, Status
from runs.services import NotWaiting, cancel, confirm, refire, reject, start, start_run
from tests.engine_helpers import drive, make_action
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")


def three_steps(server, *, second=None):
    """Create an order (stores the_id), pay it, ship it: the second and third read {{ the_id }}."""
    server.script("/orders", reply(201, json={"id": "o-7"}))
    server.script("/orders/o-7/pay", second or reply(200, json={"paid": True}))
    server.script("/orders/o-7/ship", reply(200, json={"tracking": "T-1"}))
    first = make_action(server.base_url, name="Create", url="/orders", inputs=["customer"],
                        mappings=[("the_id", "id")])
    middle = make_action(server.base_url, integration=first.integration, name="Pay", url="/orders/{{ the_id }}/pay",
                         body_type="json", body='{"customer": "{{ customer }}"}', after=first)
    last = make_action(server.base_url, integration=first.integration, name="Ship",
                       url="/orders/{{ the_id }}/ship", mappings=[("tracking", "tracking")], after=middle)
    return first, middle, last


def next_of(run):
    return Run.objects.get(previous_run=run, refired_from__isnull=True)


def test_a_three_step_chain_passes_a_stored_id_forward(db, server):
    first, middle, last = three_steps(server)

    one = drive(start_run(first, {"customer": "c-1"}))
    two = drive(next_of(one))
    three = drive(next_of(two))

    assert [one.status, two.status, three.status] == [Status.SUCCEEDED] * 3
    assert [two.action, three.action] == [middle, last]
    assert server.requests_to("/orders/o-7/pay")[0].json() == {"customer": "c-1"}
    assert len(server.requests_to("/orders/o-7/ship")) == 1
    assert three.fields == {"the_id": "o-7", "tracking": "T-1"}
    assert three.variables == {"customer": "c-1"}
    assert not Run.objects.filter(previous_run=three).exists()
    steps = chain_of(two)
    assert [step.run for step in steps] == [one, two, three]
    assert chain_status(steps) == ChainStatus.SUCCEEDED


def test_a_next_action_without_auto_start_waits_for_a_start(db, server):
    first, middle, _ = three_steps(server)
    middle.auto_start = False
    middle.save()

    two = next_of(drive(start_run(first, {"customer": "c-1"})))

    assert two.status == Status.WAITING_START and two.next_poll_at is None
    assert chain_status(chain_of(two)) == ChainStatus.WAITING
    assert drive(two).status == Status.WAITING_START  # never due by itself
    assert server.requests_to("/orders/o-7/pay") == []

    two = start(two)

    assert two.status == Status.PENDING and two.next_poll_at is not None
    assert drive(two).status == Status.SUCCEEDED
    with pytest.raises(NotWaiting):
        start(two)


def test_declared_inputs_of_the_next_action_take_their_defaults_and_carried_ones_pass_through(db, server):
    first, middle, _ = three_steps(server)
    middle.inputs.create(name="currency", default="EUR", required=True)
    middle.inputs.create(name="customer", required=True)

    two = next_of(drive(start_run(first, {"customer": "c-1"})))

    assert two.status == Status.PENDING
    assert two.variables == {"customer": "c-1", "currency": "EUR"}


def test_a_next_run_that_cannot_start_is_created_failed_with_the_reason(db, server):
    first, middle, _ = three_steps(server)
    middle.inputs.create(name="amount", required=True)

    two = next_of(drive(start_run(first, {"customer": "c-1"})))

    assert two.status == Status.FAILED
    assert "could not go on into Pay" in two.reason and "amount" in two.reason
    again = drive(refire(two, {"amount": "12"}))
    assert again.status == Status.SUCCEEDED and again.variables == {"customer": "c-1", "amount": "12"}
    assert next_of(again).action.name == "Ship"


def test_a_failed_middle_step_refired_lets_the_chain_go_on(db, server):
    first, _, _ = three_steps(server, second=[reply(500), reply(200, json={"paid": True})])

    one = drive(start_run(first, {"customer": "c-1"}))
    two = drive(next_of(one))
    assert two.status == Status.FAILED
    assert chain_status(chain_of(one)) == ChainStatus.FAILED

    again = drive(refire(two))
    three = drive(next_of(again))

    assert again.previous_run == one and three.status == Status.SUCCEEDED
    steps = chain_of(one)
    assert [step.run for step in steps] == [one, again, three]
    assert [step.attempts for step in steps] == [1, 2, 1]
    assert chain_status(steps) == ChainStatus.SUCCEEDED


def test_a_refused_variable_is_still_refused_in_a_chain(db, server):
    first, middle, _ = three_steps(server)
    middle.inputs.create(name="speed", choices="slow,fast", default="slow")
    one = drive(start_run(first, {"customer": "c-1"}))

    with pytest.raises(ValidationError):
        start_run(middle, {"speed": "warp"}, previous_run=one)


def test_the_same_success_written_twice_creates_one_next_run(db, server):
    first, _, _ = three_steps(server)
    run = start_run(first, {"customer": "c-1"})
    Run.objects.filter(pk=run.pk).update(status=Status.RUNNING, lease_token="t-1")
    run.refresh_from_db()
    decision = due_work.move(due_work.unchanged(run), Status.SUCCEEDED, "Done.", timezone.now())
    done = batch.Done(decision, "t-1", redactor=None)

    batch.write_back([done])
    batch.write_back([done])

    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED
    assert Run.objects.filter(previous_run=run).count() == 1


def test_a_success_written_after_the_run_was_cancelled_starts_no_next_run(db, server):
    first, _, _ = three_steps(server)
    first.cancelable = True
    first.save()
    run = start_run(first, {"customer": "c-1"})
    Run.objects.filter(pk=run.pk).update(status=Status.RUNNING, lease_token="t-1")
    run.refresh_from_db()
    decision = due_work.move(due_work.unchanged(run), Status.SUCCEEDED, "Done.", timezone.now())
    cancel(run)

    batch.write_back([batch.Done(decision, "t-1", redactor=None)])

    assert Run.objects.get(pk=run.pk).status == Status.CANCELLED
    assert not Run.objects.filter(previous_run=run).exists()


def test_a_success_waits_for_confirmation_when_the_action_does_not_finish_on_success(db, server):
    first, _, _ = three_steps(server)
    first.finish_on_success = False
    first.save()

    one = drive(start_run(first, {"customer": "c-1"}))

    assert one.status == Status.WAITING_CONFIRMATION and one.next_poll_at is None and one.finished_at is None
    assert "Waiting for a person to confirm success." in one.reason
    assert not Run.objects.filter(previous_run=one).exists()
    assert chain_status(chain_of(one)) == ChainStatus.WAITING

    one = confirm(one, user="alice")

    assert one.status == Status.SUCCEEDED and one.finished_at is not None
    assert one.reason == "Success confirmed by alice. The service answered 201."
    assert next_of(one).status == Status.PENDING
    with pytest.raises(NotWaiting):
        confirm(one)


def test_a_rejected_success_fails_the_run_with_the_reason_and_the_chain_stops(db, server):
    first, _, _ = three_steps(server)
    first.finish_on_success = False
    first.save()
    one = drive(start_run(first, {"customer": "c-1"}))

    one = reject(one, user="alice", reason="wrong customer")

    assert one.status == Status.FAILED
    assert one.reason.startswith("Success rejected by alice: wrong customer.")
    assert not Run.objects.filter(previous_run=one).exists()
    assert one.can_refire


def test_waiting_runs_of_cancelable_actions_can_be_cancelled_without_calling_the_webhook(db, server):
    first, middle, _ = three_steps(server)
    middle.auto_start, middle.cancelable, middle.cancel_webhook_url = False, True, "/cancel"
    middle.save()
    two = next_of(drive(start_run(first, {"customer": "c-1"})))

    cancel(two)

    two.refresh_from_db()
    assert two.status == Status.CANCELLED
    assert server.requests_to("/cancel") == []


def test_a_lone_run_is_a_chain_of_one_step(db, server):
    server.script("/jobs", reply(200))
    run = drive(start_run(make_action(server.base_url)))

    steps = chain_of(run)

    assert [step.run for step in steps] == [run]
    assert chain_status(steps) == ChainStatus.SUCCEEDED


def test_going_on_twice_from_one_run_creates_one_next_run(db, server):
    from runs.services import go_on

    first, _, _ = three_steps(server)
    one = drive(start_run(first, {"customer": "c-1"}))

    assert go_on(one.pk) is None  # the database holds one next run per run (its refires aside)
    assert Run.objects.filter(previous_run=one).count() == 1


def test_a_rehearsal_chain_goes_on_past_a_skipped_step(db, server):
    server.script("/a", reply(200))
    first = make_action(server.base_url, url="/a")
    second = make_action(server.base_url, integration=first.integration, url="/b", after=first)

    one = drive(start_run(first, rehearsal=True))

    assert one.status == Status.SKIPPED
    two = drive(next_of(one))
    assert (two.action, two.rehearsal, two.status) == (second, True, Status.SKIPPED)
    assert server.requests == []


def test_a_rehearsal_step_that_reads_a_field_a_skipped_step_never_stored_fails_and_says_so(db, server):
    first, _, _ = three_steps(server)

    two = next_of(drive(start_run(first, {"customer": "c-1"}, rehearsal=True)))

    assert two.status == Status.FAILED and "the_id" in two.reason


def test_a_step_waiting_for_a_start_can_be_cancelled_even_when_its_action_is_not_cancelable(db, server):
    first, middle, _ = three_steps(server)
    middle.auto_start, middle.cancelable, middle.cancel_webhook_url = False, False, "/cancel"
    middle.save()
    two = next_of(drive(start_run(first, {"customer": "c-1"})))
    assert two.can_cancel

    cancel(two)

    assert Run.objects.get(pk=two.pk).status == Status.CANCELLED
    assert server.requests_to("/cancel") == []


def test_a_started_step_waits_for_its_actions_fixed_start_time(db, server):
    first, middle, _ = three_steps(server)
    middle.auto_start, middle.fixed_start_time = False, timezone.now() + timezone.timedelta(hours=1)
    middle.save()
    two = next_of(drive(start_run(first, {"customer": "c-1"})))

    two = start(two)

    assert two.status == Status.PENDING and two.next_poll_at == middle.fixed_start_time
    assert two.reason.startswith("Scheduled: the action starts at its fixed start time")


def test_a_file_saved_by_one_step_is_uploaded_by_the_next(db, server, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    server.script("/export", reply(text="report body"))
    server.script("/upload", reply(json={"ok": True}))
    download = make_action(server.base_url, name="Export", method="GET", url="/export", save_as_file="report.txt")
    make_action(server.base_url, integration=download.integration, name="Upload", url="/upload",
                files={"document": "report.txt"}, after=download)

    two = drive(next_of(drive(start_run(download))))

    assert two.status == Status.SUCCEEDED, two.reason
    assert b"report body" in server.requests_to("/upload")[0].body
