"""save_as_file and files are edited in the admin and the API, checked alike, and exported and imported."""

import json

import pytest

from integrations.models import Action
from integrations.transfer import export_integration, import_integration
from tests.admin_helpers import field_errors
from tests.api_helpers import details
from tests.definitions_api import action_document, post_json

BAD_NAMES = ["../report.pdf", "a/b.pdf", "a\\b.pdf", "..", "bad\x07name.pdf"]


def test_the_admin_saves_both_fields(post_action, action):
    response = post_action(body_type="json", body='{"title": "Q3"}', save_as_file="report-{{ run.id }}.pdf",
                           files='{"document": "report.pdf"}')

    assert response.status_code == 302, response.context["adminform"].form.errors
    action.refresh_from_db()
    assert (action.save_as_file, action.files) == ("report-{{ run.id }}.pdf", {"document": "report.pdf"})


@pytest.mark.parametrize("name", BAD_NAMES)
def test_the_admin_refuses_a_file_name_that_is_a_path(post_action, name):
    response = post_action(save_as_file=name, files=json.dumps({"document": name}))

    assert field_errors(response, "save_as_file") and field_errors(response, "files")


def test_the_admin_refuses_files_that_are_not_an_object_of_names(post_action):
    assert field_errors(post_action(files='["report.pdf"]'), "files")
    assert field_errors(post_action(files='{"document": 3}'), "files")


def test_the_admin_refuses_files_with_a_raw_body(post_action):
    response = post_action(files='{"document": "report.pdf"}', body_type="raw", body="<xml/>")

    assert field_errors(response, "body_type")


def test_a_placeholder_nothing_can_fill_is_refused_in_the_file_name(post_action):
    response = post_action(save_as_file="{{ nothing }}.pdf")

    assert "{{ nothing }}" in " ".join(field_errors(response, "save_as_file"))


def test_the_api_takes_and_answers_both_fields(admin_api, integration):
    response = post_json(admin_api, "/api/actions/", action_document(
        integration, save_as_file="report.pdf", files={"document": "earlier.pdf"}))

    assert response.status_code == 201, response.json()
    assert (response.json()["save_as_file"], response.json()["files"]) == ("report.pdf", {"document": "earlier.pdf"})
    action = Action.objects.get(pk=response.json()["id"])
    assert (action.save_as_file, action.files) == ("report.pdf", {"document": "earlier.pdf"})


@pytest.mark.parametrize("fields, field", [
    ({"save_as_file": "../x.pdf"}, "save_as_file"),
    ({"files": {"document": "a/b.pdf"}}, "files"),
    ({"files": {"document": ["a.pdf"]}}, "files"),
    ({"files": ["a.pdf"]}, "files"),
    ({"files": {"{{ field }}": "a.pdf"}}, "files"),
])
def test_the_api_refuses_what_the_admin_refuses(admin_api, integration, fields, field):
    response = post_json(admin_api, "/api/actions/", action_document(integration, **fields))

    assert response.status_code == 400 and field in details(response)


def test_export_and_import_carry_both_fields(db, integration):
    Action.objects.create(integration=integration, name="Upload", url="/upload", method="POST",
                          save_as_file="receipt.json", files={"document": "report.pdf"})
    document = json.loads(json.dumps(export_integration(integration)))
    assert document["actions"][0]["save_as_file"] == "receipt.json"
    document["slug"] = "acme-copy"

    copy, created = import_integration(document)

    action = copy.actions.get()
    assert created and (action.save_as_file, action.files) == ("receipt.json", {"document": "report.pdf"})
