"""Schedules in the admin: added and edited with faults named on their fields, listed with their next start,
last tick and what it did, and linked to the runs they started."""

import re

import pytest

from runs import schedules
from runs.models import Run, Schedule
from runs.services import start_run
from tests.engine_helpers import make_action
from tests.schedule_helpers import schedule

ADD = "/admin/runs/schedule/add/"


@pytest.fixture
def action(db):
    return make_action("http://127.0.0.1:9", inputs=[{"name": "env", "required": True}])


def form(action, **fields):
    return {"name": "Nightly", "action": action.pk, "enabled": "on", "kind": "cron", "cron": "0 2 * * *",
            "every_seconds": "", "timezone": "Europe/Paris", "missed": "skip", "variables": '{"env": "prod"}',
            **fields}


def field_errors(response):
    """{field name: its error text} of an admin form page."""
    form = response.context["adminform"].form
    return {name: " ".join(errors) for name, errors in form.errors.items()}


def test_a_schedule_added_in_the_admin_has_its_next_start(client, admin_user, action):
    client.force_login(admin_user)

    added = client.post(ADD, form(action))

    assert added.status_code == 302, field_errors(added)
    made = Schedule.objects.get()
    assert (made.created_by, made.variables, made.timezone) == (admin_user, {"env": "prod"}, "Europe/Paris")
    local = made.next_tick_at.astimezone(schedules.zone("Europe/Paris"))
    assert (local.hour, local.minute, local.second) == (2, 0, 0)


@pytest.mark.parametrize("fields, field, words", [
    ({"cron": "0 25 * * *"}, "cron", "not a cron expression croniter can read"),
    ({"cron": "every night"}, "cron", "five fields"),
    ({"timezone": "Paris"}, "timezone", "'Paris' is not a time zone"),
    ({"variables": '{"env": ""}'}, "variables", "env is required."),
    ({"variables": '{"envv": "x", "env": "y"}'}, "variables", "This action takes no variable 'envv'"),
    ({"variables": '{"env": "\\u0000"}'}, "variables", "NUL"),
    ({"kind": "interval", "every_seconds": "0"}, "every_seconds", ""),
])
def test_a_bad_schedule_is_refused_on_its_field(client, admin_user, action, fields, field, words):
    client.force_login(admin_user)

    refused = client.post(ADD, form(action, **fields))

    assert refused.status_code == 200
    errors = field_errors(refused)
    assert field in errors and words in errors[field], errors
    assert not Schedule.objects.exists()


def test_the_list_shows_next_start_last_tick_and_result_and_links_to_its_runs(client, viewer_user, action):
    every = schedule(action, name="Every minute", every_seconds=60, variables={"env": "prod"})
    schedules.tick_due(now=every.next_tick_at)
    other = start_run(action, {"env": "other"})  # not the schedule's
    client.force_login(viewer_user)

    listed = client.get("/admin/runs/schedule/").content.decode()

    every.refresh_from_db()
    run = Run.objects.get(schedule=every)
    assert "Every minute" in listed and "every 60 s" in listed
    assert every.next_tick_at.isoformat() in listed and every.last_tick_at.isoformat() in listed
    assert f"Started run {run.pk} for the tick at" in listed
    link = re.search(r'href="([^"]+)" class="schedule-runs"', listed).group(1).replace("&amp;", "&")
    runs = client.get(link)
    shown = [row.pk for row in runs.context["cl"].result_list]
    assert shown == [run.pk] and other.pk not in shown


def test_editing_the_timing_starts_the_ticks_afresh_and_a_viewer_cannot_edit(client, admin_user, viewer_user,
                                                                              action):
    every = schedule(action, every_seconds=3600, variables={"env": "prod"})
    client.force_login(admin_user)

    changed = client.post(f"/admin/runs/schedule/{every.pk}/change/",
                          form(action, kind="interval", cron="", every_seconds="5", timezone="UTC"))

    assert changed.status_code == 302, field_errors(changed)
    before = every.next_tick_at
    every.refresh_from_db()
    assert every.every_seconds == 5 and every.next_tick_at < before
    client.force_login(viewer_user)
    assert client.post(f"/admin/runs/schedule/{every.pk}/change/", form(action)).status_code == 403


def test_a_bad_schedule_filter_on_the_runs_list_shows_nothing(client, viewer_user, action):
    start_run(action, {"env": "x"})
    client.force_login(viewer_user)

    listed = client.get("/admin/runs/run/?schedule=nope")

    assert listed.status_code == 200 and list(listed.context["cl"].result_list) == []


@pytest.mark.parametrize("raw", ["a%00b", "a%ED%A0%80b", "1e999", "99999999999999999999999"])
@pytest.mark.parametrize("param", ["q", "enabled__exact", "kind__exact", "action__id__exact"])
def test_a_search_or_filter_holding_what_cannot_be_stored_is_no_server_error(client, viewer_user, action, param, raw):
    schedule(action, variables={"env": "prod"})
    client.force_login(viewer_user)

    assert client.get(f"/admin/runs/schedule/?{param}={raw}").status_code in (200, 302)
