"""The sandbox plays a remote job API: stateless ids, status from elapsed time, XML, callbacks."""

import hashlib
import importlib
import json
import logging
import queue
import struct
import zlib

import pytest
import xmltodict
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import clear_url_caches
from werkzeug import Response

import integrations_site.urls
from sandbox import views

AUTH = {"Authorization": f"Bearer {views.SANDBOX_TOKEN}"}


@pytest.fixture
def clock(monkeypatch):
    """The sandbox's time, set by the test."""

    class Clock:
        value = 1_000_000.0

    monkeypatch.setattr(views, "now", lambda: Clock.value)
    return Clock


def create(client, **fields):
    return client.post("/sandbox/jobs/", json.dumps(fields), content_type="application/json", headers=AUTH)


def status(client, job_id, query=""):
    return client.get(f"/sandbox/jobs/{job_id}/{query}", headers=AUTH)


def test_it_creates_a_queued_job_with_its_status_url(client):
    response = create(client, name="backup", seconds=5)

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "backup"
    assert body["status"] == "queued"
    assert body["status_url"] == f"http://testserver/sandbox/jobs/{body['id']}/"


def test_a_job_is_queued_then_running_then_successful(client, clock):
    job_id = create(client, name="backup", seconds=10).json()["id"]

    assert status(client, job_id).json()["status"] == "queued"
    clock.value += 0.5
    assert status(client, job_id).json()["status"] == "queued"
    clock.value += 4.5
    running = status(client, job_id).json()
    assert (running["status"], running["progress"]) == ("running", 50)
    assert "result" not in running
    clock.value += 5
    done = status(client, job_id).json()
    assert (done["status"], done["progress"]) == ("successful", 100)
    assert done["result"]["message"] == "Job 'backup' finished."
    assert "error" not in done


def test_a_job_of_zero_seconds_is_done_at_once(client):
    job_id = create(client, name="quick", seconds=0).json()["id"]

    assert status(client, job_id).json()["status"] == "successful"


def test_seconds_may_be_given_as_text(client, clock):
    job_id = create(client, name="typed", seconds="4").json()["id"]

    clock.value += 3.9
    assert status(client, job_id).json()["status"] == "running"
    clock.value += 0.1
    assert status(client, job_id).json()["status"] == "successful"


def test_a_failing_job_ends_failed_with_an_error(client):
    job_id = create(client, name="doomed", seconds=0, outcome="failed").json()["id"]

    body = status(client, job_id).json()
    assert body["status"] == "failed"
    assert "doomed" in body["error"]
    assert "result" not in body


def test_format_xml_query_gives_the_status_as_xml(client):
    job_id = create(client, name="backup", seconds=0).json()["id"]

    response = status(client, job_id, "?format=xml")

    assert response["Content-Type"] == "application/xml"
    job = xmltodict.parse(response.content)["job"]
    assert job["id"] == job_id
    assert job["status"] == "successful"
    assert job["result"]["message"] == "Job 'backup' finished."


def test_a_job_created_with_format_xml_answers_in_xml_throughout(client):
    created = create(client, name="backup", seconds=0, format="xml")

    assert created.status_code == 201
    assert created["Content-Type"] == "application/xml"
    job_id = xmltodict.parse(created.content)["job"]["id"]
    assert xmltodict.parse(status(client, job_id).content)["job"]["status"] == "successful"
    assert status(client, job_id, "?format=json").json()["status"] == "successful"


def test_cancel_acknowledges(client):
    job_id = create(client, name="backup").json()["id"]

    response = client.post(f"/sandbox/jobs/{job_id}/cancel/", headers=AUTH)

    assert response.status_code == 200
    assert response.json() == {"id": job_id, "status": "cancelled"}


@pytest.mark.parametrize(
    "method, url",
    [
        ("get", "/sandbox/"),
        ("post", "/sandbox/jobs/"),
        ("get", "/sandbox/jobs/x/"),
        ("post", "/sandbox/jobs/x/cancel/"),
    ],
)
def test_it_requires_the_bearer_token(client, method, url):
    response = getattr(client, method)(url, headers={"Authorization": "Bearer wrong"})

    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_a_missing_authorization_header(client):
    assert client.get("/sandbox/").status_code == 401


@pytest.fixture
def urls_with_sandbox(settings):
    """Rebuild the site's URLs with INTEGRATIONS_SANDBOX on or off; rebuilt as they were afterwards."""
    original = settings.INTEGRATIONS_SANDBOX

    def rebuild(on):
        settings.INTEGRATIONS_SANDBOX = on
        importlib.reload(integrations_site.urls)
        clear_url_caches()

    yield rebuild
    rebuild(original)


def test_it_is_served_only_while_the_setting_is_on(client, urls_with_sandbox):
    urls_with_sandbox(False)
    assert client.get("/sandbox/", headers=AUTH).status_code == 404

    urls_with_sandbox(True)
    assert client.get("/sandbox/", headers=AUTH).status_code == 200


