"""A write-back that ends many runs ends them together: a few statements for any number of runs, each ended run
going on into exactly one next run, told to webhooks and counted in its tally once; a run no longer leased under
the batch's token is neither ended nor goes on."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from runs import batch, due_work
from runs.definitions import definition_for
from runs.models import Run, Status, Tally
from runs.services import start_run
from tests.engine_helpers import make_action
from tests.webhook_helpers import events_for, subscribe

pytestmark = pytest.mark.usefixtures("q_sync")

TOKEN = "t" * 32


def _polling(action, count):
    """``count`` runs of ``action`` polling, leased under TOKEN, as a batch holds them."""
    runs = [start_run(action) for _ in range(count)]
    Run.objects.filter(pk__in=[run.pk for run in runs]).update(lease_token=TOKEN, status=Status.POLLING)
    return list(Run.objects.filter(pk__in=[run.pk for run in runs]).order_by("pk"))


def _succeeded(runs):
    return [batch.Done(due_work.move(due_work.unchanged(run), Status.SUCCEEDED, "Done.", run.created_at), TOKEN,
                       definition_for(run.action).redactor) for run in runs]


def _chain(base_url, *, next_needs=None):
    first = make_action(base_url, name="First", polling_mode="poll", poll_interval=1)
    inputs = [{"name": next_needs, "required": True}] if next_needs else []
    make_action(base_url, name="Next", after=first, auto_start=True, inputs=inputs,
                url=f"/jobs/{{{{ {next_needs} }}}}" if next_needs else "/jobs")
    first.refresh_from_db()
    return first


def test_many_ends_cost_the_statements_of_a_few(db):
    subscribe("http://127.0.0.1:9/hook")
    few, many = _polling(_chain("http://127.0.0.1:9"), 2), _polling(_chain("http://127.0.0.1:9"), 40)

    decided_few, decided_many = _succeeded(few), _succeeded(many)
    with CaptureQueriesContext(connection) as writing_few:
        batch.write_back(decided_few)
    with CaptureQueriesContext(connection) as writing_many:
        batch.write_back(decided_many)

    # The same statements for 40 runs as for 2 (executemany counts once), but that SQLite takes at most 999
    # parameters a statement, so the next runs' INSERT may be cut in two.
    def kinds(captured):  # "40 times: UPDATE ..." is one executemany; savepoints differ by name only
        sqls = [re.sub(r"^\d+ times: ", "", query["sql"]) for query in captured.captured_queries]
        return sorted({sql.split(" (")[0] if sql.startswith("INSERT") else sql[:40] for sql in sqls
                       if not sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))})

    assert len(writing_many.captured_queries) <= len(writing_few.captured_queries) + 2
    assert kinds(writing_many) == kinds(writing_few)
    for run in few + many:
        run.refresh_from_db()
        assert run.status == Status.SUCCEEDED and run.lease_token == ""
        assert Run.objects.filter(previous_run=run).count() == 1
        assert events_for(run) == ["run.succeeded"]
    following = Run.objects.filter(previous_run__in=many)
    assert {run.status for run in following} == {Status.PENDING}
    assert all(run.next_poll_at is not None for run in following)  # auto start: due at once


def test_each_end_goes_on_and_counts_once_however_often_it_is_written(db):
    runs = _polling(_chain("http://127.0.0.1:9"), 5)
    done = _succeeded(runs)

    batch.write_back(done)
    batch.write_back(done)  # written again (the writer tried again after a blink): nothing more happens

    assert Run.objects.filter(previous_run__in=runs).count() == 5
    tally = Tally.objects.filter(action=runs[0].action, status=Status.SUCCEEDED)
    assert sum(tally.values_list("count", flat=True)) == 5


def test_a_run_taken_by_another_worker_is_not_ended_by_the_batch(db):
    runs = _polling(_chain("http://127.0.0.1:9"), 3)
    Run.objects.filter(pk=runs[1].pk).update(lease_token="x" * 32)  # taken over meanwhile

    batch.write_back(_succeeded(runs))

    statuses = dict(Run.objects.filter(pk__in=[run.pk for run in runs]).values_list("pk", "status"))
    assert statuses == {runs[0].pk: Status.SUCCEEDED, runs[1].pk: Status.POLLING, runs[2].pk: Status.SUCCEEDED}
    assert set(Run.objects.filter(previous_run__in=runs).values_list("previous_run", flat=True)) == {
        runs[0].pk, runs[2].pk}


def test_next_runs_that_cannot_start_are_made_failed_in_the_same_write(db):
    runs = _polling(_chain("http://127.0.0.1:9", next_needs="order"), 3)
    subscribe("http://127.0.0.1:9/hook")

    batch.write_back(_succeeded(runs))

    following = list(Run.objects.filter(previous_run__in=runs))
    assert len(following) == 3
    for run in following:
        assert run.status == Status.FAILED and run.cause == "chain"
        assert "could not go on into Next" in run.reason and "order" in run.reason
        assert events_for(run) == ["run.failed", "chain.finished"]
    tally = Tally.objects.filter(action=following[0].action, status=Status.FAILED, cause="chain")
    assert sum(tally.values_list("count", flat=True)) == 3
