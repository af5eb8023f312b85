"""Export then import: one JSON document holds an integration with its actions, and round-trips to an equal one.

An import checks everything before it writes anything and reports every
fault at once; an integration whose slug exists is replaced only when asked.
"""

import json
from datetime import datetime, timezone

import pytest
from django.core.management import CommandError, call_command

from integrations.models import (
    Action,
    ActionInput,
    ContinueCondition,
    Integration,
    ResponseMapping,
    Secret,
    StopCondition,
)
from integrations.transfer import ImportRefused, export_integration, import_integration
from runs.models import Run
from tests.api_helpers import codes, details
from tests.definitions_api import post_json

SECRETS = {"PASSWORD": "pw-PLAINTEXT-1", "TENANT_KEY": "key-PLAINTEXT-2"}
CERTIFICATE = "-----BEGIN CERTIFICATE-----\nCERT-PLAINTEXT-3\n-----END CERTIFICATE-----"


@pytest.fixture
def rich(db):
    """An integration that uses (nearly) every field, with two actions whose rows use every kind."""
    integration = Integration.objects.create(
        name="Ticketing", slug="ticketing", description="Tickets of the help desk.",
        image_url="https://cdn.example.com/logo.png", base_url="https://tickets.example.com/api",
        auth_type="basic", auth_username="robot", auth_secret="{{ secrets.PASSWORD }}",
        api_key_name="X-Tenant", oauth_token_url="https://login.example.com/token", oauth_client_id="client-1",
        oauth_scope="tickets:write", default_headers={"X-Tenant-Key": "{{ secrets.TENANT_KEY }}", "X-Version": 2},
    )
    for name, value in SECRETS.items():
        Secret.objects.create(integration=integration, name=name, value=value)
    polling = Action.objects.create(
        integration=integration, name="Open ticket", slug="open", description="Opens a ticket and waits.",
        method="PUT", url="/tickets/{{ title }}", headers={"Accept": "application/xml"}, params={"notify": True},
        body_type="json", body='{"title": "{{ title }}", "priority": "{{ priority }}"}', connect_timeout=2.5,
        read_timeout=45, accepted_statuses="200-202, 409", verify_tls=False, client_certificate=CERTIFICATE,
        use_env_proxy=False, convert_xml=True, safe_to_repeat=True,
        polling_mode="poll", poll_method="POST", poll_url="/tickets/{{ ticket.id }}/state",
        poll_headers={"X-Poll": "1"}, poll_params={"verbose": "yes"}, poll_body_type="form",
        poll_body='{"since": "{{ run.attempt }}"}', poll_interval=30, poll_max_attempts=12, poll_timeout=3600,
        poll_backoff="exponential", poll_backoff_max=600, poll_jitter=True, max_consecutive_errors=5,
        on_connection_error="fail", on_rate_limited="keep_polling", on_server_error="fail",
        on_other_status="keep_polling", cancelable=False, cancel_webhook_url="/tickets/{{ ticket.id }}/cancel",
        cancel_webhook_method="DELETE", cancel_webhook_body='{"reason": "cancelled"}', include_context=True,
        execute_in_rehearsal=True, fixed_start_time=datetime(2027, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
    )
    ActionInput.objects.create(action=polling, position=0, name="title", label="Title")
    ActionInput.objects.create(action=polling, position=1, name="priority", required=False, default="low",
                               choices="low, high")
    StopCondition.objects.create(action=polling, group=1, position=0, path="$.state", value="closed",
                                 target_field="state")
    StopCondition.objects.create(action=polling, group=1, position=1, path="number", operator="gte", value="8")
    StopCondition.objects.create(action=polling, group=2, position=0, path="@status", operator="one_of",
                                 value="410, 451", outcome="failure")
    ContinueCondition.objects.create(action=polling, position=0, path="@headers.Location", operator="exists")
    ContinueCondition.objects.create(action=polling, position=1, path="id", operator="matches", value="^T-\\d+$")
    ResponseMapping.objects.create(action=polling, position=0, field="ticket", path="$")
    ResponseMapping.objects.create(action=polling, position=1, field="closed_at", path="closed.at", source="result")
    Action.objects.create(integration=integration, name="Ping", slug="ping", url="https://status.example.com/ping")
    return integration


LEFT_OUT = {"id", "created_at", "updated_at", "integration", "action"}


def fields_of(instance, *, leave_out=()):
    return {
        field.name: getattr(instance, field.attname)
        for field in instance._meta.concrete_fields
        if field.name not in LEFT_OUT | set(leave_out)
    }


def definition(integration, *, leave_out=()):
    """Everything an integration defines, field by field, with its actions (by slug) and their rows."""
    integration = Integration.objects.get(pk=integration.pk)
    return {
        "integration": fields_of(integration, leave_out=leave_out),
        "secrets": {secret.name: secret.value for secret in integration.secrets.all()},
        "actions": {
            action.slug: {
                "fields": fields_of(action, leave_out=leave_out),
                **{
                    rows: [fields_of(row) for row in getattr(action, rows).all()]
                    for rows in ("inputs", "stop_conditions", "continue_conditions", "mappings")
                },
            }
            for action in integration.actions.order_by("slug")
        },
    }


def with_write_only_values(document):
    """``document`` with the values an export leaves out, as whoever imports it elsewhere gives them."""
    document = json.loads(json.dumps(document))
    document["auth_secret"] = "{{ secrets.PASSWORD }}"
    document["secrets"] = dict(SECRETS)
    document["actions"][0]["client_certificate"] = CERTIFICATE
    return document


def test_the_rich_fixture_really_is_rich(rich):
    before = definition(rich)

    assert before["actions"]["open"]["fields"]["poll_backoff"] == "exponential"
    assert [row["group"] for row in before["actions"]["open"]["stop_conditions"]] == [1, 1, 2]
    assert len(before["actions"]["open"]["mappings"]) == 2 and before["secrets"] == SECRETS


def test_export_then_import_elsewhere_gives_an_equal_integration(rich):
    before = definition(rich)
    document = with_write_only_values(export_integration(rich))
    rich.delete()

    integration, created = import_integration(document)

    assert created
    after = definition(integration)
    assert after["integration"] == before["integration"]
    assert after["secrets"] == before["secrets"]
    assert after["actions"].keys() == before["actions"].keys()
    for slug, action in before["actions"].items():
        for part, value in action.items():
            assert after["actions"][slug][part] == value, (slug, part)


def test_export_then_import_with_replace_changes_nothing_and_keeps_secrets_and_action_ids(rich):
    before = definition(rich)
    ids = dict(rich.actions.values_list("slug", "id"))

    integration, created = import_integration(json.loads(json.dumps(export_integration(rich))), replace=True)

    assert not created and integration.pk == rich.pk
    assert definition(integration) == before
    assert dict(integration.actions.values_list("slug", "id")) == ids


def test_the_document_is_the_apis_own_shape_with_secret_names_and_no_values(admin_api, rich):
    document = export_integration(rich)
    action_id = rich.actions.get(slug="open").pk
    from_api = admin_api.get(f"/api/actions/{action_id}/").json()

    assert document["secrets_set"] == ["PASSWORD", "TENANT_KEY"]
    assert [action["slug"] for action in document["actions"]] == ["open", "ping"]
    leave_out = {"id", "integration", "client_certificate_set", "created_at", "updated_at"}
    # The next action by its slug, not its id: an id means nothing on another site.
    assert document["actions"][0] == {**{key: value for key, value in from_api.items() if key not in leave_out},
                                      "next_action": None}
    assert "auth_secret" not in document and "secrets" not in document
    assert all(value not in json.dumps(document) for value in [*SECRETS.values(), "CERT-PLAINTEXT-3"])


def test_an_existing_slug_is_refused_without_replace_naming_only_what_replace_would_not_fix(rich):
    document = export_integration(rich)

    with pytest.raises(ImportRefused) as refused:
        import_integration(document)

    assert refused.value.errors == {"slug": [
        "An integration with the slug 'ticketing' exists: import with replace to replace it "
        "(its actions become the document's, its secrets are kept)."
    ]}


def test_every_fault_is_reported_at_once_and_nothing_is_written(rich):
    before = definition(rich)
    document = json.loads(json.dumps(export_integration(rich)))
    document["slug"] = "ticketing-2"
    document["base_url"] = "tickets.example.com"
    document["secrets_set"].append("API_TOKEN")
    document["actions"][0]["url"] = "/tickets/{{ titel }}"
    document["actions"][0]["stop_conditions"][1]["outcome"] = "failure"
    document["actions"][1]["poll_interval"] = "PT0.5S"
    document["actions"].append({"name": "Ping", "slug": "ping", "url": "/again"})
    document["actions"].append("not an action")

    with pytest.raises(ImportRefused) as refused:
        import_integration(document)

    errors = refused.value.errors
    assert set(errors) == {"base_url", "auth_secret", "secrets_set", "actions"}
    assert errors["auth_secret"] == [
        "Required for Basic (username and password) authentication (password, token or key)."
    ]
    assert errors["secrets_set"] == [
        'PASSWORD has no value: give it in "secrets" ({"PASSWORD": "…"}); an export never holds secret values.',
        'TENANT_KEY has no value: give it in "secrets" ({"TENANT_KEY": "…"}); an export never holds secret values.',
        'API_TOKEN has no value: give it in "secrets" ({"API_TOKEN": "…"}); an export never holds secret values.',
    ]
    assert set(errors["actions"]) == {"open", "ping", "#3", "#4"}
    assert errors["actions"]["open"]["url"][0].startswith("{{ titel }} names nothing that can fill it.")
    assert errors["actions"]["open"]["stop_conditions"][1]["outcome"][0].startswith("Group 1 mixes outcomes")
    assert errors["actions"]["ping"] == {"poll_interval": ["The interval must be at least 1 second, not 0.5."]}
    assert errors["actions"]["#3"] == {"slug": ["Another action of this document has the slug 'ping'."]}
    assert errors["actions"]["#4"] == {"non_field_errors": ["An action is a JSON object."]}
    assert Integration.objects.count() == 1 and definition(rich) == before


def test_replace_removes_actions_left_out_but_refuses_to_remove_one_with_runs(rich):
    document = json.loads(json.dumps(export_integration(rich)))
    document["actions"] = [action for action in document["actions"] if action["slug"] == "open"]
    ping = rich.actions.get(slug="ping")
    Run.objects.create(action=ping, integration=rich)

    with pytest.raises(ImportRefused) as refused:
        import_integration(document, replace=True)

    assert refused.value.errors == {"actions": {"ping": {"non_field_errors": [
        "This action is not in the document but cannot be removed: it has runs. Keep it in the document."
    ]}}}
    Run.objects.all().delete()
    import_integration(document, replace=True)
    assert list(rich.actions.values_list("slug", flat=True)) == ["open"]


def test_replace_keeps_stored_secrets_and_takes_new_values_given(rich):
    document = {**export_integration(rich), "secrets": {"NEW": "new-value"}, "description": "Replaced"}

    integration, _ = import_integration(document, replace=True)

    assert {secret.name: secret.value for secret in integration.secrets.all()} == {**SECRETS, "NEW": "new-value"}
    assert integration.description == "Replaced"


@pytest.mark.parametrize("document, errors", [
    ([], {"non_field_errors": ["An integration document is a JSON object."]}),
    ({"name": "X", "actions": {"a": 1}}, {"actions": ["Expected a list of actions."]}),
])
def test_a_document_of_the_wrong_shape_is_refused(db, document, errors):
    with pytest.raises(ImportRefused) as refused:
        import_integration(document)

    assert refused.value.errors == errors
    assert not Integration.objects.exists()


# --- the commands -------------------------------------------------------------------------------------------------


def test_the_commands_export_to_a_file_and_import_it_elsewhere(rich, tmp_path, capsys):
    before = definition(rich, leave_out=["client_certificate"])
    path = tmp_path / "ticketing.json"

    call_command("export_integration", "ticketing", "--output", str(path))
    document = json.loads(path.read_text())
    document["secrets"] = dict(SECRETS)
    document["auth_secret"] = "{{ secrets.PASSWORD }}"
    path.write_text(json.dumps(document))
    rich.delete()
    call_command("import_integration", str(path))

    assert "Imported integration 'ticketing' with 2 actions." in capsys.readouterr().out
    assert definition(Integration.objects.get(), leave_out=["client_certificate"]) == before
    assert Action.objects.get(slug="open").client_certificate == ""  # never exported


def test_export_writes_to_standard_output_without_a_file(rich, capsys):
    call_command("export_integration", "ticketing")

    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(export_integration(rich)))


