"""/health/ tells load balancers and supervisors whether runs can progress: the database answers and a
cluster's heartbeat is fresh (503 with the reason otherwise); /health/web/ asks about the database only."""

from datetime import timedelta

import pytest
from django.db import connection

from runs import clock
from runs.heartbeats import STALE
from runs.models import Heartbeat

pytestmark = pytest.mark.django_db


def beat(seconds_ago):
    at = clock.now() - timedelta(seconds=seconds_ago)
    Heartbeat.objects.create(holder=f"h{seconds_ago}", host="worker-1", pid=1, started_at=at, seen_at=at, since=at)


def test_it_is_healthy_with_a_live_cluster_and_needs_no_credentials(client):
    beat(0)
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "clusters": 1}


def test_it_says_runs_will_not_progress_without_a_live_cluster(client):
    beat(STALE + 1)  # a cluster that stopped beating
    response = client.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["clusters"] == 0
    assert "runs will not progress (start manage.py runworkers)" in body["problems"][0]


def test_the_web_check_asks_about_the_database_only(client):
    response = client.get("/health/web/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_a_database_that_cannot_be_reached_is_a_503(client):
    settings = connection.settings_dict
    saved = dict(settings)
    connection.close()
    if connection.vendor == "sqlite":
        settings["NAME"] = "/nonexistent-directory/integrations.sqlite3"
    else:
        settings["PORT"] = 1  # nothing listens there
    try:
        response = client.get("/health/web/")
    finally:
        connection.close()
        settings.update(saved)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["database"].endswith("Error")
    assert body["problems"] == [f"The database cannot be reached: {body['database']}"]
