"""save_as_file keeps a response body as a file of the run; files uploads it from a later run of the chain."""

import email.parser
import email.policy

import pytest
from django.core.files.storage import default_storage

from runs.models import Exchange, RunFile, Status
from runs.services import start_run
from tests.engine_helpers import drive, make_action
from tests.servers import Reply, reply

pytestmark = pytest.mark.usefixtures("q_sync", "media_root")

# Every byte value, NUL and invalid UTF-8 included: the upload must carry them untouched.
BINARY = bytes(range(256)) * 40


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def multipart_parts(request):
    """{form field name: (file name or None, content type, bytes)} of a multipart/form-data request."""
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    return {
        part.get_param("name", header="content-disposition"): (
            part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
        for part in message.iter_parts()
    }


def download_then_upload(server, **upload_fields):
    server.script("/export", Reply(body=BINARY, headers={"Content-Type": "application/pdf"}))
    server.script("/upload", reply(json={"ok": True}))
    download = make_action(server.base_url, name="Export", method="GET", url="/export", save_as_file="report.pdf")
    upload = make_action(server.base_url, integration=download.integration, name="Upload", url="/upload",
                         files={"document": "report.pdf"}, **upload_fields)
    first = drive(start_run(download))
    second = drive(start_run(upload, previous_run=first))
    return first, second


def test_a_file_downloaded_by_one_run_is_uploaded_byte_for_byte_by_the_next_run_of_its_chain(db, server):
    first, second = download_then_upload(server, body_type="json",
                                         body='{"title": "Q3 report", "tags": ["a", "b"], "count": 3}')

    assert first.status == Status.SUCCEEDED, first.reason
    stored = first.files.get()
    assert (stored.name, stored.size, stored.content_type) == ("report.pdf", len(BINARY), "application/pdf")
    with stored.file.open("rb") as handle:
        assert handle.read() == BINARY
    assert second.status == Status.SUCCEEDED, second.reason
    parts = multipart_parts(server.requests_to("/upload")[0])
    assert parts["document"] == ("report.pdf", "application/pdf", BINARY)
    assert parts["title"] == (None, "text/plain", b"Q3 report")
    assert parts["tags"][2] == b'["a", "b"]' and parts["count"][2] == b"3"


def test_the_log_summarises_a_multipart_body_without_its_bytes(db, server):
    _, second = download_then_upload(server)

    logged = Exchange.objects.get(run=second).request_body
    assert "file 'document': report.pdf, 10240 bytes, application/pdf" in logged
    assert "\\u0000" not in logged and len(logged) < 200


def test_a_missing_file_fails_the_run_before_sending_and_names_it(db, server):
    server.script("/upload", reply(json={"ok": True}))
    upload = make_action(server.base_url, url="/upload", files={"document": "missing.pdf"})

    run = drive(start_run(upload))

    assert run.status == Status.FAILED
    assert "missing.pdf" in run.reason and "document" in run.reason
    assert server.requests_to("/upload") == []


def test_a_response_over_the_file_cap_fails_the_run_saying_so(db, server, settings):
    settings.INTEGRATIONS_MAX_FILE_BYTES = 1000
    server.script("/export", Reply(body=BINARY, headers={"Content-Type": "application/pdf"}))
    download = make_action(server.base_url, method="GET", url="/export", save_as_file="report.pdf")

    run = drive(start_run(download))

    assert run.status == Status.FAILED
    assert "INTEGRATIONS_MAX_FILE_BYTES" in run.reason and "report.pdf" in run.reason
    assert not RunFile.objects.exists()


def test_a_file_larger_than_the_response_cap_but_within_the_file_cap_is_kept_whole(db, server, settings):
    settings.INTEGRATIONS_MAX_RESPONSE_BYTES = 1000
    server.script("/export", Reply(body=BINARY, headers={"Content-Type": "application/octet-stream"}))
    download = make_action(server.base_url, method="GET", url="/export", save_as_file="{{ run.id }}.bin")

    run = drive(start_run(download))

    assert run.status == Status.SUCCEEDED, run.reason
    assert run.files.get().name == f"{run.pk}.bin" and run.files.get().size == len(BINARY)


def test_with_a_request_that_repeats_itself_the_answer_that_ends_the_run_is_kept(db, server):
    server.script("/export", [reply(json={"status": "pending"}), reply(json={"status": "done", "data": "final"})])
    download = make_action(server.base_url, method="GET", url="/export", save_as_file="export.json",
                           polling_mode="poll", poll_interval=1, stop=[("status", "equals", "done", "success")])

    run = drive(start_run(download))

    assert run.status == Status.SUCCEEDED, run.reason
    with run.files.get().file.open("rb") as handle:
        assert b"final" in handle.read()
    assert RunFile.objects.count() == 1


def test_a_file_name_that_is_a_path_is_refused_when_the_action_is_saved(db, server):
    from django.core.exceptions import ValidationError

    for name in ("../etc/passwd", "a/b.pdf", "a\\b", "bad\x01name"):
        with pytest.raises(ValidationError):
            make_action(server.base_url, save_as_file=name)
    with pytest.raises(ValidationError):
        make_action(server.base_url, files={"document": "../x"})
    with pytest.raises(ValidationError):
        make_action(server.base_url, files={"document": 3})
    with pytest.raises(ValidationError):
        make_action(server.base_url, files=["report.pdf"])


def test_pruning_removes_the_files_of_old_runs_from_storage_and_keeps_recent_ones(
        db, server, capsys, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from runs.models import Run

    server.script("/export", Reply(body=BINARY, headers={"Content-Type": "application/pdf"}))
    download = make_action(server.base_url, method="GET", url="/export", save_as_file="report.pdf")
    old, recent = drive(start_run(download)), drive(start_run(download))
    Run.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=40))
    old_path, recent_path = old.files.get().file.name, recent.files.get().file.name
    assert default_storage.exists(old_path) and default_storage.exists(recent_path)

    with django_capture_on_commit_callbacks(execute=True):
        call_command("prune_exchanges", days=30)

    assert not default_storage.exists(old_path) and not old.files.exists()
    assert default_storage.exists(recent_path) and recent.files.exists()
    assert "and 1 files" in capsys.readouterr().out