def test_the_import_command_replaces_only_when_told(rich, tmp_path, capsys):
    path = tmp_path / "ticketing.json"
    call_command("export_integration", "ticketing", "--output", str(path))

    with pytest.raises(CommandError) as refused:
        call_command("import_integration", str(path))
    call_command("import_integration", str(path), "--replace")

    assert str(refused.value).startswith(f"Nothing was imported from {path}:\n  slug: An integration with the slug")
    assert "Replaced integration 'ticketing' with 2 actions." in capsys.readouterr().out


def test_the_import_command_lists_every_fault_one_a_line(rich, tmp_path):
    document = export_integration(rich)
    document = {**document, "slug": "other", "secrets": dict(SECRETS), "auth_secret": "{{ secrets.PASSWORD }}",
                "actions": [{**document["actions"][0], "stop_conditions": [{"path": "$.a[", "value": "x"}]},
                            {"name": "Bad", "url": "ftp://x"}]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))

    with pytest.raises(CommandError) as refused:
        call_command("import_integration", str(path))

    lines = str(refused.value).splitlines()
    assert lines[0] == f"Nothing was imported from {path}:"
    assert lines[1].startswith("  actions.open.stop_conditions[0].path: ")
    assert lines[2] == "  actions.bad.url: Only http and https URLs are supported, not ftp:."
    assert Integration.objects.count() == 1


