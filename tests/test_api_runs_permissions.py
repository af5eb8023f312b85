"""Who may do what: viewers read runs, Integrations Admins also start, refire and cancel them."""

import pytest
from django.contrib.auth.models import User

from runs.services import start_run
from runs.models import Run, Status
from tests.api_helpers import detail, job_action, token_client
from tests.engine_helpers import drive

pytestmark = pytest.mark.usefixtures("q_sync")

READS = ["list", "detail", "exchanges"]
WRITES = ["start", "refire", "cancel"]


@pytest.fixture
def runs(db, server):
    """A failed run (to refire) and a pending one (to cancel)."""
    action = job_action(server, final="failed")
    failed = drive(start_run(action, {"note": "n"}))
    assert failed.status == Status.FAILED
    return failed, start_run(action, {"note": "n"})


def call(client, endpoint, runs):
    failed, pending = runs
    return {
        "list": lambda: client.get("/api/runs/"),
        "detail": lambda: client.get(f"/api/runs/{failed.pk}/"),
        "exchanges": lambda: client.get(f"/api/runs/{failed.pk}/exchanges/"),
        "start": lambda: client.post(f"/api/actions/{failed.action_id}/runs/", {"variables": {"note": "n"}},
                                     format="json"),
        "refire": lambda: client.post(f"/api/runs/{failed.pk}/refire/", format="json"),
        "cancel": lambda: client.post(f"/api/runs/{pending.pk}/cancel/", format="json"),
    }[endpoint]()


def unchanged(runs):
    failed, pending = runs
    pending.refresh_from_db()
    return Run.objects.count() == 2 and pending.status == Status.PENDING


@pytest.mark.parametrize("endpoint", READS + WRITES)
def test_without_credentials_every_endpoint_is_401(runs, endpoint):
    response = call(token_client(), endpoint, runs)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert detail(response) == "Authentication credentials were not provided."
    assert unchanged(runs)


@pytest.mark.parametrize("endpoint", READS + WRITES)
def test_a_wrong_token_is_401(runs, endpoint):
    client = token_client()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    assert call(client, endpoint, runs).status_code == 401
    assert unchanged(runs)


@pytest.mark.parametrize("endpoint", READS + WRITES)
def test_a_user_in_neither_group_is_403_everywhere(runs, endpoint):
    stranger = User.objects.create_user("dave", password="dave-password-123", is_staff=True)

    response = call(token_client(stranger), endpoint, runs)

    assert response.status_code == 403
    assert detail(response) == "You do not have permission to perform this action."
    assert unchanged(runs)


@pytest.mark.parametrize("endpoint", READS)
def test_a_viewer_reads(runs, viewer_user, endpoint):
    assert call(token_client(viewer_user), endpoint, runs).status_code == 200


@pytest.mark.parametrize("endpoint", WRITES)
def test_a_viewer_cannot_start_refire_or_cancel(runs, viewer_user, endpoint):
    response = call(token_client(viewer_user), endpoint, runs)

    assert response.status_code == 403
    assert unchanged(runs)


@pytest.mark.parametrize("endpoint, status", [("list", 200), ("detail", 200), ("exchanges", 200),
                                              ("start", 201), ("refire", 201), ("cancel", 200)])
def test_an_integrations_admin_does_everything(runs, admin_user, endpoint, status):
    response = call(token_client(admin_user), endpoint, runs)

    assert response.status_code == status, response.json()
    assert not unchanged(runs) if endpoint in WRITES else unchanged(runs)


def test_a_signed_in_viewer_reads_with_the_session_too(runs, viewer_user, client):
    client.force_login(viewer_user)

    assert client.get("/api/runs/").status_code == 200
    refused = client.post(f"/api/runs/{runs[0].pk}/refire/")
    assert refused.status_code == 403
    assert detail(refused) == "You do not have permission to perform this action."
