"""Bearer tokens beside Token, operationIds a person would write, the download's types, and ReDoc served
from this site's static files."""

import json

import pytest
from django.core.files.base import ContentFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from runs.models import Run, RunFile
from tests.api_helpers import codes, job_action
from tests.browser import ARTIFACTS, browser, orm_beside_playwright, page  # noqa: F401

EXPECTED_IDS = {
    "listRuns", "getRun", "startRun", "refireRun", "cancelRun", "startWaitingRun", "confirmRun", "rejectRun",
    "listRunExchanges", "listRunFiles", "downloadRunFile", "listIntegrations", "createIntegration",
    "getIntegration", "replaceIntegration", "updateIntegration", "archiveIntegration", "unarchiveIntegration",
    "importIntegration", "exportIntegration", "importManifest", "listActions", "createAction", "getAction",
    "replaceAction", "updateAction", "deleteAction", "postCallback",
}


@pytest.fixture
def schema(client):
    return json.loads(client.get("/api/schema/?format=json").content)


def client_with(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    return client


@pytest.mark.parametrize("keyword", ["Bearer", "bearer", "Token"])
def test_a_token_is_taken_with_either_keyword(db, admin_user, keyword):
    key = Token.objects.create(user=admin_user).key

    assert client_with(f"{keyword} {key}").get("/api/runs/").status_code == 200


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer wrong"])
def test_a_bad_bearer_header_is_401(db, header):
    response = client_with(header).get("/api/runs/")

    assert response.status_code == 401
    assert codes(response) == {None: ["authentication_failed"]}


def test_both_keywords_are_security_schemes_of_every_operation(schema):
    schemes = schema["components"]["securitySchemes"]

    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "description": schemes["bearerAuth"][
        "description"]}
    assert schemes["tokenAuth"]["in"] == "header" and schemes["tokenAuth"]["name"] == "Authorization"
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            if not path.startswith("/api/callbacks/"):
                assert {"bearerAuth": []} in operation["security"] and {"tokenAuth": []} in operation["security"]


def test_operation_ids_are_names_a_person_would_write(schema):
    found = {operation["operationId"] for operations in schema["paths"].values() for operation in operations.values()}

    assert EXPECTED_IDS <= found
    assert all("_" not in name and name[0].islower() for name in found), sorted(found)


def test_the_download_declares_its_real_content_types(schema):
    download = schema["paths"]["/api/runs/{id}/files/{name}/"]["get"]["responses"]["200"]["content"]

    assert {"application/octet-stream", "application/pdf", "*/*"} <= set(download)
    assert all(content["schema"] == {"type": "string", "format": "binary"} for content in download.values())


def test_a_download_is_served_as_its_declared_type(db, admin_user, server, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    action = job_action(server)
    run = Run.objects.create(action=action, integration=action.integration, status="succeeded")
    kept = RunFile(run=run, name="report.pdf", content_type="application/pdf", size=4)
    kept.file.save("report.pdf", ContentFile(b"%PDF"), save=True)
    client = client_with(f"Bearer {Token.objects.create(user=admin_user).key}")

    response = client.get(f"/api/runs/{run.pk}/files/report.pdf/", HTTP_ACCEPT="application/pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == b"%PDF"


def test_redoc_is_served_from_this_sites_static_files(admin_client):
    response = admin_client.get("/api/redoc/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/redoc/" in html and "googleapis" not in html
    assert 'spec-url="/api/schema/"' in html


def test_redoc_renders_offline_under_the_policy(page, live_server):  # noqa: F811
    elsewhere, refused = [], []
    page.on("request", lambda request: None if request.url.startswith((live_server.url, "data:", "blob:"))
            else elsewhere.append(request.url))
    page.on("console", lambda message: refused.append(message.text) if message.type == "error" else None)

    page.goto("/api/redoc/")
    page.get_by_text("Integrations API").first.wait_for()
    page.locator('[data-section-id="operation/startRun"]').first.wait_for(state="attached")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "api-redoc.png")  # the first screen: the whole page is 60,000 px tall
    # Only ReDoc's "API docs by Redocly" footer image comes from elsewhere: offline it is a missing image.
    assert [url for url in elsewhere if url != "https://cdn.redoc.ly/redoc/logo-mini.svg"] == []
    assert [text for text in refused if "Content Security Policy" in text] == []
