"""A real cluster (`manage.py runworkers`) applies retention by itself: nobody runs prune_exchanges."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.conf import Conf

from runs.models import Exchange, ExchangeKind, Run
from runs.services import start_run
from tests.cluster import Workers
from tests.engine_helpers import drive, make_action
from tests.retention_helpers import changing_job

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)  # the database has no event to wait on; this only paces the reads
    raise AssertionError(f"Not within {timeout} s: {what}")


def test_the_cluster_removes_old_logs_and_prunes_an_endless_run_as_it_polls(server, monkeypatch):
    action = changing_job(server)
    with monkeypatch.context() as here:  # this one run is done in this process, at once
        here.setattr(Conf, "SYNC", True)
        old = drive(start_run(make_action(server.base_url, integration=action.integration)))
    Run.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=31))
    assert old.is_finished and Exchange.objects.filter(run=old).exists()
    endless = start_run(action)

    workers = Workers(INTEGRATIONS_EXCHANGES_KEPT_PER_RUN=2, INTEGRATIONS_EXCHANGE_RETENTION_DAYS=30,
                      INTEGRATIONS_RETENTION_INTERVAL=0.2).start()
    try:
        wait_for(lambda: not Exchange.objects.filter(run=old).exists(), 30, "the old run's log removed")

        def pruned_as_it_polls():
            log = list(Exchange.objects.filter(run=endless).order_by("id").values_list("kind", "attempt", "pruned_count"))
            return (len(log) >= 3 and log[2][0] == ExchangeKind.PRUNED and log[2][2] >= 4
                    and [attempt for _, attempt, _ in log[:2]] == [1, 2] and len(log) <= 6)

        wait_for(pruned_as_it_polls, 60, "the endless run's log pruned to its first and last 2 while it polls")
    finally:
        workers.stop()
    errors = workers.process.stderr.read().decode()
    assert "Retention paused" not in errors, errors
    assert Run.objects.get(pk=endless.pk).is_active
