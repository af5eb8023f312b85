"""Chains through the API: a run's chain in its detail, start a waiting step, confirm or reject a success."""

import pytest

from runs.models import Run, Status
from runs.services import start_run
from tests.api_helpers import detail, details, token_client
from tests.engine_helpers import drive, make_action
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")


@pytest.fixture
def api(admin_user):
    return token_client(admin_user)


@pytest.fixture
def viewer_api(viewer_user):
    return token_client(viewer_user)


def two_steps(server, first_fields=None, **second):
    server.script("/orders", reply(201, json={"id": "o-7"}))
    server.script("/orders/o-7/pay", reply(200, json={"paid": True}))
    first = make_action(server.base_url, name="Create", url="/orders", mappings=[("the_id", "id")],
                        **(first_fields or {}))
    make_action(server.base_url, integration=first.integration, name="Pay", url="/orders/{{ the_id }}/pay",
                after=first, **second)
    return first


def next_of(run):
    return Run.objects.get(previous_run=run, refired_from__isnull=True)


def test_the_run_detail_lists_its_chain_and_the_chains_status(api, db, server):
    one = drive(start_run(two_steps(server, auto_start=False)))
    two = next_of(one)

    body = api.get(f"/api/runs/{two.pk}/").json()

    assert body["status"] == "waiting_start" and body["can_start"] is True and body["can_confirm"] is False
    assert body["previous_run"] == one.pk
    assert [(step["step"], step["run"], step["action_name"], step["status"], step["attempts"])
            for step in body["chain"]] == [(1, one.pk, "Create", "succeeded", 1), (2, two.pk, "Pay", "waiting_start", 1)]
    assert body["chain"][1]["url"].endswith(f"/api/runs/{two.pk}/")
    assert body["chain_status"] == "waiting"


def test_the_runs_list_has_no_chain_but_filters_by_the_new_statuses(api, db, server):
    two = next_of(drive(start_run(two_steps(server, auto_start=False))))

    body = api.get("/api/runs/", {"status": "waiting_start"}).json()

    assert [run["id"] for run in body["results"]] == [two.pk]
    assert "chain" not in body["results"][0]


def test_start_starts_a_step_that_waits_and_the_chain_goes_on(api, db, server):
    two = next_of(drive(start_run(two_steps(server, auto_start=False))))

    response = api.post(f"/api/runs/{two.pk}/start/")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "pending"
    assert drive(Run.objects.get(pk=two.pk)).status == Status.SUCCEEDED
    assert api.get(f"/api/runs/{two.pk}/").json()["chain_status"] == "succeeded"


def test_starting_a_run_that_does_not_wait_is_a_409(api, db, server):
    one = drive(start_run(two_steps(server)))

    response = api.post(f"/api/runs/{one.pk}/start/")

    assert response.status_code == 409
    assert detail(response) == "The run does not wait for a start: it is succeeded."


def test_confirm_succeeds_a_run_that_waits_for_confirmation(api, db, server):
    one = drive(start_run(two_steps(server, first_fields={"finish_on_success": False})))
    assert api.get(f"/api/runs/{one.pk}/").json()["chain_status"] == "waiting"

    response = api.post(f"/api/runs/{one.pk}/confirm/")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "succeeded"
    assert response.json()["reason"] == "Success confirmed by alice. The service answered 201."
    assert next_of(one).status == Status.PENDING
    assert api.post(f"/api/runs/{one.pk}/confirm/").status_code == 409


def test_reject_fails_a_run_that_waits_for_confirmation_with_the_reason(api, db, server):
    one = drive(start_run(two_steps(server, first_fields={"finish_on_success": False})))

    response = api.post(f"/api/runs/{one.pk}/reject/", {"reason": "not paid"}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "failed"
    assert response.json()["reason"].startswith("Success rejected by alice: not paid.")
    assert response.json()["can_refire"] is True
    assert not Run.objects.filter(previous_run=one).exists()


def test_a_callback_to_a_run_that_waits_for_confirmation_is_a_409(api, db, server):
    one = drive(start_run(two_steps(server, first_fields={"finish_on_success": False})))

    response = api.post(f"/api/callbacks/{one.callback_token}/", {"status": "done"}, format="json")

    assert response.status_code == 409


def test_a_viewer_cannot_start_confirm_or_reject(viewer_api, db, server):
    one = drive(start_run(two_steps(server, first_fields={"finish_on_success": False}, auto_start=False)))

    for operation in ("start", "confirm", "reject"):
        assert viewer_api.post(f"/api/runs/{one.pk}/{operation}/").status_code == 403
    assert viewer_api.get(f"/api/runs/{one.pk}/").status_code == 200
    assert Run.objects.get(pk=one.pk).status == Status.WAITING_CONFIRMATION


def test_a_callback_success_goes_on_into_the_next_action(api, db, server):
    first = two_steps(server, first_fields={"polling_mode": "callback"})
    one = drive(start_run(first))
    assert one.status == Status.WAITING_CALLBACK

    response = api.post(f"/api/callbacks/{one.callback_token}/", {"status": "done"}, format="json")

    assert response.status_code == 202
    assert drive(next_of(one)).status == Status.SUCCEEDED
    assert Run.objects.filter(previous_run=one).count() == 1


def test_an_action_names_its_next_action_through_the_api_and_the_next_one_reads_its_fields(api, db, server):
    first = make_action(server.base_url, name="Create", url="/orders", mappings=[("the_id", "id")])
    second = make_action(server.base_url, integration=first.integration, name="Pay", url="/orders/pay")
    read_the_id = {"url": "/orders/{{ the_id }}/pay"}
    assert api.patch(f"/api/actions/{second.pk}/", read_the_id, format="json").status_code == 400

    response = api.patch(f"/api/actions/{first.pk}/", {"next_action": second.pk, "finish_on_success": False},
                         format="json")

    assert response.status_code == 200, response.json()
    assert (response.json()["next_action"], response.json()["finish_on_success"]) == (second.pk, False)
    response = api.patch(f"/api/actions/{second.pk}/", {**read_the_id, "auto_start": False}, format="json")
    assert response.status_code == 200, response.json()
    assert details(api.patch(f"/api/actions/{first.pk}/", {"next_action": first.pk}, format="json")) == {
        "next_action": ["An action cannot follow itself."]
    }


def test_a_chain_cannot_loop(api, db, server):
    first = make_action(server.base_url, name="One")
    second = make_action(server.base_url, integration=first.integration, name="Two", after=first)

    response = api.patch(f"/api/actions/{second.pk}/", {"next_action": first.pk}, format="json")

    assert response.status_code == 400
    assert details(response) == {"next_action": ["This chain would lead back to this action: a chain cannot loop."]}
