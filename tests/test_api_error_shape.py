"""Every kind of fault on every endpoint answers the one error shape, with a machine-readable code and,
where it concerns a field or a row, its place (README, "API conventions")."""

import json
from base64 import b64encode

import pytest

from integrations.models import Integration
from runs.models import Run
from runs.services import start_run
from tests.api_helpers import codes, detail, faults, job_action, token_client
from tests.definitions_api import action_document
from tests.engine_helpers import drive

pytestmark = pytest.mark.usefixtures("q_sync")


@pytest.fixture
def api(admin_user):
    return token_client(admin_user)


@pytest.fixture
def run(db, server):
    return drive(start_run(job_action(server, final="done"), {"note": "n"}))


def post(client, url, document):
    return client.post(url, json.dumps(document), content_type="application/json")


def test_a_row_fault_names_its_row_and_field(api, run):
    response = api.patch(f"/api/actions/{run.action_id}/", {"stop_conditions": [
        {"path": "status", "value": "done"}, {"path": "count", "operator": "gt", "value": "many"},
    ]}, format="json")

    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"
    assert codes(response) == {"stop_conditions.1.value": ["invalid"]}
    assert detail(response, "stop_conditions.1.value") == "'>' needs a number, not 'many'."


@pytest.mark.parametrize("method, url, status, code", [
    ("get", "/api/integrations/", 401, "not_authenticated"),
    ("get", "/api/runs/", 401, "not_authenticated"),
    ("post", "/api/actions/{action}/runs/", 401, "not_authenticated"),
])
def test_no_credentials(db, run, method, url, status, code):
    response = getattr(token_client(), method)(url.format(action=run.action_id), format="json")

    assert response.status_code == status
    assert codes(response) == {None: [code]}
    assert response.json()["type"] == "client_error"


def test_a_bad_token_and_a_missing_permission(db, run, viewer_user):
    bad = token_client()
    bad.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert codes(bad.get("/api/runs/")) == {None: ["authentication_failed"]}
    refused = token_client(viewer_user).post(f"/api/runs/{run.pk}/cancel/")
    assert refused.status_code == 403
    assert codes(refused) == {None: ["permission_denied"]}


@pytest.mark.parametrize("url", ["/api/runs/999999/", "/api/integrations/999999/", "/api/actions/999999/",
                                 "/api/runs/999999/exchanges/", "/api/nothing/"])
def test_not_found(api, db, url):
    response = api.get(url)

    assert response.status_code == 404
    assert codes(response) == {None: ["not_found"]}


def test_the_engines_refusals_carry_their_kind(api, run, server):
    finished = api.post(f"/api/runs/{run.pk}/cancel/")
    not_refireable = api.post(f"/api/runs/{run.pk}/refire/", {}, format="json")
    not_waiting = api.post(f"/api/runs/{run.pk}/confirm/")
    Integration.objects.update(archived=True)
    archived = post(api, f"/api/actions/{run.action_id}/runs/", {})

    assert [response.status_code for response in (finished, not_refireable, not_waiting, archived)] == [409] * 4
    assert codes(finished) == {None: ["run_finished"]}
    assert codes(not_refireable) == {None: ["not_refireable"]}
    assert codes(not_waiting) == {None: ["not_waiting"]}
    assert codes(archived) == {None: ["run_refused"]}
    assert detail(finished) == "The run is already succeeded."


def test_a_method_the_url_does_not_take_and_an_accept_it_cannot_answer(api, run):
    method = api.delete(f"/api/runs/{run.pk}/")
    accept = api.get(f"/api/runs/{run.pk}/", HTTP_ACCEPT="application/xml")

    assert (method.status_code, codes(method)) == (405, {None: ["method_not_allowed"]})
    assert (accept.status_code, codes(accept)) == (406, {None: ["not_acceptable"]})


def test_a_body_that_is_not_json(api, run):
    response = api.post(f"/api/actions/{run.action_id}/runs/", "{nope", content_type="application/json")

    assert response.status_code == 400
    assert codes(response) == {None: ["parse_error"]}
    assert response.json()["type"] == "client_error"