def test_a_tampered_id_is_not_found(client):
    job_id = create(client, name="backup").json()["id"]
    tampered = job_id[:10] + ("A" if job_id[10] != "A" else "B") + job_id[11:]

    response = status(client, tampered)

    assert response.status_code == 404
    assert "No such job" in response.json()["detail"]
    assert client.post(f"/sandbox/jobs/{tampered}/cancel/", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"seconds": 5}, "name"),
        ({"name": "  "}, "name"),
        ({"name": "x", "seconds": 3601}, "seconds"),
        ({"name": "x", "seconds": -1}, "seconds"),
        ({"name": "x", "seconds": "soon"}, "seconds"),
        ({"name": "x", "seconds": True}, "seconds"),
        ({"name": "x", "outcome": "maybe"}, "outcome"),
        ({"name": "x", "format": "yaml"}, "format"),
        ({"name": "x", "callback_url": "file:///etc/passwd"}, "callback_url"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(client, fields, field):
    response = create(client, **fields)

    assert response.status_code == 400
    body = response.json()
    assert list(body["errors"]) == [field]
    assert f"{field}:" in body["detail"]


def test_malformed_json_is_refused(client):
    response = client.post("/sandbox/jobs/", "{name: ", content_type="application/json", headers=AUTH)

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]


def test_a_body_that_is_not_an_object_is_refused(client):
    response = client.post("/sandbox/jobs/", "[1, 2]", content_type="application/json", headers=AUTH)

    assert response.status_code == 400
    assert "body" in response.json()["errors"]


def test_an_unknown_status_format_is_refused(client):
    job_id = create(client, name="backup").json()["id"]

    response = status(client, job_id, "?format=csv")

    assert response.status_code == 400
    assert "format" in response.json()["errors"]


def test_a_wrong_method_gets_405(client):
    response = client.get("/sandbox/jobs/", headers=AUTH)

    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_it_calls_back_halfway_and_when_done(client, httpserver):
    received = queue.Queue()

    def record(request):
        received.put((request.headers.get("Content-Type"), request.get_json()))
        return Response("ok")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(record)

    job_id = create(client, name="backup", seconds=0, callback_url=httpserver.url_for("/hook")).json()["id"]

    content_type, halfway = received.get(timeout=10)
    _, done = received.get(timeout=10)
    assert content_type == "application/json"
    assert (halfway["id"], halfway["status"], halfway["progress"]) == (job_id, "running", 50)
    assert (done["id"], done["status"], done["progress"]) == (job_id, "successful", 100)
    assert done["result"]["message"] == "Job 'backup' finished."


def test_a_failing_callback_is_logged_not_raised(httpserver, caplog):
    httpserver.expect_request("/hook", method="POST").respond_with_data("down", status=503)

    with caplog.at_level(logging.WARNING, logger="sandbox.views"):
        views.post_callback(httpserver.url_for("/hook"), {"id": "x", "status": "running"})

    assert "Sandbox callback to" in caplog.text
    assert "503" in caplog.text


def test_a_finished_job_has_a_png_report_and_an_unfinished_one_not_yet(client, clock):
    job_id = create(client, name="backup", seconds=5).json()["id"]

    early = client.get(f"/sandbox/jobs/{job_id}/report/", headers=AUTH)
    clock.value += 5
    report = client.get(f"/sandbox/jobs/{job_id}/report/", headers=AUTH)
    again = client.get(f"/sandbox/jobs/{job_id}/report/", headers=AUTH)

    assert early.status_code == 409
    assert early.json()["detail"] == "The job is queued: its report exists once it has finished."
    assert report.status_code == 200
    assert report["Content-Type"] == "image/png"
    assert report.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert report.content == again.content
    assert png_pixels(report.content) == (64, 16, 16 * (1 + 64 * 3))


def png_pixels(data):
    """(width, height, bytes of pixel rows) of a PNG, every chunk's CRC checked."""
    position, chunks = 8, {}
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind, body = data[position + 4:position + 8], data[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length:position + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        chunks[kind] = body
        position += 12 + length
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    return width, height, len(zlib.decompress(chunks[b"IDAT"]))


def test_uploads_are_described_by_name_size_and_digest(client):
    content = bytes(range(256)) * 3
    response = client.post("/sandbox/uploads/", {"document": SimpleUploadedFile("r.png", content, "image/png"),
                                                 "note": "hello"}, headers=AUTH)

    assert response.status_code == 201
    assert response.json() == {
        "status": "received",
        "files": [{"field": "document", "name": "r.png", "size": 768, "content_type": "image/png",
                   "sha256": hashlib.sha256(content).hexdigest()}],
        "fields": {"note": "hello"},
    }
    assert client.post("/sandbox/uploads/", {"note": "x"}, headers=AUTH).status_code == 400
    assert client.post("/sandbox/uploads/", "{}", content_type="application/json", headers=AUTH).status_code == 415