@pytest.mark.parametrize("content, message", [
    ('{"name": NaN}', "is not a JSON document: NaN is not JSON"),
    ('{"name": ', "is not a JSON document: Invalid JSON at line 1, column 10"),
])
def test_the_import_command_refuses_a_file_that_is_not_json(db, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)

    with pytest.raises(CommandError, match=message):
        call_command("import_integration", str(path))


def test_the_export_command_refuses_an_unknown_slug(db):
    with pytest.raises(CommandError, match="No integration has the slug 'nope'."):
        call_command("export_integration", "nope")


# --- the API ------------------------------------------------------------------------------------------------------


def test_the_api_exports_and_imports_the_same_document(admin_api, rich):
    before = definition(rich)
    document = admin_api.get(f"/api/integrations/{rich.pk}/export/").json()

    refused = post_json(admin_api, "/api/integrations/import/", document)
    replaced = post_json(admin_api, "/api/integrations/import/?replace=true", document)

    assert refused.status_code == 409 and codes(refused) == {"slug": ["slug_exists"]}
    assert replaced.status_code == 200, replaced.json()
    assert replaced.json()["id"] == rich.pk and replaced.json()["secrets_set"] == ["PASSWORD", "TENANT_KEY"]
    assert definition(rich) == before


def test_the_api_imports_a_new_integration_with_201(admin_api, rich):
    document = with_write_only_values(admin_api.get(f"/api/integrations/{rich.pk}/export/").json())
    document["slug"] = "ticketing-copy"

    response = post_json(admin_api, "/api/integrations/import/", document)

    assert response.status_code == 201, response.json()
    copy = Integration.objects.get(slug="ticketing-copy")
    assert response.json()["id"] == copy.pk
    assert definition(copy)["actions"] == definition(rich)["actions"]


