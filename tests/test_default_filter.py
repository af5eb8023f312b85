"""The default filter, {{ name|default:'N/A' }}, in every action: the text when the name has no value or an
empty one, put in with the same URL- and JSON-safety as any placeholder's value."""

import json

import pytest
from django.core.exceptions import ValidationError

from integrations.manifests import import_manifest
from integrations.templating import Context, UnknownPlaceholder, check_placeholders, render_text, render_url
from integrations.templating import render_value
from runs.models import Status
from runs.services import start_run
from tests.engine_helpers import drive, make_action
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")


def test_the_default_fills_a_missing_or_empty_value_and_nothing_else():
    context = Context({"empty": "", "none": None, "zero": 0, "name": "Ada", "team": {"id": 7}})

    assert render_text("{{ empty|default:'N/A' }} {{ none|default:\"-\" }} {{ zero|default:'no' }}", context) == (
        "N/A - no")
    assert render_text("{{ name|default:'N/A' }} {{ team.id | default : 'x' }} {{ gone.0|default:'?' }}",
                       context) == "Ada 7 ?"
    assert render_value({"n": "{{ gone|default:3 }}", "t": "{{ gone|default:'3' }}"}, context) == {"n": 3, "t": "3"}
    with pytest.raises(UnknownPlaceholder):
        render_text("{{ gone }}", context)


def test_a_default_is_encoded_in_a_url_and_escaped_in_json_like_any_value():
    context = Context({})

    assert render_url("https://h.test/teams/{{ team|default:'a/b ?c' }}", context) == "https://h.test/teams/a%2Fb%20%3Fc"
    body = render_value(json.loads(json.dumps({"note": "said {{ note|default:'\"quoted\", } ]' }}"})), context)
    assert json.loads(json.dumps(body)) == {"note": 'said "quoted", } ]'}


@pytest.mark.parametrize("text", ["{{ name|lower }}", "{{ name|default }}", "{{ name|default:N/A }}",
                                  "{{ |default:'x' }}"])
def test_any_other_filter_is_refused_naming_the_placeholder(text):
    with pytest.raises(ValidationError) as refused:
        check_placeholders(text)

    assert text in refused.value.messages[0]
    assert "{{ name|default:'text' }}" in refused.value.messages[0]


def test_an_action_sends_the_default_when_an_optional_input_is_left_out(db, server):
    server.script("/teams/none%2Fyet/members", reply(201, json={"id": "m-1"}))
    server.script("/teams/t-1/members", reply(201, json={"id": "m-2"}))
    action = make_action(server.base_url, url="/teams/{{ team|default:'none/yet' }}/members", inputs=["team", "note"],
                         body_type="json", body=json.dumps({"note": "{{ note|default:'N/A \"x\"' }}"}),
                         headers={"X-Note": "{{ note|default:'none' }}"})

    left_out = drive(start_run(action, {}))
    given = drive(start_run(action, {"team": "t-1", "note": "hi"}))

    assert (left_out.status, given.status) == (Status.SUCCEEDED, Status.SUCCEEDED), (left_out.reason, given.reason)
    first, second = server.requests
    assert first.path == "/teams/none%2Fyet/members"
    assert first.json() == {"note": 'N/A "x"'}
    assert first.headers["X-Note"] == "none"
    assert second.path == "/teams/t-1/members"
    assert (second.json(), second.headers["X-Note"]) == ({"note": "hi"}, "hi")


def test_an_imported_default_makes_its_variable_optional(db, server):
    server.script("/tasks", reply(201, json={"gid": "1"}))

    integration, _ = import_manifest({"execute": [{
        "url": f"{server.base_url}/tasks", "method": "POST",
        "data": {"name": "Onboard {{ first_name }}", "notes": "Laptop: {{ todo_forms.laptop.0|default:'N/A' }}"},
    }]}, name="Asana")
    step = integration.actions.get(slug="step-1")

    assert [(row.name, row.required) for row in step.inputs.all()] == [("first_name", True), ("todo_forms", False)]
    run = drive(start_run(step, {"first_name": "Ada"}))
    assert run.status == Status.SUCCEEDED, run.reason
    assert server.requests[0].json() == {"name": "Onboard Ada", "notes": "Laptop: N/A"}
