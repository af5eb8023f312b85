import pytest

from integrations.models import Integration
from runs.models import Run, Status
from tests.api_helpers import codes, detail, details, job_action, token_client
from tests.engine_helpers import drive

pytestmark = pytest.mark.usefixtures("q_sync")


@pytest.fixture
def api(admin_user):
    return token_client(admin_user)


@pytest.fixture
def action(db, server):
    return job_action(server)


def start(api, action, payload=None, **headers):
    return api.post(f"/api/actions/{action.pk}/runs/", payload if payload is not None else {}, format="json",
                    **headers)


def test_it_answers_201_with_the_pending_run_and_its_links(api, action, admin_user):
    response = start(api, action, {"variables": {"env": "production", "note": "hi"}})

    assert response.status_code == 201, response.json()
    body = response.json()
    run = Run.objects.get()
    assert body["id"] == run.pk
    assert body["status"] == "pending"
    assert body["variables"] == {"env": "production", "note": "hi"}
    assert body["rehearsal"] is False
    assert body["action"] == action.pk and body["integration"] == action.integration_id
    assert body["created_by"] == "alice" and run.created_by == admin_user
    assert body["callback_url"] == run.callback_url
    assert body["url"] == f"http://testserver/api/runs/{run.pk}/"
    assert body["exchanges_url"] == f"http://testserver/api/runs/{run.pk}/exchanges/"
    assert body["action_url"] == f"http://testserver/api/actions/{action.pk}/"
    assert response["Location"] == body["url"]


def test_the_run_started_is_sent_by_the_engine_and_ends_as_its_conditions_say(api, action, server):
    run = Run.objects.get(pk=start(api, action, {"variables": {"note": "hi"}}).json()["id"])

    run = drive(run)

    assert run.status == Status.SUCCEEDED, run.reason
    assert server.requests[0].json() == {"env": "staging", "note": "hi"}
    assert api.get(f"/api/runs/{run.pk}/").json()["status"] == "succeeded"


def test_declared_defaults_fill_the_variables_left_out(api, action):
    response = start(api, action, {"variables": {"note": "x"}})

    assert response.json()["variables"] == {"env": "staging", "note": "x"}


def test_a_rehearsal_is_started_as_one(api, action):
    response = start(api, action, {"variables": {"note": "x"}, "rehearsal": True})

    assert response.status_code == 201
    assert response.json()["rehearsal"] is True
    assert Run.objects.get().rehearsal is True


def test_a_variable_outside_its_choices_is_400_naming_it_and_starts_nothing(api, action):
    response = start(api, action, {"variables": {"env": "moon", "note": "x"}})

    assert response.status_code == 400
    assert details(response) == {"variables.env": ["'moon' is not one of the choices: staging, production."]}
    assert not Run.objects.exists()


def test_an_undeclared_variable_is_400_naming_it(api, action):
    response = start(api, action, {"variables": {"note": "x", "colour": "red"}})

    assert response.status_code == 400
    assert list(details(response)) == ["variables.colour"]
    assert "takes no variable 'colour'" in details(response)["variables.colour"][0]
    assert not Run.objects.exists()


def test_variables_that_are_not_an_object_are_400(api, action):
    response = start(api, action, {"variables": ["env", "staging"]})

    assert response.status_code == 400
    assert details(response) == {"variables": ['Expected a dictionary of items but got type "list".']}


def test_a_nul_character_in_a_variable_is_400(api, action):
    response = start(api, action, {"variables": {"note": "a\u0000b"}})

    assert response.status_code == 400
    assert details(response) == {
        "variables.note": ["This contains a NUL character (U+0000), which cannot be stored."]
    }
    assert not Run.objects.exists()


def test_a_request_the_action_cannot_build_is_400_saying_which_placeholder(api, server):
    # job_id is a field stored from the first answer: the first request cannot use it.
    response = start(api, job_action(server, body='{"job": "{{ job_id }}"}'), {"variables": {}})

    assert response.status_code == 400
    assert details(response) == {
        "variables": ["Unknown placeholder {{ job_id }}: no variable, field or secret has that name."]
    }
    assert not Run.objects.exists()


def test_an_optional_input_left_out_is_an_empty_string(api, server):
    # "note" is optional without a default, and the body uses it.
    response = start(api, job_action(server), {"variables": {"env": "production"}})

    assert response.status_code == 201, response.json()
    assert response.json()["variables"] == {"env": "production", "note": ""}


def test_a_rehearsal_that_is_not_a_boolean_is_400(api, action):
    response = start(api, action, {"variables": {"note": "x"}, "rehearsal": "perhaps"})

    assert response.status_code == 400
    assert codes(response) == {"rehearsal": ["invalid"]}


def test_an_archived_integration_is_409_with_the_reason(api, action):
    Integration.objects.filter(pk=action.integration_id).update(archived=True)

    response = start(api, action, {"variables": {"note": "x"}})

    assert response.status_code == 409
    assert detail(response) == "The integration Local is archived: its actions cannot run."
    assert not Run.objects.exists()


@pytest.mark.parametrize("action_id", ["999999", "abc", "99999999999999999999999"])
def test_an_unknown_action_is_404(api, db, action_id):
    response = api.post(f"/api/actions/{action_id}/runs/", {}, format="json")

    assert response.status_code == 404
    assert detail(response) == f"No action {action_id}."


def test_a_body_that_is_not_json_is_400_and_another_content_type_415(api, action):
    assert api.post(f"/api/actions/{action.pk}/runs/", "{nope", content_type="application/json").status_code == 400
    response = api.post(f"/api/actions/{action.pk}/runs/", {"variables": "x"})  # multipart

    assert response.status_code == 415
    assert not Run.objects.exists()


def test_runs_of_an_action_are_not_listed_here(api, action):
    assert api.get(f"/api/actions/{action.pk}/runs/").status_code == 405
