"""Manifests as ChiefOnboarding itself writes them, imported and run against a real local server.

Its builder leaves empty parts (``"form": []``, ``"oauth": {}``, an ``exists``
with no url), stores status codes as text (``["200"]``), gives revoke steps an
``expected``, and reads the whole answer with a ``store_data`` path of ``""``.
Without ``status_code`` it accepts any status.
"""

import json

import pytest

from integrations.manifests import import_manifest, manifest_document
from runs.models import Run, Status
from runs.services import start_run
from tests.engine_helpers import drive
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")


def chain(first):
    """The runs of the chain started by ``first``, each driven to its end, in order."""
    runs, run = [drive(first)], first
    while (following := Run.objects.filter(previous_run=run).order_by("id").last()) is not None:
        runs.append(drive(following))
        run = following
    return runs


def builder_manifest(base):
    """A manifest in the shape ChiefOnboarding's builder saves, every optional part present and empty."""
    return {
        "form": [],
        "oauth": {},
        "exists": {"url": "", "method": "GET", "expected": "", "headers": [], "fail_when_4xx_response_code": True},
        "headers": {"Authorization": "Bearer {{ TOKEN }}"},
        "extra_user_info": [],
        "initial_data_form": [{"id": "TOKEN", "name": "API token"}],
        "post_execute_notification": [],
        "results_from": "",
        "execute": [
            {"url": f"{base}/users", "method": "POST", "data": {"email": "{{ email }}"}, "status_code": ["201"],
             "store_data": {"USER_ID": "id", "ANSWER": ""}, "polling": {}, "continue_if": {}, "files": {},
             "save_as_file": "", "headers": {}, "extra_headers": {}, "expected": ""},
            {"url": f"{base}/users/{{{{ USER_ID }}}}/groups", "method": "PUT", "data": {"group": "staff"}},
        ],
        "revoke": [
            {"url": f"{base}/users/{{{{ email }}}}", "method": "DELETE", "expected": "", "status_code": ["204", 200],
             "headers": []},
        ],
    }


def test_empty_parts_are_nothing_and_the_manifest_runs(db, server):
    server.script("/users", reply(201, json={"id": "u-7", "email": "ada@example.test"}))
    server.script("/users/u-7/groups", reply(200, json={"ok": True}))
    server.script("/users/ada%40example.test", reply(204))

    integration, created = import_manifest(builder_manifest(server.base_url), name="Builder",
                                           secrets={"TOKEN": "tok-1"})

    assert created
    runs = chain(start_run(integration.actions.get(slug="step-1"), {"email": "ada@example.test"}))
    assert [run.status for run in runs] == [Status.SUCCEEDED] * 2, [run.reason for run in runs]
    assert runs[0].fields["USER_ID"] == "u-7"
    assert runs[0].fields["ANSWER"] == {"id": "u-7", "email": "ada@example.test"}  # "" is the whole answer
    assert server.requests_to("/users")[0].headers["Authorization"] == "Bearer tok-1"
    assert server.requests_to("/users/u-7/groups")[0].json() == {"group": "staff"}

    revoke = drive(start_run(integration.actions.get(slug="revoke-1"), {"email": "ada@example.test"}))
    assert revoke.status == Status.SUCCEEDED, revoke.reason
    assert server.requests_to("/users/ada%40example.test")[0].method == "DELETE"


def test_status_codes_given_as_text_are_the_accepted_statuses(db, server):
    server.script("/users", reply(200, json={"id": "u-1"}))  # 200 is not in ["201"]

    integration, _ = import_manifest(builder_manifest(server.base_url), name="Strict", secrets={"TOKEN": "t"})
    steps = {action.slug: action for action in integration.actions.all()}

    assert steps["step-1"].accepted_statuses == "201"
    assert steps["revoke-1"].accepted_statuses == "204,200"
    run = drive(start_run(steps["step-1"], {"email": "a@example.test"}))
    assert run.status == Status.FAILED
    assert "200, which is not an accepted status (201)" in run.reason


def test_without_status_code_any_status_is_accepted_as_in_chiefonboarding(db, server):
    server.script("/users", reply(404, json={"id": "u-2", "detail": "created elsewhere"}))
    server.script("/users/u-2/groups", reply(500, text="oops"))

    integration, _ = import_manifest({"execute": [
        {"url": f"{server.base_url}/users", "method": "POST", "store_data": {"USER_ID": "id"}},
        {"url": f"{server.base_url}/users/{{{{ USER_ID }}}}/groups", "method": "POST"},
    ]}, name="Lenient")

    runs = chain(start_run(integration.actions.get(slug="step-1")))
    assert [run.status for run in runs] == [Status.SUCCEEDED] * 2, [run.reason for run in runs]
    assert runs[0].fields["USER_ID"] == "u-2"
    assert integration.actions.get(slug="step-2").accepted_statuses == "100-599"


