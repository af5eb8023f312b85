from datetime import datetime

import pytest

from runs.services import refire, start_run
from runs.models import Status
from tests.api_helpers import detail, job_action, token_client
from tests.engine_helpers import drive, step

pytestmark = pytest.mark.usefixtures("q_sync")


@pytest.fixture
def api(viewer_user):
    return token_client(viewer_user)


def when(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_polling_run_shows_its_variables_fields_counts_and_timing(api, db, server):
    action = job_action(server, final="running", poll_interval=5, poll_timeout=600)
    run = step(step(start_run(action, {"note": "n"})))
    assert run.status == Status.POLLING

    body = api.get(f"/api/runs/{run.pk}/").json()

    assert body["status"] == "polling"
    assert body["reason"] == run.reason == "Polling."
    assert body["variables"] == {"env": "staging", "note": "n"}
    assert body["fields"] == {"job_id": "j-1", "job_status": "running"}
    assert (body["attempt"], body["polls"]) == (2, 1)
    assert when(body["created_at"]) == run.created_at
    assert when(body["started_at"]) == run.started_at
    assert when(body["next_poll_at"]) == run.next_poll_at
    assert when(body["deadline_at"]) == run.deadline_at
    assert body["finished_at"] is None
    assert body["can_cancel"] is True and body["can_refire"] is False


def test_a_finished_run_shows_its_end_and_its_refires_both_ways(api, db, server):
    failed = drive(start_run(job_action(server, final="failed"), {"note": "n"}))
    assert failed.status == Status.FAILED
    again = refire(failed)

    old, new = api.get(f"/api/runs/{failed.pk}/").json(), api.get(f"/api/runs/{again.pk}/").json()

    assert old["status"] == "failed"
    assert old["reason"] == failed.reason and "status equals 'failed' matched" in old["reason"]
    assert when(old["finished_at"]) == failed.finished_at
    assert old["next_poll_at"] is None
    assert old["refires"] == [again.pk] and old["refired_from"] is None
    assert new["refired_from"] == failed.pk and new["refires"] == []
    assert old["can_refire"] is True and old["can_cancel"] is False


@pytest.mark.parametrize("run_id", ["999999", "abc", "99999999999999999999999"])
def test_an_unknown_run_is_404(api, db, run_id):
    response = api.get(f"/api/runs/{run_id}/")

    assert response.status_code == 404
    assert detail(response) == f"No run {run_id}."
