from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User

from runs.models import IdempotencyKey, Run
from tests.api_helpers import codes, detail, job_action, token_client

pytestmark = pytest.mark.usefixtures("q_sync")

VARIABLES = {"variables": {"env": "production", "note": "deploy 7"}}


@pytest.fixture
def api(admin_user):
    return token_client(admin_user)


@pytest.fixture
def action(db, server):
    return job_action(server)


def start(api, action, payload=VARIABLES, key="key-1"):
    return api.post(f"/api/actions/{action.pk}/runs/", payload, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_retry_with_the_same_key_gets_the_first_answer_and_starts_nothing(api, action):
    first = start(api, action)
    Run.objects.update(status="polling", attempt=1)  # the run moved on meanwhile

    again = start(api, action)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.json()["status"] == "pending"
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert Run.objects.count() == 1


def test_different_keys_start_different_runs(api, action):
    assert start(api, action, key="a").json()["id"] != start(api, action, key="b").json()["id"]
    assert Run.objects.count() == 2


@pytest.mark.parametrize("change", [
    {"variables": {"env": "staging", "note": "deploy 7"}},
    {**VARIABLES, "rehearsal": True},
])
def test_the_same_key_with_other_content_is_422(api, action, change):
    start(api, action)

    response = start(api, action, change)

    assert response.status_code == 422
    assert "different request" in detail(response)
    assert Run.objects.count() == 1


def test_the_same_key_for_another_action_is_422(api, action, server):
    start(api, action)

    response = start(api, job_action(server, slug="other"))

    assert response.status_code == 422
    assert Run.objects.count() == 1


def test_keys_are_per_user(api, action, groups):
    carol = User.objects.create_user("carol", password="carol-password-123")
    carol.groups.add(Group.objects.get(name="Integrations Admin"))

    mine, theirs = start(api, action), start(token_client(carol), action)

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert theirs.json()["created_by"] == "carol"


def test_a_refused_request_keeps_no_key_so_the_corrected_retry_starts_the_run(api, action):
    refused = start(api, action, {"variables": {"env": "moon", "note": "x"}})
    assert refused.status_code == 400

    response = start(api, action)

    assert response.status_code == 201
    assert IdempotencyKey.objects.get().answer()["id"] == response.json()["id"]


def test_a_key_older_than_a_day_is_forgotten(api, action):
    first = start(api, action)
    IdempotencyKey.objects.update(created_at=IdempotencyKey.objects.get().created_at - timedelta(hours=24, seconds=1))

    again = start(api, action)

    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]
    assert IdempotencyKey.objects.get().answer()["id"] == again.json()["id"]


def test_a_key_younger_than_a_day_is_kept(api, action):
    first = start(api, action)
    IdempotencyKey.objects.update(created_at=IdempotencyKey.objects.get().created_at - timedelta(hours=23))

    assert start(api, action).json()["id"] == first.json()["id"]


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_an_empty_or_overlong_key_is_400(api, action, key):
    response = start(api, action, key=key)

    assert response.status_code == 400
    assert codes(response) == {"Idempotency-Key": ["invalid"]}
    assert not Run.objects.exists()
