"""Schedules: their ticks (cron in a time zone, intervals), the claim of each tick once, missed ticks, and
what is refused, field by field."""

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from runs import clock, schedules
from runs.models import Run, Schedule, Status
from tests.engine_helpers import make_action
from tests.schedule_helpers import schedule

UTC = dt_timezone.utc


@pytest.fixture
def action(db):
    return make_action("http://127.0.0.1:9", inputs=["env"])


def at(*args):
    return datetime(*args, tzinfo=UTC)


def test_a_cron_schedule_ticks_in_its_time_zone_across_daylight_saving(action):
    daily = Schedule(action=action, name="Nine in Paris", kind="cron", cron="0 9 * * *", timezone="Europe/Paris")

    assert schedules.following(daily, at(2026, 3, 28, 12)) == at(2026, 3, 29, 7)  # 09:00 CEST
    assert schedules.following(daily, at(2026, 3, 27, 12)) == at(2026, 3, 28, 8)  # 09:00 CET


def test_an_interval_schedule_ticks_on_whole_seconds_from_its_last_tick(action):
    made = schedule(action, every_seconds=90)

    now = clock.now()
    assert made.next_tick_at.microsecond == 0
    assert now < made.next_tick_at <= now + timedelta(seconds=90)


@pytest.mark.parametrize("fields, field, words", [
    ({"kind": "cron", "cron": "61 * * * *"}, "cron", "not a cron expression croniter can read"),
    ({"kind": "cron", "cron": "* * * *"}, "cron", "five fields"),
    ({"kind": "cron", "cron": ""}, "cron", "needs a cron expression"),
    ({"kind": "interval", "every_seconds": None}, "every_seconds", "needs its seconds"),
    ({"timezone": "Mars/Olympus"}, "timezone", "is not a time zone"),
    ({"timezone": "../../etc/passwd"}, "timezone", "is not a time zone"),
    ({"variables": {"nope": 1}}, "variables", "takes no variable 'nope'"),
    ({"variables": [1]}, "variables", "must be an object"),
])
def test_a_bad_schedule_is_refused_on_its_field(action, fields, field, words):
    with pytest.raises(ValidationError) as refused:
        schedule(action, **fields)

    assert words in " ".join(refused.value.message_dict[field])
    assert not Schedule.objects.exists()


def test_each_due_tick_starts_one_run_that_names_its_schedule_and_tick(action):
    made = schedule(action, variables={"env": "prod"})
    tick = made.next_tick_at

    assert schedules.tick_due(now=tick - timedelta(milliseconds=1)) == 0
    assert schedules.tick_due(now=tick) == 1
    assert schedules.tick_due(now=tick) == 0  # claimed: not again

    run = Run.objects.get()
    made.refresh_from_db()
    assert (run.schedule, run.tick_at, run.variables) == (made, tick, {"env": "prod"})
    assert run.reason == f"Started by the schedule Every second for its tick at {tick:%Y-%m-%d %H:%M:%S} UTC."
    assert made.next_tick_at == tick + timedelta(seconds=1)
    assert (made.last_tick_at, made.last_run) == (tick, run)
    assert made.last_result == f"Started run {run.pk} for the tick at {tick:%Y-%m-%d %H:%M:%S} UTC."


def test_a_claim_of_a_tick_another_dispatcher_moved_on_does_nothing(action):
    made = schedule(action)
    tick = made.next_tick_at
    assert schedules.claim(made.pk, tick, tick) == (tick + timedelta(seconds=1), "")

    # A second dispatcher that read the same tick before the first committed: its compare-and-set finds it gone.
    assert schedules.claim(made.pk, tick, tick) == (None, "")
    assert Run.objects.count() == 1


def test_the_database_refuses_a_second_run_for_one_tick(action):
    made = schedule(action)
    tick = made.next_tick_at
    schedules.claim(made.pk, tick, tick)

    # Even a claim that got past the compare-and-set (the tick set back by a stale save) starts nothing twice.
    Schedule.objects.filter(pk=made.pk).update(next_tick_at=tick)
    schedules.claim(made.pk, tick, tick)

    made.refresh_from_db()
    assert Run.objects.filter(schedule=made, tick_at=tick).count() == 1
    assert made.last_result == f"The tick at {tick:%Y-%m-%d %H:%M:%S} UTC had its run already."


def test_ticks_missed_while_no_cluster_ran_are_skipped_and_those_within_the_grace_run(action, settings):
    settings.INTEGRATIONS_SCHEDULE_GRACE = 5
    made = schedule(action, every_seconds=10)
    tick = made.next_tick_at

    # Down for 100 s: the ticks more than 5 s late (+0 to +90) are missed; the one at +100, on time, runs.
    now = tick + timedelta(seconds=100)
    schedules.tick_due(now=now)

    made.refresh_from_db()
    run = Run.objects.get()
    assert run.tick_at == now
    assert (made.last_tick_at, made.next_tick_at) == (now, now + timedelta(seconds=10))
    assert made.last_result == (f"Skipped 10 ticks missed while no cluster ran ({tick:%Y-%m-%d %H:%M:%S} UTC to "
                                f"{tick + timedelta(seconds=90):%Y-%m-%d %H:%M:%S} UTC). "
                                f"Started run {run.pk} for the tick at {now:%Y-%m-%d %H:%M:%S} UTC.")


