import pytest

from runs.services import start_run
from runs.models import Exchange
from tests.api_helpers import detail, job_action, token_client
from tests.engine_helpers import drive
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")


@pytest.fixture
def api(viewer_user):
    return token_client(viewer_user)


def test_every_field_of_every_exchange_is_listed_in_order(api, db, server):
    action = job_action(server, poll_interval=1)
    server.script("/jobs/j-1", [reply(json={"id": "j-1", "status": "running"}),
                                reply(json={"id": "j-1", "status": "done"}, headers={"X-Trace": "t-9"})])
    run = drive(start_run(action, {"note": "n"}))

    body = api.get(f"/api/runs/{run.pk}/exchanges/").json()

    rows = list(Exchange.objects.filter(run=run).order_by("id"))
    assert [item["id"] for item in body["results"]] == [row.pk for row in rows]
    assert [item["kind"] for item in body["results"]] == ["request", "poll", "poll"]
    last = body["results"][-1]
    assert set(last) == {field.name for field in Exchange._meta.fields}
    assert last["run"] == run.pk
    assert (last["method"], last["url"]) == ("GET", server.url("/jobs/j-1"))
    assert last["status_code"] == 200
    assert last["response_headers"]["X-Trace"] == "t-9"
    assert last["response_body"] == '{"id": "j-1", "status": "done"}'
    assert last["response_size"] == len(last["response_body"])
    assert last["response_truncated"] is False
    assert last["duration_ms"] > 0
    assert "matched" in last["decision"]
    assert (last["attempt"], last["repeat_count"], last["sent"]) == (3, 1, True)
    first = body["results"][0]
    assert first["method"] == "POST" and first["request_body"] == '{"env": "staging", "note": "n"}'
    assert first["request_headers"]["Content-Type"] == "application/json"
    assert first["status_code"] == 201 and first["error"] == "" and first["failed_part"] == ""


def test_exchanges_come_a_page_at_a_time(api, db, server):
    action = job_action(server, poll_interval=1)
    server.script("/jobs/j-1", [reply(json={"id": "j-1", "status": "running"}),
                                reply(json={"id": "j-1", "status": "running", "progress": 50}),
                                reply(json={"id": "j-1", "status": "done"})])
    run = drive(start_run(action, {"note": "n"}))
    expected = list(run.exchanges.order_by("id").values_list("id", flat=True))
    assert len(expected) == 4

    first = api.get(f"/api/runs/{run.pk}/exchanges/?page_size=3").json()
    second = api.get(first["next"]).json()

    assert [item["id"] for item in first["results"] + second["results"]] == expected
    assert second["next"] is None


def test_the_exchanges_of_an_unknown_run_are_404(api, db):
    response = api.get("/api/runs/999999/exchanges/")

    assert response.status_code == 404
    assert detail(response) == "No run 999999."