@pytest.mark.parametrize("query, attr, code", [
    ("archived=maybe", "archived", "invalid"), ("archived=", "archived", "blank"),
])
def test_a_boolean_filter_takes_true_or_false_only(api, db, query, attr, code):
    Integration.objects.create(name="Live", slug="live")
    Integration.objects.create(name="Old", slug="old", archived=True)

    response = api.get(f"/api/integrations/?{query}")

    assert response.status_code == 400
    assert codes(response) == {attr: [code]}
    assert [item["slug"] for item in api.get("/api/integrations/?archived=false").json()["results"]] == ["live"]
    assert [item["slug"] for item in api.get("/api/integrations/?archived=true").json()["results"]] == ["old"]


@pytest.mark.parametrize("query, attr", [("status=sleeping", "status"), ("action=x", "action"),
                                         ("status=", "status"), ("action=", "action"), ("page_size=null", "page_size"),
                                         ("page_size=0", "page_size"), ("created_after=", "created_after"),
                                         ("cursor=" + b64encode(b"o=x").decode(), "cursor")])
def test_a_bad_query_parameter_of_runs_is_a_400_naming_it(api, db, query, attr):
    response = api.get(f"/api/runs/?{query}")

    assert response.status_code == 400
    assert list(codes(response)) == [attr]


@pytest.mark.parametrize("url", ["/api/webhooks/?enabled=", "/api/webhook-deliveries/?subscription=",
                                 "/api/actions/?slug=", "/api/runs/1/exchanges/?page_size=x"])
def test_an_empty_or_unreadable_query_value_elsewhere_is_a_400_too(api, run, url):
    response = api.get(url.replace("/1/", f"/{run.pk}/"))

    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == url.split("?")[1].split("=")[0]


def test_an_id_that_names_nothing_filters_to_nothing(api, run):
    assert api.get(f"/api/runs/?action={run.action_id}").json()["results"] != []
    assert api.get("/api/runs/?action=999999").json()["results"] == []
    assert api.get(f"/api/runs/?integration={2**70}").json()["results"] == []
    assert api.get("/api/actions/?integration=999999").json()["results"] == []


def test_page_size_past_the_most_gives_the_most(api, run):
    response = api.get("/api/runs/?page_size=100000")

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [run.pk]


def test_importing_over_an_existing_slug_is_a_409_and_with_replace_it_replaces(api, run):
    document = api.get(f"/api/integrations/{run.integration_id}/export/").json()

    refused = post(api, "/api/integrations/import/", document)
    replaced = post(api, "/api/integrations/import/?replace=true", document)

    assert refused.status_code == 409
    assert refused.json()["type"] == "client_error"
    assert codes(refused) == {"slug": ["slug_exists"]}
    assert "import with replace" in detail(refused, "slug")
    assert replaced.status_code == 200


def test_an_existing_slug_beside_other_faults_is_one_of_the_400s_faults(api, run):
    document = api.get(f"/api/integrations/{run.integration_id}/export/").json()
    document["actions"][0]["url"] = "ftp://x"

    refused = post(api, "/api/integrations/import/", document)

    assert refused.status_code == 400
    assert codes(refused)["slug"] == ["slug_exists"]
    assert any(attr.startswith("actions.") for attr in codes(refused) if attr)


def test_a_post_without_its_trailing_slash_answers_as_with_it(api, run, settings):
    settings.DEBUG = True  # where Django's redirect to the slash was a RuntimeError's HTML page for a POST
    started = post(api, f"/api/actions/{run.action_id}/runs", {"variables": {"note": "x"}})
    refused = post(api, f"/api/actions/{run.action_id}/runs", {"variables": {"env": "moon"}})

    assert started.status_code == 201, started.content
    assert started["Content-Type"] == "application/json"
    assert refused.status_code == 400
    assert codes(refused) == {"variables.env": ["invalid"]}
    assert Run.objects.count() == 2


def test_a_created_action_refused_names_each_fault_with_a_code(api, run):
    response = post(api, "/api/actions/", action_document(run.integration, headers=[1], params=3))

    assert response.status_code == 400
    found = faults(response)
    assert {error["attr"] for error in found} == {"headers", "params"}
    assert all(error["code"] for error in found)


def test_an_action_over_a_taken_slug_is_a_409_slug_exists(api, run):
    taken = post(api, "/api/actions/", {"integration": run.integration_id, "name": "Again",
                                        "slug": run.action.slug, "url": "/again"})
    free = post(api, "/api/actions/", {"integration": run.integration_id, "name": "Again", "slug": "again",
                                       "url": "/again"})

    assert taken.status_code == 409, taken.json()
    assert codes(taken) == {"slug": ["slug_exists"]}
    assert free.status_code == 201, free.json()