@pytest.mark.parametrize("codes", [[200, "nope"], ["99"], [True], "200"])
def test_a_status_code_that_is_no_status_is_refused_naming_it(codes):
    from integrations.manifests import ManifestRefused

    with pytest.raises(ManifestRefused) as refused:
        manifest_document({"execute": [{"url": "https://x.test/", "status_code": codes}]}, name="X")

    assert refused.value.faults == [
        "execute #1 status_code: must be a list of status codes (100 to 599, as numbers or text: [200, \"201\"])."]


def test_a_part_that_holds_something_is_still_refused_by_name():
    from integrations.manifests import ManifestRefused

    with pytest.raises(ManifestRefused) as refused:
        manifest_document({"execute": [{"url": "https://x.test/"}],
                           "oauth": {"authenticate_url": "https://x.test/auth"}}, name="X")

    assert [fault.split(":")[0] for fault in refused.value.faults] == ["oauth"]
    assert json.dumps(manifest_document({"execute": [{"url": "https://x.test/", "data": {"note": ""}}]},
                                        name="X")["actions"][0]["body"]) == json.dumps('{"note": ""}')


def form_manifest(base):
    return {
        "form": [
            {"id": "TEAM_ID", "name": "Select the team", "type": "choice",
             "items": [{"id": "t-1", "name": "Platform"}, {"id": "t-2", "name": "Design"}]},
            {"id": "NICKNAME", "name": "Nickname in chat", "type": "input"},
            {"id": "PROJECT", "name": "Project (fetched there)", "type": "choice", "url": f"{base}/projects",
             "data_from": "data", "choice_value": "gid", "choice_name": "name"},
        ],
        "execute": [
            {"url": f"{base}/teams/{{{{ TEAM_ID }}}}/members", "method": "POST",
             "data": {"email": "{{ email }}", "nick": "{{ NICKNAME }}"}, "store_data": {"MEMBER": "id"}},
            {"url": f"{base}/members/{{{{ MEMBER }}}}", "method": "GET"},
        ],
        "revoke": [{"url": f"{base}/teams/{{{{ TEAM_ID }}}}/members/{{{{ email }}}}", "method": "DELETE"}],
    }


def test_form_items_become_the_chains_inputs_filled_from_the_run_variables(db, server):
    from django.core.exceptions import ValidationError

    server.script("/teams/t-2/members", reply(201, json={"id": "m-1"}))
    server.script("/members/m-1", reply(200, json={"ok": True}))

    integration, _ = import_manifest(form_manifest(server.base_url), name="Teams")
    steps = {action.slug: action for action in integration.actions.all()}

    rows = [(row.name, row.label, row.choices, row.required) for row in steps["step-1"].inputs.all()]
    assert rows == [("TEAM_ID", "Select the team", "t-1,t-2", True), ("NICKNAME", "Nickname in chat", "", True),
                    ("PROJECT", "Project (fetched there)", "", True), ("email", "", "", True)]
    assert [row.name for row in steps["step-2"].inputs.all()] == ["TEAM_ID", "NICKNAME", "PROJECT", "email"]
    assert [(row.name, row.label) for row in steps["revoke-1"].inputs.all()] == [
        ("TEAM_ID", "Select the team"), ("email", "")]

    with pytest.raises(ValidationError) as refused:
        start_run(steps["step-1"], {"TEAM_ID": "t-9", "NICKNAME": "a", "PROJECT": "p", "email": "a@x.test"})
    assert "TEAM_ID" in str(refused.value)

    runs = chain(start_run(steps["step-1"], {"TEAM_ID": "t-2", "NICKNAME": "ada", "PROJECT": "p-1",
                                            "email": "ada@example.test"}))
    assert [run.status for run in runs] == [Status.SUCCEEDED] * 2, [run.reason for run in runs]
    assert server.requests_to("/teams/t-2/members")[0].json() == {"email": "ada@example.test", "nick": "ada"}


def test_a_form_item_without_an_id_or_with_commas_in_a_choice_is_refused_naming_it():
    from integrations.manifests import ManifestRefused

    with pytest.raises(ManifestRefused) as refused:
        manifest_document({"execute": [{"url": "https://x.test/"}], "form": [
            {"name": "No id", "type": "input"},
            {"id": "SIZE", "name": "Size", "type": "choice", "items": [{"id": "s,m", "name": "Small or medium"}]},
        ]}, name="X")

    assert refused.value.faults == [
        "form #1: its id must be a name of letters, digits and underscores (it becomes an input).",
        "form #2 items: each choice needs an id without commas (the value sent).",
    ]


