"""Schedules in the API (/api/schedules/): created, read, changed and deleted as the project's other resources
(one error shape with faults on their fields, Idempotency-Key, ETag and If-Match, cursor pages, unknown fields
refused), with their next start and what they did; their runs at /api/runs/?schedule=<id>."""

import pytest

from runs import schedules
from runs.models import Run, Schedule
from tests.engine_helpers import make_action
from tests.schedule_helpers import schedule


@pytest.fixture
def action(db):
    return make_action("http://127.0.0.1:9", inputs=[{"name": "env", "required": True}, "region"])


def body(action, **fields):
    return {"name": "Nightly", "action": action.pk, "kind": "cron", "cron": "0 2 * * *",
            "timezone": "Europe/Paris", "variables": {"env": "prod"}, **fields}


def errors(response):
    return {error["attr"]: (error["code"], error["detail"]) for error in response.json()["errors"]}


def test_a_schedule_is_created_with_its_next_start_once_per_idempotency_key(admin_api, admin_user, action):
    created = admin_api.post("/api/schedules/", body(action), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = admin_api.post("/api/schedules/", body(action), format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert created.status_code == 201, created.json()
    data = created.json()
    made = Schedule.objects.get()
    assert again.json() == data and again["Idempotent-Replayed"] == "true"
    assert created["Location"] == data["url"]
    assert data["next_tick_at"] == made.next_tick_at.isoformat().replace("+00:00", "Z")
    # The action's inputs as a run takes them: the optional one left out is filled as "".
    assert data["variables"] == {"env": "prod", "region": ""} and data["created_by"] == admin_user.username
    assert data["runs_url"].endswith(f"/api/runs/?schedule={made.pk}")


def test_faults_are_named_on_their_fields(admin_api, action):
    refused = admin_api.post("/api/schedules/", body(action, cron="0 2 * *", timezone="Nowhere/Town",
                                                      variables={"env": "", "typo": 1}), format="json")
    unknown = admin_api.post("/api/schedules/", body(action, extra=True), format="json")

    assert refused.status_code == 400
    found = errors(refused)
    assert found["cron"][1].startswith("A cron expression has five fields")
    assert found["timezone"] == ("invalid", "'Nowhere/Town' is not a time zone: use an IANA name such as \"UTC\" "
                                            "or \"Europe/Paris\".")
    assert found["variables.env"][1] == "env is required."
    assert found["variables.typo"][1].startswith("This action takes no variable 'typo'")
    assert errors(unknown)["extra"][0] == "unknown_field"
    assert not Schedule.objects.exists()


def test_an_interval_needs_its_seconds(admin_api, action):
    refused = admin_api.post("/api/schedules/", body(action, kind="interval", cron=""), format="json")
    too_often = admin_api.post("/api/schedules/", body(action, kind="interval", every_seconds=0), format="json")

    assert errors(refused)["every_seconds"][1].startswith("An interval schedule needs its seconds")
    assert "every_seconds" in errors(too_often)


def test_etag_and_if_match_guard_a_change(admin_api, action):
    made = schedule(action, variables={"env": "prod"})
    url = f"/api/schedules/{made.pk}/"
    read = admin_api.get(url)
    tag = read["ETag"]

    assert admin_api.get(url, HTTP_IF_NONE_MATCH=tag).status_code == 304
    changed = admin_api.patch(url, {"every_seconds": 30}, format="json", HTTP_IF_MATCH=tag)
    stale = admin_api.patch(url, {"every_seconds": 60}, format="json", HTTP_IF_MATCH=tag)

    assert changed.status_code == 200 and changed.json()["every_seconds"] == 30
    assert stale.status_code == 412
    made.refresh_from_db()
    assert made.every_seconds == 30


def test_the_list_is_a_cursor_page_filtered_by_action_and_the_runs_by_schedule(admin_api, action):
    other_action = make_action("http://127.0.0.1:9", name="Other")
    every = schedule(action, variables={"env": "prod"})
    schedule(other_action, name="Other's")
    schedules.tick_due(now=every.next_tick_at)

    page = admin_api.get(f"/api/schedules/?action={action.pk}").json()
    runs = admin_api.get(f"/api/runs/?schedule={every.pk}").json()

    assert [item["id"] for item in page["results"]] == [every.pk] and page["next"] is None
    run = Run.objects.get(schedule=every)
    assert [item["id"] for item in runs["results"]] == [run.pk]
    assert runs["results"][0]["schedule"] == every.pk
    assert page["results"][0]["last_run"] == run.pk
    assert page["results"][0]["last_result"].startswith(f"Started run {run.pk} for the tick at ")
    assert admin_api.get("/api/schedules/?enabled=maybe").status_code == 400


def test_a_viewer_reads_but_cannot_write(viewer_user, action):
    from tests.definitions_api import token_client

    api = token_client(viewer_user)
    made = schedule(action, variables={"env": "prod"})

    assert api.get(f"/api/schedules/{made.pk}/").status_code == 200
    assert api.post("/api/schedules/", body(action), format="json").status_code == 403
    assert api.delete(f"/api/schedules/{made.pk}/").status_code == 403


def test_deleting_a_schedule_keeps_its_runs(admin_api, action):
    every = schedule(action, variables={"env": "prod"})
    schedules.tick_due(now=every.next_tick_at)

    assert admin_api.delete(f"/api/schedules/{every.pk}/").status_code == 204

    run = Run.objects.get()
    assert run.schedule is None and run.tick_at is not None
