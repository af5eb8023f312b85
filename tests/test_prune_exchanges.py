from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from runs.services import start_run
from runs.models import Exchange, Run
from tests.engine_helpers import drive, make_action, step
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")


def finished_run(action, days_ago):
    run = drive(start_run(action))
    Run.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(days=days_ago))
    return run


def test_it_deletes_the_exchanges_of_runs_finished_before_the_cutoff_and_keeps_the_others(db, server, capsys):
    server.script("/jobs", reply(json={}))
    server.script("/poll", reply(json={"status": "queued"}))
    action = make_action(server.base_url)
    old, recent = finished_run(action, days_ago=40), finished_run(action, days_ago=5)
    polling = make_action(server.base_url, integration=action.integration, polling_mode="poll", poll_url="/poll",
                          stop=[("status", "equals", "done", "success")])
    active = step(step(start_run(polling)))
    assert active.is_active and active.exchanges.count() == 2

    call_command("prune_exchanges", days=30)

    assert not Exchange.objects.filter(run=old).exists()
    assert Exchange.objects.filter(run=recent).count() == 1
    assert Exchange.objects.filter(run=active).count() == 2
    assert Run.objects.filter(pk=old.pk).exists()
    assert "Deleted 1 exchanges" in capsys.readouterr().out
