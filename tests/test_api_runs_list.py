from base64 import b64encode
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from runs.models import Run, Status
from tests.api_helpers import codes, details, job_action, token_client


@pytest.fixture
def api(viewer_user):
    return token_client(viewer_user)


@pytest.fixture
def action(db, server):
    return job_action(server)


def make_run(action, minutes_ago, status=Status.PENDING):
    return Run.objects.create(action=action, integration=action.integration, status=status,
                              created_at=timezone.now() - timedelta(minutes=minutes_ago))


def ids(response):
    assert response.status_code == 200, response.json()
    return [run["id"] for run in response.json()["results"]]


def test_runs_are_listed_newest_first(api, action):
    old, new, middle = make_run(action, 30), make_run(action, 1), make_run(action, 10)

    assert ids(api.get("/api/runs/")) == [new.pk, middle.pk, old.pk]


def test_pages_follow_one_another_through_the_cursor(api, action):
    runs = [make_run(action, minutes) for minutes in range(5)]  # newest first

    first = api.get("/api/runs/?page_size=2").json()
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()

    assert [run["id"] for run in first["results"] + second["results"] + third["results"]] == [r.pk for r in runs]
    assert first["previous"] is None and third["next"] is None
    assert [run["id"] for run in api.get(second["previous"]).json()["results"]] == [runs[0].pk, runs[1].pk]


def test_filters_by_status_one_or_several(api, action):
    failed, timed_out = make_run(action, 1, Status.FAILED), make_run(action, 2, Status.TIMED_OUT)
    make_run(action, 3, Status.SUCCEEDED)

    assert ids(api.get("/api/runs/?status=failed")) == [failed.pk]
    assert ids(api.get("/api/runs/?status=failed&status=timed_out")) == [failed.pk, timed_out.pk]


def test_filters_by_action_and_by_integration(api, action, server):
    other = job_action(server, slug="other")
    mine, theirs = make_run(action, 1), make_run(other, 2)

    assert ids(api.get(f"/api/runs/?action={action.pk}")) == [mine.pk]
    assert ids(api.get(f"/api/runs/?integration={other.integration_id}")) == [theirs.pk]


def test_filters_by_creation_time(api, action):
    old, middle, new = make_run(action, 60), make_run(action, 30), make_run(action, 1)
    after = (timezone.now() - timedelta(minutes=45)).isoformat()
    before = (timezone.now() - timedelta(minutes=15)).isoformat()

    assert ids(api.get("/api/runs/", {"created_after": after})) == [new.pk, middle.pk]
    assert ids(api.get("/api/runs/", {"created_before": before})) == [middle.pk, old.pk]
    assert ids(api.get("/api/runs/", {"created_after": after, "created_before": before})) == [middle.pk]
    assert ids(api.get("/api/runs/", {"created_after": middle.created_at.isoformat()})) == [new.pk, middle.pk]


# An action id that names nothing is a well-formed filter (tests/test_api_error_shape.py: an empty list).
@pytest.mark.parametrize("query", ["status=sleeping", "status=", "action=x", "action=", "created_after=yesterday"])
def test_a_bad_filter_is_400_naming_it(api, action, query):
    response = api.get(f"/api/runs/?{query}")

    assert response.status_code == 400
    assert list(details(response)) == [query.split("=")[0]]
    assert response.json()["type"] == "validation_error"


@pytest.mark.parametrize("cursor", ["not-base64!", b64encode(b"p=not-a-time").decode(), b64encode(b"o=x").decode()])
def test_a_cursor_this_api_did_not_give_is_400(api, action, cursor):
    make_run(action, 1)

    response = api.get("/api/runs/", {"cursor": cursor})

    assert response.status_code == 400
    assert details(response) == {"cursor": ["Invalid cursor"]}
    assert codes(response) == {"cursor": ["invalid_cursor"]}


def test_a_time_with_any_offset_python_reads_is_compared_in_utc(api, action):
    # PostgreSQL refuses offsets past 15:59; 23:59 ahead is the same instant as the UTC time below.
    run = make_run(action, 0)
    ahead = (run.created_at + timedelta(hours=23, minutes=59, seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f+23:59")

    assert ids(api.get("/api/runs/", {"created_before": ahead})) == [run.pk]
    assert ids(api.get("/api/runs/", {"created_after": ahead})) == []


@pytest.mark.parametrize("moment", ["9999-12-31T23:00:00-05:00", "0001-01-01T01:00:00+05:00"])
def test_a_time_that_is_no_time_in_utc_is_400(api, action, moment):
    response = api.get("/api/runs/", {"created_after": moment})

    assert response.status_code == 400
    assert details(response) == {"created_after": ["Enter a valid date/time."]}


def test_a_cursor_position_at_an_offset_postgresql_refuses_is_read_in_utc(api, action):
    run = make_run(action, 1)
    position = (run.created_at + timedelta(hours=23, minutes=59, seconds=1)).strftime("%Y-%m-%d %H:%M:%S.%f+23:59")

    response = api.get("/api/runs/", {"cursor": b64encode(urlencode({"p": position}).encode()).decode()})

    assert ids(response) == [run.pk]


def test_a_cursor_position_that_is_no_time_in_utc_is_400(api, action):
    make_run(action, 1)
    cursor = b64encode(urlencode({"p": "9999-12-31 23:00:00-05:00"}).encode()).decode()

    response = api.get("/api/runs/", {"cursor": cursor})

    assert response.status_code == 400
    assert codes(response) == {"cursor": ["invalid_cursor"]}
