"""A run's files download from its admin page and the API, for whoever may view runs, always as attachments."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from runs.services import start_run
from tests.api_helpers import detail, token_client
from tests.engine_helpers import drive, make_action
from tests.servers import Reply

pytestmark = pytest.mark.usefixtures("q_sync")

BINARY = bytes(range(256)) * 4


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def run(db, server):
    server.script("/export", Reply(body=BINARY, headers={"Content-Type": "application/pdf"}))
    download = make_action(server.base_url, method="GET", url="/export", save_as_file="report 1.pdf")
    return drive(start_run(download))


def content(response):
    return b"".join(response.streaming_content)


def test_a_viewer_sees_the_files_on_the_run_page_and_downloads_one_as_an_attachment(client, viewer_user, run):
    client.force_login(viewer_user)

    page = client.get(reverse("admin:runs_run_change", args=[run.pk])).content.decode()
    url = reverse("admin:runs_run_file", args=[run.pk, "report 1.pdf"])
    response = client.get(url)

    assert ">Files" in page and f'href="{url}"' in page and "1.0\xa0KB" in page
    assert response.status_code == 200 and content(response) == BINARY
    assert response["Content-Disposition"].startswith("attachment;") and "report 1.pdf" in response[
        "Content-Disposition"]
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_html_a_service_answered_is_never_served_as_html(client, viewer_user, server, db):
    server.script("/page", Reply(body=b"<script>alert(1)</script>", headers={"Content-Type": "text/html"}))
    action = make_action(server.base_url, method="GET", url="/page", save_as_file="page.html")
    run = drive(start_run(action))
    client.force_login(viewer_user)

    response = client.get(reverse("admin:runs_run_file", args=[run.pk, "page.html"]))

    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response["Content-Security-Policy"]


def test_the_admin_download_needs_a_login_and_the_permission_to_view_runs(client, run):
    url = reverse("admin:runs_run_file", args=[run.pk, "report 1.pdf"])

    assert client.get(url).status_code == 302  # to the login page
    client.force_login(User.objects.create_user("eve", password="eve-password-123", is_staff=True))
    assert client.get(url).status_code == 403
    assert client.get(reverse("admin:runs_run_file", args=[run.pk, "other.pdf"])).status_code in (403, 404)


def test_an_unknown_file_is_not_found_in_the_admin(client, viewer_user, run):
    client.force_login(viewer_user)

    assert client.get(reverse("admin:runs_run_file", args=[run.pk, "other.pdf"])).status_code == 404


def test_the_api_lists_a_runs_files_with_links_and_downloads_them(viewer_user, run):
    api = token_client(viewer_user)

    detail = api.get(f"/api/runs/{run.pk}/").json()
    listed = api.get(detail["files_url"]).json()["results"]
    response = api.get(listed[0]["download_url"], HTTP_ACCEPT="application/octet-stream")

    assert [(item["name"], item["size"], item["content_type"]) for item in listed] == [
        ("report 1.pdf", len(BINARY), "application/pdf")]
    assert response.status_code == 200 and content(response) == BINARY
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_api_answers_401_without_credentials_403_without_the_permission_and_404_for_an_unknown_file(run):
    anonymous, nobody = token_client(), token_client(User.objects.create_user("eve"))

    assert anonymous.get(f"/api/runs/{run.pk}/files/").status_code == 401
    assert anonymous.get(f"/api/runs/{run.pk}/files/report 1.pdf/").status_code == 401
    assert nobody.get(f"/api/runs/{run.pk}/files/").status_code == 403
    assert nobody.get(f"/api/runs/{run.pk}/files/report 1.pdf/").status_code == 403


def test_the_api_answers_404_for_an_unknown_file_or_run(viewer_user, run):
    api = token_client(viewer_user)

    missing = api.get(f"/api/runs/{run.pk}/files/other.pdf/", HTTP_ACCEPT="application/pdf")
    assert missing.status_code == 404 and "other.pdf" in detail(missing)
    assert api.get(f"/api/runs/{run.pk + 100}/files/").status_code == 404
