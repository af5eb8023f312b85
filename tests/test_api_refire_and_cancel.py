import pytest

from integrations.models import Action
from runs.services import start_run
from runs.models import ExchangeKind, Run, Status
from tests.api_helpers import detail, details, job_action, token_client
from tests.engine_helpers import drive, step
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")


@pytest.fixture
def api(admin_user):
    return token_client(admin_user)


@pytest.fixture
def failed_run(db, server):
    run = drive(start_run(job_action(server, final="failed"), {"env": "production", "note": "n"}))
    assert run.status == Status.FAILED
    return run


@pytest.fixture
def polling_run(db, server):
    action = job_action(server, final="running", cancel_webhook_url="/jobs/{{ job_id }}/cancel")
    server.script("/jobs/j-1/cancel", reply(204))
    run = step(step(start_run(action, {"note": "n"})))
    assert run.status == Status.POLLING
    return run


def test_refiring_a_failed_run_answers_201_with_the_new_linked_run(api, failed_run, server):
    response = api.post(f"/api/runs/{failed_run.pk}/refire/", format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    new = Run.objects.get(pk=body["id"])
    assert new.refired_from == failed_run
    assert body["refired_from"] == failed_run.pk
    assert body["status"] == "pending"
    assert body["variables"] == {"env": "production", "note": "n"}
    assert body["created_by"] == "alice"
    assert response["Location"] == body["url"]
    server.script("/jobs/j-1", reply(json={"id": "j-1", "status": "done"}))
    assert drive(new).status == Status.SUCCEEDED


def test_refiring_with_edited_variables_uses_them(api, failed_run):
    response = api.post(f"/api/runs/{failed_run.pk}/refire/", {"variables": {"env": "staging", "note": "m"}},
                        format="json")

    assert response.status_code == 201
    assert response.json()["variables"] == {"env": "staging", "note": "m"}


def test_refiring_with_bad_variables_is_400_and_starts_nothing(api, failed_run):
    response = api.post(f"/api/runs/{failed_run.pk}/refire/", {"variables": {"env": "moon", "note": "m"}},
                        format="json")

    assert response.status_code == 400
    assert details(response) == {"variables.env": ["'moon' is not one of the choices: staging, production."]}
    assert Run.objects.count() == 1


def test_refiring_a_run_that_did_not_fail_is_409_with_the_reason(api, polling_run):
    response = api.post(f"/api/runs/{polling_run.pk}/refire/", format="json")

    assert response.status_code == 409
    assert detail(response) == (
        "Only failed, timed-out or cancelled runs can be refired; this one is polling."
    )
    assert Run.objects.count() == 1


def test_cancelling_an_active_run_answers_200_with_the_run_cancelled(api, polling_run, server):
    response = api.post(f"/api/runs/{polling_run.pk}/cancel/")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["id"] == polling_run.pk
    assert body["status"] == "cancelled"
    assert body["reason"] == "Cancelled by alice."
    assert body["finished_at"] is not None and body["next_poll_at"] is None
    assert body["can_refire"] is True
    assert server.requests_to("/jobs/j-1/cancel")[0].method == "POST"
    assert polling_run.exchanges.get(kind=ExchangeKind.CANCEL_WEBHOOK).status_code == 204


def test_a_cancelled_run_can_be_refired(api, polling_run):
    api.post(f"/api/runs/{polling_run.pk}/cancel/")

    response = api.post(f"/api/runs/{polling_run.pk}/refire/", format="json")

    assert response.status_code == 201
    assert response.json()["refired_from"] == polling_run.pk


def test_cancelling_a_finished_run_is_409_with_the_reason(api, failed_run):
    response = api.post(f"/api/runs/{failed_run.pk}/cancel/")

    assert response.status_code == 409
    assert detail(response) == "The run is already failed."


def test_cancelling_a_run_of_an_action_that_is_not_cancelable_is_409(api, polling_run):
    Action.objects.filter(pk=polling_run.action_id).update(cancelable=False)

    response = api.post(f"/api/runs/{polling_run.pk}/cancel/")

    assert response.status_code == 409
    assert detail(response) == "Runs of Job cannot be cancelled (the action is not cancelable)."
    polling_run.refresh_from_db()
    assert polling_run.status == Status.POLLING


@pytest.mark.parametrize("operation", ["refire", "cancel"])
def test_an_unknown_run_is_404(api, db, operation):
    response = api.post(f"/api/runs/999999/{operation}/", format="json")

    assert response.status_code == 404
    assert detail(response) == "No run 999999."
