"""A log longer than twice INTEGRATIONS_EXCHANGES_KEPT_PER_RUN keeps its first and last exchanges, and one
row in their place says how many were pruned: in the admin's Actions log, the Debug view and the API."""

import pytest
from django.urls import reverse

from runs.models import Exchange, ExchangeKind, Run
from runs.retention import Retention
from tests.api_helpers import token_client
from tests.engine_helpers import step
from tests.retention_helpers import changing_job, polled
from tests.servers import reply
from tests.test_admin_runs import text_of

pytestmark = pytest.mark.usefixtures("q_sync")


@pytest.fixture(autouse=True)
def keep_three(settings):
    settings.INTEGRATIONS_EXCHANGES_KEPT_PER_RUN = 3


def log_of(run):
    return list(Exchange.objects.filter(run=run).order_by("id"))


def test_an_endless_run_keeps_its_first_and_last_three_exchanges_and_one_row_for_those_between(db, server):
    run = polled(changing_job(server), 19)  # the first request (attempt 1), then 19 polls: attempts 2 to 20
    assert len(log_of(run)) == 20

    done = Retention().finish()

    log = log_of(run)
    assert [row.kind for row in log] == ["request", "poll", "poll", "pruned", "poll", "poll", "poll"]
    assert [row.attempt for row in log] == [1, 2, 3, 4, 18, 19, 20]
    marker = log[3]
    assert (marker.pruned_count, marker.last_attempt) == (14, 17)
    assert marker.response_body == "" and marker.url == ""
    assert done.middle == 14 and done.old == 0
    run.refresh_from_db()
    assert run.last_exchange_id == log[-1].pk


def test_later_pruning_adds_to_the_same_row(db, server):
    action = changing_job(server)
    run = polled(action, 19)
    Retention().finish()

    polled(action, 10, run=run)
    Retention().finish()

    log = log_of(run)
    assert [row.kind for row in log].count(ExchangeKind.PRUNED) == 1
    assert [row.attempt for row in log] == [1, 2, 3, 4, 28, 29, 30]
    assert (log[3].pruned_count, log[3].last_attempt) == (24, 27)
    assert log[3].created_at < log[3].last_at


def test_a_repeated_answer_still_adds_to_the_last_exchange_after_pruning(db, server):
    action = changing_job(server)
    run = polled(action, 19)
    Retention().finish()
    last = Run.objects.get(pk=run.pk).last_exchange_id

    server.script("/jobs/1", reply(json={"status": "running", "progress": "stuck"}))
    polled(action, 4, run=run)  # one new answer, then the same three times
    Retention().finish()

    log = log_of(run)
    assert log[-1].repeat_count == 4
    assert Run.objects.get(pk=run.pk).last_exchange_id == log[-1].pk != last
    assert [row.attempt for row in log[-3:]] == [19, 20, 21]
    assert log[3].pruned_count == 15


def test_a_short_log_is_left_alone(db, server):
    run = polled(changing_job(server), 6)  # 7 exchanges: three, one, three

    assert Retention().finish().middle == 0

    assert [row.kind for row in log_of(run)] == ["request"] + ["poll"] * 6


def test_the_pruned_row_is_shown_in_the_actions_log_and_the_debug_view(db, server, client, admin_user):
    run = polled(changing_job(server), 19)
    Retention().finish()
    marker = Exchange.objects.get(run=run, kind=ExchangeKind.PRUNED)
    client.force_login(admin_user)

    page = text_of(client.get(reverse("admin:runs_run_change", args=[run.pk])))
    debug = client.get(reverse("admin:runs_run_exchange", args=[run.pk, marker.pk]))

    assert "14 exchanges pruned (attempts 4 to 17)" in page
    assert "a log keeps its first and last 3 exchanges" in page
    assert "20 exchanges in 7 rows, newest first" in page  # the pruned row stands for 14
    assert debug.status_code == 200
    assert "14 exchanges pruned (attempts 4 to 17)" in text_of(debug)
    assert "Copy as cURL" not in text_of(debug)


def test_the_pruned_row_is_listed_by_the_api_in_its_place(db, server, viewer_user):
    run = polled(changing_job(server), 19)
    Retention().finish()

    body = token_client(viewer_user).get(f"/api/runs/{run.pk}/exchanges/").json()

    rows = body["results"]
    assert [row["kind"] for row in rows] == ["request", "poll", "poll", "pruned", "poll", "poll", "poll"]
    assert (rows[3]["pruned_count"], rows[3]["attempt"], rows[3]["last_attempt"]) == (14, 4, 17)
    assert rows[2]["pruned_count"] is None
    step(run)  # the run goes on polling as before
    assert Exchange.objects.filter(run=run).count() == 8
