"""ETags and conditional requests (integrations_site/conditional.py): a definition or a run read alone carries an
ETag, If-None-Match with it is a 304, If-Match that went stale is a 412 and saves nothing."""

import pytest

from integrations.models import Integration
from runs.models import Run, Status
from runs.services import start_run
from tests.api_helpers import codes
from tests.definitions_api import action_document, post_json
from tests.engine_helpers import make_action


@pytest.fixture
def acme(db):
    return Integration.objects.create(name="Acme", slug="acme", base_url="https://acme.example.com")


def patch(api, url, document, **headers):
    return api.patch(url, document, format="json", **headers)


@pytest.mark.parametrize("kind", ["integrations", "actions"])
def test_a_definition_has_an_etag_and_if_none_match_is_304(admin_api, acme, kind):
    url = f"/api/integrations/{acme.pk}/" if kind == "integrations" else \
        f"/api/actions/{post_json(admin_api, '/api/actions/', action_document(acme)).json()['id']}/"

    read = admin_api.get(url)
    tag = read["ETag"]
    again = admin_api.get(url, HTTP_IF_NONE_MATCH=tag)

    assert read.status_code == 200 and tag.startswith('"')
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == tag
    assert patch(admin_api, url, {"name": "Renamed"}).status_code == 200
    changed = admin_api.get(url, HTTP_IF_NONE_MATCH=tag)
    assert changed.status_code == 200 and changed["ETag"] != tag


def test_two_admins_do_not_overwrite_each_other(admin_api, acme):
    url = f"/api/integrations/{acme.pk}/"
    tag = admin_api.get(url)["ETag"]  # both read the same copy

    first = patch(admin_api, url, {"name": "First"}, HTTP_IF_MATCH=tag)
    second = patch(admin_api, url, {"name": "Second"}, HTTP_IF_MATCH=tag)

    assert first.status_code == 200 and first["ETag"] != tag
    assert second.status_code == 412
    assert codes(second) == {None: ["precondition_failed"]}
    acme.refresh_from_db()
    assert acme.name == "First"
    # Read again, the change applies.
    assert patch(admin_api, url, {"name": "Second"}, HTTP_IF_MATCH=first["ETag"]).status_code == 200


def test_put_with_a_stale_if_match_is_412(admin_api, acme):
    url = f"/api/actions/{post_json(admin_api, '/api/actions/', action_document(acme)).json()['id']}/"
    stale = admin_api.get(url)["ETag"]
    patch(admin_api, url, {"name": "Meanwhile"})

    replaced = admin_api.put(url, action_document(acme, name="Mine"), format="json", HTTP_IF_MATCH=stale)

    assert replaced.status_code == 412
    assert admin_api.get(url).json()["name"] == "Meanwhile"


def test_a_run_has_an_etag_that_changes_with_its_status(admin_api, q_sync, server):
    run = start_run(make_action(server.base_url))
    url = f"/api/runs/{run.pk}/"
    tag = admin_api.get(url)["ETag"]

    assert admin_api.get(url, HTTP_IF_NONE_MATCH=tag).status_code == 304
    Run.objects.filter(pk=run.pk).update(status=Status.POLLING)
    assert admin_api.get(url, HTTP_IF_NONE_MATCH=tag).status_code == 200


def test_the_schema_documents_the_conditional_headers(admin_api, db):
    schema = admin_api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    read = schema["paths"]["/api/integrations/{id}/"]["get"]
    change = schema["paths"]["/api/actions/{id}/"]["patch"]

    assert "If-None-Match" in [parameter["name"] for parameter in read["parameters"]] and "304" in read["responses"]
    assert "If-Match" in [parameter["name"] for parameter in change["parameters"]] and "412" in change["responses"]
    assert "304" in schema["paths"]["/api/runs/{id}/"]["get"]["responses"]


@pytest.mark.parametrize("url", ["/api/integrations/", "/api/actions/"])
def test_definition_lists_are_paginated_with_cursors_like_the_runs_list(admin_api, acme, url):
    for number in range(3):
        integration = Integration.objects.create(name=f"I{number}", slug=f"i{number}")
        post_json(admin_api, "/api/actions/", action_document(acme, name=f"A{number}", slug=f"a{number}"))
    del integration

    first = admin_api.get(f"{url}?page_size=2").json()
    rest = admin_api.get(first["next"]).json()

    assert set(first) == {"results", "next", "previous"} == set(admin_api.get("/api/runs/").json())
    assert len(first["results"]) == 2 and first["previous"] is None
    seen = [item["id"] for item in first["results"] + rest["results"]]
    assert len(seen) == len(set(seen)) >= 3 and seen == sorted(seen)
    assert rest["previous"] is not None


@pytest.mark.parametrize("url", ["/api/integrations/", "/api/actions/", "/api/runs/1/files/"])
def test_a_bad_cursor_is_400_as_on_the_runs_list(admin_api, acme, q_sync, server, url):
    start_run(make_action(server.base_url))
    url = url.replace("/1/", f"/{Run.objects.get().pk}/")

    response = admin_api.get(f"{url}?cursor=not-a-cursor")

    assert response.status_code == 400
    assert codes(response) == {"cursor": ["invalid_cursor"]}


def test_a_runs_files_are_a_page(admin_api, q_sync, server):
    run = start_run(make_action(server.base_url))

    listed = admin_api.get(f"/api/runs/{run.pk}/files/").json()

    assert listed == {"results": [], "next": None, "previous": None}


def test_the_schema_declares_the_etag_where_it_is_answered(admin_api, db):
    """A generated client reads the ETag from the schema: every read of one definition or run declares it on
    200 and 304, every PUT and PATCH on 200; the lists, which carry none, do not."""
    paths = admin_api.get("/api/schema/?format=json").json()["paths"]

    def headers(path, method, code):
        return set(paths[path][method]["responses"][code].get("headers", {}))

    for path in ("/api/integrations/{id}/", "/api/actions/{id}/", "/api/webhooks/{id}/", "/api/runs/{id}/"):
        assert "ETag" in headers(path, "get", "200") and "ETag" in headers(path, "get", "304"), path
        assert paths[path]["get"]["responses"]["200"]["headers"]["ETag"]["required"] is True
    for path in ("/api/integrations/{id}/", "/api/actions/{id}/", "/api/webhooks/{id}/"):
        assert "ETag" in headers(path, "put", "200") and "ETag" in headers(path, "patch", "200"), path
    for path in ("/api/integrations/", "/api/runs/"):
        assert "ETag" not in headers(path, "get", "200")
