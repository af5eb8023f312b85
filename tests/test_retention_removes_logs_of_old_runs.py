"""The exchanges of runs finished longer ago than INTEGRATIONS_EXCHANGE_RETENTION_DAYS go; those of runs
finished since, and of active runs, stay."""

from datetime import timedelta

import pytest
from django.utils import timezone

from runs import retention
from runs.models import Exchange, Run
from runs.retention import Retention
from runs.services import start_run
from tests.api_helpers import job_action
from tests.engine_helpers import drive, step
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")


def finished(action, days_ago):
    run = drive(start_run(action))
    Run.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(days=days_ago))
    return run


def test_a_run_finished_before_the_retention_loses_its_log_and_recent_and_active_runs_keep_theirs(
        db, server, settings):
    settings.INTEGRATIONS_EXCHANGE_RETENTION_DAYS = 30
    action = job_action(server)
    old, recent = finished(action, days_ago=31), finished(action, days_ago=29)
    server.script("/jobs/j-1", reply(json={"id": "j-1", "status": "running"}))
    active = step(start_run(action))
    assert active.is_active
    assert Run.objects.get(pk=old.pk).last_exchange_id is not None
    counts = {run.pk: run.exchanges.count() for run in (old, recent, active)}
    assert counts[old.pk] == 2

    done = Retention().finish()

    assert done.old == 2
    assert not Exchange.objects.filter(run=old).exists()
    assert Exchange.objects.filter(run=recent).count() == counts[recent.pk]
    assert Exchange.objects.filter(run=active).count() == counts[active.pk]
    old.refresh_from_db()
    assert old.status == "succeeded" and old.last_exchange_id is None  # the run itself stays


def test_the_retention_in_days_is_a_setting(db, server, settings):
    run = finished(job_action(server), days_ago=3)

    settings.INTEGRATIONS_EXCHANGE_RETENTION_DAYS = 4
    assert Retention().finish().old == 0
    settings.INTEGRATIONS_EXCHANGE_RETENTION_DAYS = 2
    assert Retention().finish().old == 2

    assert not Exchange.objects.filter(run=run).exists()


def test_a_run_that_finishes_later_is_found_by_the_same_walk(db, server, settings, monkeypatch):
    monkeypatch.setattr(retention, "RUNS_PER_STEP", 2)
    action = job_action(server)
    first = [finished(action, days_ago=40) for _ in range(3)]
    walk = Retention()
    walk.finish()
    assert not Exchange.objects.filter(run__in=first).exists()

    later = finished(action, days_ago=35)  # finished later than every run already walked
    assert Exchange.objects.filter(run=later).exists()
    walk.finish()

    assert not Exchange.objects.filter(run=later).exists()
