"""Served as in production (gunicorn's threaded workers), requests that wait for runs leave the API answering,
and each waiter is answered when its run changes."""

import http.client
import threading
import time
from urllib.parse import urlsplit

import requests
from rest_framework.authtoken.models import Token

from runs import services
from runs.services import start_run
from tests.api_helpers import job_action

WAITERS = 50


def test_fifty_waiters_leave_the_api_answering_and_are_woken_when_their_runs_change(
        production_server, viewer_user, server):
    action = job_action(server)
    runs = [start_run(action, {"note": str(number)}) for number in range(WAITERS)]
    headers = {"Authorization": f"Token {Token.objects.create(user=viewer_user).key}"}
    address = urlsplit(production_server.url)
    sent = threading.Semaphore(0)
    answers = {}

    def wait_for(run):
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        told = False
        try:
            connection.request("GET", f"/api/runs/{run.pk}/?wait=30&status=pending", headers=headers)
            sent.release()
            told = True
            response = connection.getresponse()
            answers[run.pk] = (time.monotonic(), response.status, response.getheader("Wait-Outcome"),
                               response.read())
        finally:
            if not told:
                sent.release()  # a waiter that failed to send must not leave the test hanging
            connection.close()

    waiters = [threading.Thread(target=wait_for, args=(run,)) for run in runs]
    for waiter in waiters:
        waiter.start()
    for _ in waiters:
        assert sent.acquire(timeout=30)

    listed = requests.get(f"{production_server.url}/api/runs/", headers=headers, timeout=60)
    listed_at = time.monotonic()
    assert not answers, "a waiter was answered before its run changed"
    for run in runs:
        services.cancel(run)
    for waiter in waiters:
        waiter.join(60)

    assert listed.status_code == 200 and len(listed.json()["results"]) == WAITERS
    assert len(answers) == WAITERS
    assert listed_at < min(answered_at for answered_at, *_ in answers.values())
    assert {(status, outcome) for _, status, outcome, _ in answers.values()} == {(200, "changed")}
    assert all(b'"status":"cancelled"' in body for *_, body in answers.values())
