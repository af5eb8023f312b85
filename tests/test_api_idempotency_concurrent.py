"""Two requests with one Idempotency-Key at the same moment, through a real server: one run, one answer."""

import threading

import pytest
import requests
from rest_framework.authtoken.models import Token

from runs import services
from runs.models import IdempotencyKey, Run
from tests.api_helpers import job_action


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_start_exactly_one_run(live_server, admin_user, server, monkeypatch):
    action = job_action(server)
    token = Token.objects.create(user=admin_user)
    real_start_run = services.start_run

    def slow_start_run(*args, **kwargs):
        # Hold each request inside its transaction long enough for the other to arrive meanwhile.
        threading.Event().wait(0.5)
        return real_start_run(*args, **kwargs)

    monkeypatch.setattr(services, "start_run", slow_start_run)
    barrier = threading.Barrier(2)
    answers = [None, None]

    def post(index):
        barrier.wait()
        answers[index] = requests.post(
            f"{live_server.url}/api/actions/{action.pk}/runs/",
            json={"variables": {"note": "once"}},
            headers={"Authorization": f"Token {token.key}", "Idempotency-Key": "same-key"},
            timeout=30,
        )

    threads = [threading.Thread(target=post, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [answer.status_code for answer in answers] == [201, 201], [answer.text for answer in answers]
    assert answers[0].json() == answers[1].json()
    run = Run.objects.get()
    assert answers[0].json()["id"] == run.pk
    assert IdempotencyKey.objects.get().answer()["id"] == run.pk
