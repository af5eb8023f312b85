"""A ChiefOnboarding manifest becomes our integration document: each part mapped, or refused by name."""

import json

import pytest

from integrations.manifests import ManifestRefused, manifest_document

MANIFEST = {
    "headers": {"Authorization": "Bearer {{ TOKEN }}", "Content-Type": "application/json"},
    "initial_data_form": [{"id": "TOKEN", "name": "API token", "description": "From the admin page."},
                          {"id": "ARCHIVE_USER", "name": "Archive user", "description": "Its user name."}],
    "execute": [
        {
            "url": "https://api.example.test/users",
            "method": "POST",
            "data": {"email": "{{ email }}", "name": "{{first_name}} {{ last_name }}"},
            "store_data": {"USER_ID": "data.id"},
        },
        {
            "url": "https://api.example.test/users/{{ USER_ID }}/export",
            "method": "GET",
            "polling": {"interval": 5, "amount": 60},
            "continue_if": {"response_notation": "status", "value": "done"},
            "save_as_file": "export.pdf",
        },
        {
            "url": "https://api.example.test/archive",
            "method": "POST",
            "headers": {"Authorization": "Basic {{ ARCHIVE_USER }}:{{ TOKEN }}"},
            "files": {"document": "export.pdf"},
            "continue_if": {"response_notation": "ok", "value": "true"},
            "status_code": [200, 201],
        },
    ],
}


def convert(manifest=MANIFEST, **kwargs):
    return manifest_document(manifest, name=kwargs.pop("name", "Example"), secrets={"TOKEN": "t"}, **kwargs)


def test_the_execute_list_becomes_a_chain_of_actions():
    document = convert()

    assert document["slug"] == "example"
    assert [action["slug"] for action in document["actions"]] == ["step-1", "step-2", "step-3"]
    assert [action.get("next_action") for action in document["actions"]] == ["step-2", "step-3", None]
    assert [action["method"] for action in document["actions"]] == ["POST", "GET", "POST"]


def test_initial_data_becomes_secrets_and_other_names_become_the_chain_variables():
    first, second, third = convert()["actions"]

    assert first["headers"]["Authorization"] == "Bearer {{ secrets.TOKEN }}"
    assert json.loads(first["body"]) == {"email": "{{ email }}", "name": "{{ first_name }} {{ last_name }}"}
    variables = ["email", "first_name", "last_name"]
    for action in (first, second, third):
        assert [row["name"] for row in action["inputs"]] == variables
    assert convert()["secrets_set"] == ["ARCHIVE_USER", "TOKEN"]


def test_stored_data_becomes_mappings_that_later_steps_read():
    first, second, _ = convert()["actions"]

    assert first["mappings"] == [{"field": "USER_ID", "path": "data.id", "source": "request", "required": True}]
    assert second["url"] == "https://api.example.test/users/{{ USER_ID }}/export"


def test_polling_with_continue_if_repeats_the_request_until_it_matches():
    second = convert()["actions"][1]

    assert second["polling_mode"] == "poll"
    assert second["poll_url"] == ""
    assert (second["poll_interval"], second["poll_max_attempts"]) == (5, 60)
    assert second["stop_conditions"] == [
        {"group": 1, "path": "status", "operator": "equals", "value": "done", "outcome": "success"}]
    assert second["continue_if"] == []
    assert second["save_as_file"] == "export.pdf"


def test_continue_if_alone_must_match_the_answer():
    third = convert()["actions"][2]

    assert third["polling_mode"] == "none"
    assert third["continue_if"] == [{"path": "ok", "operator": "equals", "value": "true"}]
    assert third["files"] == {"document": "export.pdf"}
    assert third["accepted_statuses"] == "200,201"


def test_a_step_with_headers_replaces_the_manifest_headers_and_basic_becomes_the_integration_auth():
    document = convert()
    third = document["actions"][2]

    assert third["headers"] == {}  # only Authorization was given, and it became the integration's Basic auth
    assert document["auth_type"] == "basic"
    assert document["auth_username"] == "{{ secrets.ARCHIVE_USER }}"
    assert document["auth_secret"] == "{{ secrets.TOKEN }}"


def test_basic_credentials_may_only_use_secrets():
    manifest = {"execute": [{"url": "https://x.test/", "headers": {"Authorization": "Basic {{ email }}:x"}}]}

    with pytest.raises(ManifestRefused) as refused:
        convert(manifest)

    assert refused.value.faults == [
        "execute #1 headers: Basic credentials become the integration's authentication, which may only use "
        "initial_data_form values; {{ email }} is not one."]


def test_revoke_becomes_a_second_chain():
    manifest = {**MANIFEST, "revoke": [{"url": "https://api.example.test/users/{{ USER_ID }}", "method": "DELETE"}]}

    revoke = [action for action in convert(manifest)["actions"] if action["slug"].startswith("revoke")]

    assert [action["slug"] for action in revoke] == ["revoke-1"]
    assert revoke[0].get("next_action") is None
    assert [row["name"] for row in revoke[0]["inputs"]] == ["USER_ID"]  # not stored in this chain: asked for


@pytest.mark.parametrize("part, named", [
    ({"oauth": {"authenticate_url": "x"}}, "oauth: OAuth"),
    ({"form": [{"id": "x y"}]}, "form #1: its id must be a name"),
    ({"exists": {"url": "x"}}, "exists expected: the text the answer contains"),
    ({"post_execute_notification": [{"type": "text", "message": "hi"}]}, "post_execute_notification:"),
    ({"something": 1}, "something: not a part of a ChiefOnboarding manifest"),
])
def test_what_cannot_be_expressed_is_refused_naming_it(part, named):
    with pytest.raises(ManifestRefused) as refused:
        convert({**MANIFEST, **part})

    assert any(fault.startswith(named) for fault in refused.value.faults), refused.value.faults


def test_every_fault_is_named_at_once():
    manifest = {"execute": [
        {"url": "https://x.test/{{ email|lower }}", "method": "POST"},
        {"url": "https://x.test/", "method": "FETCH", "extra_headers": "pritunl"},
        {"url": "https://x.test/{% if a %}b{% endif %}", "polling": {"interval": 5, "amount": 3}},
        {"url": "https://x.test/", "headers": {"X": "{{ redirect_url }}"}},
    ]}

    with pytest.raises(ManifestRefused) as refused:
        convert(manifest)

    faults = refused.value.faults
    assert any(f.startswith("execute #1 url: the template filter in {{ email|lower }}") for f in faults)
    assert any(f.startswith("execute #2 method: 'FETCH' is not one of") for f in faults)
    assert any(f.startswith("execute #2 extra_headers:") for f in faults)
    assert any(f.startswith("execute #3 url: Django template tags") for f in faults)
    assert any(f.startswith("execute #3 polling: polling needs continue_if") for f in faults)
    assert any("{{ redirect_url }} belongs to ChiefOnboarding's OAuth flow" in f for f in faults)


def test_a_manifest_without_requests_is_refused():
    with pytest.raises(ManifestRefused) as refused:
        convert({"headers": {}})

    assert refused.value.faults == ["execute: a manifest needs a non-empty list of requests to make."]