def test_skipped_ticks_say_how_many_and_when(action, settings):
    settings.INTEGRATIONS_SCHEDULE_GRACE = 5
    made = schedule(action, every_seconds=10)
    tick = made.next_tick_at

    now = tick + timedelta(seconds=95)  # ticks at +0 ... +90 are all more than 5 s late
    schedules.tick_due(now=now)

    made.refresh_from_db()
    assert not Run.objects.exists()
    assert made.next_tick_at == tick + timedelta(seconds=100)
    assert made.last_result == (f"Skipped 10 ticks missed while no cluster ran ({tick:%Y-%m-%d %H:%M:%S} UTC to "
                                f"{tick + timedelta(seconds=90):%Y-%m-%d %H:%M:%S} UTC).")


def test_missed_ticks_run_once_when_the_schedule_says_so(action, settings):
    settings.INTEGRATIONS_SCHEDULE_GRACE = 5
    made = schedule(action, every_seconds=10, missed="run_once")
    tick = made.next_tick_at

    schedules.tick_due(now=tick + timedelta(seconds=95))

    made.refresh_from_db()
    run = Run.objects.get()
    assert run.tick_at == tick + timedelta(seconds=90)  # the latest of them
    assert made.last_result.startswith("10 ticks missed while no cluster ran (")
    assert made.last_result.endswith(f"one run for them. Started run {run.pk} for the tick at "
                                     f"{run.tick_at:%Y-%m-%d %H:%M:%S} UTC.")


def test_a_cron_schedule_down_for_a_year_counts_without_walking_every_minute(action, settings):
    settings.INTEGRATIONS_SCHEDULE_GRACE = 5
    made = schedule(action, kind="cron", cron="* * * * *", every_seconds=None)
    tick = made.next_tick_at

    schedules.tick_due(now=tick + timedelta(days=365, seconds=30))

    made.refresh_from_db()
    last = tick + timedelta(days=365)
    assert made.last_result == (f"Skipped more than 10,000 ticks missed while no cluster ran "
                                f"({tick:%Y-%m-%d %H:%M:%S} UTC to {last:%Y-%m-%d %H:%M:%S} UTC).")
    assert made.next_tick_at == last + timedelta(minutes=1)
    assert not Run.objects.exists()


def test_a_schedule_whose_run_cannot_start_makes_a_failed_run_that_says_why(action):
    made = schedule(action)
    action.integration.archived = True
    action.integration.save()

    schedules.tick_due(now=made.next_tick_at)

    run = Run.objects.get()
    assert run.status == Status.FAILED
    assert run.reason == f"The schedule Every second could not start Job: The integration {action.integration} " \
                         "is archived: its actions cannot run."
    made.refresh_from_db()
    assert made.last_result == f"Run {run.pk} for the tick at {run.tick_at:%Y-%m-%d %H:%M:%S} UTC could not start."


def test_a_disabled_schedule_has_no_next_tick_and_starts_nothing(action):
    made = schedule(action)
    made.enabled = False
    made.save()

    assert made.next_tick_at is None
    assert schedules.tick_due(now=clock.now() + timedelta(hours=1)) == 0


def test_a_save_that_changes_no_timing_keeps_the_ticks_state(action):
    made = schedule(action, every_seconds=60)
    stale = Schedule.objects.get(pk=made.pk)  # a form read before the tick
    schedules.tick_due(now=made.next_tick_at)

    stale.variables = {"env": "test"}
    stale.save()

    made.refresh_from_db()
    assert made.next_tick_at == stale.next_tick_at + timedelta(seconds=60)  # not set back
    assert made.variables == {"env": "test"}


def test_the_due_query_reads_the_index(action):
    schedule(action)
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's planner is not PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        query = Schedule.objects.filter(enabled=True, next_tick_at__lte=clock.now()).order_by("next_tick_at")
        plan = query.explain()
        cursor.execute("SET enable_seqscan = on")
    assert "schedule_due_idx" in plan


@pytest.mark.django_db(transaction=True)
def test_dispatchers_claiming_one_tick_at_once_start_one_run():
    import threading

    from django.db import connections

    action = make_action("http://127.0.0.1:9")
    made = schedule(action)
    tick = made.next_tick_at
    ready = threading.Barrier(4)
    results = []

    def dispatcher():
        try:
            ready.wait()
            results.append(schedules.claim(made.pk, tick, tick))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results, key=str) == sorted([(tick + timedelta(seconds=1), "")] + [(None, "")] * 3, key=str)
    assert Run.objects.filter(schedule=made).count() == 1