def test_responses_n_reads_the_answer_of_request_n_of_the_chain(db, server):
    server.script("/users", reply(201, json={"data": {"id": "u-5", "links": ["a", "b"]}}))
    server.script("/users/u-5/workspace", reply(200, json={"name": "ws-9"}))
    server.script("/welcome", reply(200, json={"ok": True}))

    integration, _ = import_manifest({"execute": [
        {"url": f"{server.base_url}/users", "method": "POST", "data": {"email": "{{ email }}"}},
        {"url": f"{server.base_url}/users/{{{{ responses.0.data.id }}}}/workspace", "method": "GET"},
        {"url": f"{server.base_url}/welcome", "method": "POST",
         "data": {"user": "{{ responses.0.data.id }}", "link": "{{ responses.0.data.links.1 }}",
                  "workspace": "{{responses.1.name}}"}},
    ]}, name="Responses")
    steps = {action.slug: action for action in integration.actions.all()}

    assert [row.name for row in steps["step-1"].inputs.all()] == ["email"]  # not a variable called "responses"
    runs = chain(start_run(steps["step-1"], {"email": "ada@example.test"}))
    assert [run.status for run in runs] == [Status.SUCCEEDED] * 3, [run.reason for run in runs]
    assert server.requests_to("/welcome")[0].json() == {"user": "u-5", "link": "b", "workspace": "ws-9"}


def test_responses_of_a_request_not_made_yet_is_refused_naming_it():
    from integrations.manifests import ManifestRefused

    with pytest.raises(ManifestRefused) as refused:
        manifest_document({"execute": [
            {"url": "https://x.test/a"},
            {"url": "https://x.test/b/{{ responses.1.id }}"},
        ]}, name="X")

    assert refused.value.faults == [
        "execute #2 url: {{ responses.1.id }} reads the answer of request #2 of the chain, which is not made before "
        "this one (responses count from 0: the first request's answer is responses.0)."]


def test_a_user_sync_manifest_is_refused_in_one_sentence_naming_it(db):
    from integrations.manifests import ManifestRefused
    from integrations.models import Integration

    sync = {
        "action": "create", "schedule": "0 * * * *", "data_from": "employees",
        "data_structure": {"email": "workEmail", "first_name": "firstName"},
        "next_page": "https://api.example.test/employees?page={{ NEXT_PAGE_TOKEN }}",
        "next_page_token_from": "meta.next", "headers": {"Authorization": "Bearer {{ TOKEN }}"},
        "initial_data_form": [{"id": "TOKEN", "name": "Token"}], "execute": [],
    }

    with pytest.raises(ManifestRefused) as refused:
        import_manifest(sync, name="Directory", secrets={"TOKEN": "t"})

    assert refused.value.faults == [
        "This is a ChiefOnboarding user-sync manifest (action, schedule, data_from, data_structure, next_page, "
        "next_page_token_from), which fetches a list of users on a schedule and acts once per user: it would need "
        "schedules and a fan-out over a list, which this product does not have yet, so only execute and revoke "
        "manifests import."]
    assert not Integration.objects.exists()


def test_exists_becomes_an_action_whose_run_says_whether_the_account_exists(db, server):
    server.script("/users", reply(200, json={"users": [{"email": "ada@example.test", "active": True}]}))
    server.script("/page", reply(200, text="<html><p>grace@example.test</p></html>", content_type="text/html"))

    integration, _ = import_manifest({
        "headers": {"Authorization": "Bearer {{ TOKEN }}"},
        "initial_data_form": [{"id": "TOKEN", "name": "Token"}],
        "exists": {"url": f"{server.base_url}/users?query={{{{ email }}}}", "method": "GET",
                   "expected": "{{ email }}", "fail_when_4xx_response_code": True},
        "execute": [{"url": f"{server.base_url}/users", "method": "POST", "data": {"email": "{{ email }}"}}],
    }, name="Accounts", secrets={"TOKEN": "tok"})
    check = integration.actions.get(slug="exists")

    assert check.next_action is None and [row.name for row in check.inputs.all()] == ["email"]
    found = drive(start_run(check, {"email": "ada@example.test"}))
    missing = drive(start_run(check, {"email": "bob@example.test"}))

    assert found.status == Status.SUCCEEDED, found.reason
    assert missing.status == Status.FAILED
    assert missing.reason.startswith("The response does not meet continue_if: @text contains 'bob@example.test'")
    assert server.requests[0].query == "query=ada%40example.test"
    assert server.requests[0].headers["Authorization"] == "Bearer tok"
    assert check.accepted_statuses == "100-399"  # ChiefOnboarding's raise_for_status()

    page, _ = import_manifest({"exists": {"url": f"{server.base_url}/page", "method": "GET",
                                          "expected": "{{ email }}"},
                               "execute": [{"url": f"{server.base_url}/users"}]}, name="Page")
    html = drive(start_run(page.actions.get(slug="exists"), {"email": "grace@example.test"}))
    assert html.status == Status.SUCCEEDED, html.reason  # the text received, whatever its format


def test_an_exists_without_expected_is_refused_naming_it():
    from integrations.manifests import ManifestRefused

    with pytest.raises(ManifestRefused) as refused:
        manifest_document({"execute": [{"url": "https://x.test/"}], "exists": {"url": "https://x.test/u"}}, name="X")

    assert refused.value.faults == [
        "exists expected: the text the answer contains when the account exists is needed."]