def test_deleting_a_run_removes_its_files_from_storage(db, server, django_capture_on_commit_callbacks):
    server.script("/export", Reply(body=BINARY, headers={"Content-Type": "application/pdf"}))
    download = make_action(server.base_url, method="GET", url="/export", save_as_file="report.pdf")
    run = drive(start_run(download))
    path = run.files.get().file.name

    with django_capture_on_commit_callbacks(execute=True):
        run.exchanges.all().delete()
        run.delete()

    assert not default_storage.exists(path)


def test_a_file_of_a_decision_that_is_not_saved_leaves_nothing_in_storage(db, server, monkeypatch, media_root):
    from runs import batch

    server.script("/export", Reply(body=BINARY, headers={"Content-Type": "application/pdf"}))
    download = make_action(server.base_url, method="GET", url="/export", save_as_file="report.pdf")

    def refused(*args, **kwargs):
        raise RuntimeError("the database refuses this decision")

    monkeypatch.setattr(batch.RunFile.objects, "bulk_create", refused)
    run = drive(start_run(download))

    assert run.status == Status.FAILED and "could not be saved" in run.reason
    assert not RunFile.objects.exists()
    assert not list(media_root.rglob("*.pdf"))


def test_a_file_is_found_in_any_earlier_run_of_the_chain_the_nearest_first(db, server):
    server.script("/export", [Reply(body=b"old", headers={"Content-Type": "text/plain"}),
                              Reply(body=b"new", headers={"Content-Type": "text/plain"})])
    server.script("/note", reply(json={}))
    server.script("/upload", reply(json={"ok": True}))
    download = make_action(server.base_url, name="Export", method="GET", url="/export", save_as_file="a.txt")
    note = make_action(server.base_url, integration=download.integration, name="Note", url="/note")
    upload = make_action(server.base_url, integration=download.integration, name="Upload", url="/upload",
                         files={"document": "a.txt"})

    first = drive(start_run(download))
    second = drive(start_run(download, previous_run=first))
    third = drive(start_run(note, previous_run=second))
    fourth = drive(start_run(upload, previous_run=third))

    assert fourth.status == Status.SUCCEEDED, fourth.reason
    assert multipart_parts(server.requests_to("/upload")[0])["document"] == ("a.txt", "text/plain", b"new")


def test_the_schema_documents_the_files_endpoints(client, db):
    import yaml

    paths = yaml.safe_load(client.get("/api/schema/").content)["paths"]

    # and 405, 406, 500, which every operation may answer (tests/test_api_schema.py)
    assert {"200", "401", "403", "404"} <= set(paths["/api/runs/{id}/files/"]["get"]["responses"])
    download = paths["/api/runs/{id}/files/{name}/"]["get"]["responses"]
    assert {"200", "401", "403", "404"} <= set(download)
    assert "application/octet-stream" in download["200"]["content"]


def test_a_form_body_goes_as_form_fields_and_polls_never_upload(db, server):
    server.script("/export", Reply(body=BINARY, headers={"Content-Type": "application/pdf"}))
    server.script("/upload", [reply(json={"status": "queued"}), reply(json={"status": "done"})])
    download = make_action(server.base_url, method="GET", url="/export", save_as_file="report.pdf")
    upload = make_action(server.base_url, integration=download.integration, url="/upload", body_type="form",
                         body='{"title": "Q3", "pages": 12}', files={"document": "report.pdf"},
                         polling_mode="poll", poll_interval=1, stop=[("status", "equals", "done", "success")])

    run = drive(start_run(upload, previous_run=drive(start_run(download))))

    assert run.status == Status.SUCCEEDED, run.reason
    first, poll = server.requests_to("/upload")
    parts = multipart_parts(first)
    assert parts["title"][2] == b"Q3" and parts["pages"][2] == b"12" and parts["document"][2] == BINARY
    assert parts["document"][0] == "report.pdf"
    assert b"report.pdf" not in poll.body and "multipart" not in poll.headers.get("Content-Type", "")