def test_the_api_answers_import_faults_as_json(admin_api, rich):
    response = post_json(admin_api, "/api/integrations/import/?replace=true", {
        "name": "Ticketing", "slug": "ticketing", "actions": [{"name": "Broken", "url": "ftp://x"}],
    })

    assert response.status_code == 400
    assert details(response) == {"actions.broken.url": ["Only http and https URLs are supported, not ftp:."]}
    assert rich.actions.count() == 2


def test_the_api_refuses_a_replace_flag_it_cannot_read(admin_api, rich):
    response = post_json(admin_api, "/api/integrations/import/?replace=perhaps", export_integration(rich))

    assert response.status_code == 400
    assert details(response) == {"replace": ["Must be a valid boolean."]}


def test_a_chain_round_trips_by_slug_and_a_next_action_outside_the_document_is_refused(rich):
    first, second = rich.actions.get(slug="open"), rich.actions.get(slug="ping")
    first.next_action = second
    first.save()
    document = json.loads(json.dumps(export_integration(rich)))
    assert [action["next_action"] for action in document["actions"]] == ["ping", None]

    document["slug"], document["name"] = "copy", "Copy"
    document["secrets"] = {name: "x" for name in document["secrets_set"]}
    document["auth_secret"] = "{{ secrets.PASSWORD }}"
    copy, created = import_integration(document)
    assert created
    assert copy.actions.get(slug="open").next_action == copy.actions.get(slug="ping")

    document["slug"], document["name"] = "other", "Other"
    document["actions"][0]["next_action"] = "nowhere"
    with pytest.raises(ImportRefused) as refused:
        import_integration(document)
    assert refused.value.errors["actions"]["open"]["next_action"] == [
        "No action of this document has the slug 'nowhere': a next action is one of them."]


def test_a_chain_that_loops_is_refused(rich):
    document = json.loads(json.dumps(export_integration(rich)))
    document["slug"], document["name"] = "loop", "Loop"
    document["secrets"] = {name: "x" for name in document["secrets_set"]}
    document["auth_secret"] = "{{ secrets.PASSWORD }}"
    document["actions"][0]["next_action"] = "ping"
    document["actions"][1]["next_action"] = "open"

    with pytest.raises(ImportRefused) as refused:
        import_integration(document)

    assert refused.value.errors["actions"]["open"]["next_action"] == [
        "This chain of next actions leads back to this action: a chain must end."]
