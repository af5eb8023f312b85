"""Migrating to causes and tallies (runs 0010): runs that ended before get a cause from their reason, and
every ended run is counted, so that the overview is right from the first page after the upgrade."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("runs", "0009_retention"), ("integrations", "0010_chain_settings_help")]
AFTER = [("runs", "0010_overview_causes")]


@pytest.fixture
def migrated_back(transactional_db):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    yield executor
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_ended_runs_get_causes_and_are_tallied(migrated_back):
    old = migrated_back.loader.project_state(BEFORE).apps
    Integration, Action, Run = (old.get_model(*name) for name in [
        ("integrations", "Integration"), ("integrations", "Action"), ("runs", "Run")])
    integration = Integration.objects.create(name="Old", slug="old", base_url="https://old.test")
    action = Action.objects.create(integration=integration, name="Job", slug="job", url="/jobs")
    now = timezone.now()
    ended = {
        "failed": "The first request failed: The service answered 401, which is not an accepted status (200-299).",
        "timed_out": "No stop condition matched in 5 polls (the attempt limit).",
        "succeeded": "The service answered 200.",
    }
    for number, (status, reason) in enumerate(ended.items()):
        Run.objects.create(action=action, integration=integration, status=status, reason=reason,
                           callback_token=f"t{number}", created_at=now - timedelta(seconds=30), finished_at=now)
    Run.objects.create(action=action, integration=integration, status="polling", callback_token="t9")

    migrated_back.loader.build_graph()
    migrated_back.migrate(AFTER)

    new = migrated_back.loader.project_state(AFTER).apps
    Run, Tally = new.get_model("runs", "Run"), new.get_model("runs", "Tally")
    assert dict(Run.objects.values_list("status", "cause")) == {
        "failed": "status:401", "timed_out": "attempts", "succeeded": "", "polling": ""}
    assert sorted(Tally.objects.values_list("status", "cause", "count", "bucket")) == [
        ("failed", "status:401", 1, 3), ("succeeded", "", 1, 3), ("timed_out", "attempts", 1, 3)]  # 30 s: at most 1 min
