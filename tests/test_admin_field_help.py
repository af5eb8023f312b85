"""Every JSON field and every condition and mapping column says what goes there and which placeholders it reads."""

import pytest
from django.urls import reverse

from integrations.models import Action, ContinueCondition, Integration, ResponseMapping, StopCondition
from integrations.placeholders import RUN_FACTS
from runs.definitions import definition_for
from runs.models import Run
from runs.outbound import context_for, facts

ACTION_TEXT_FIELDS = [
    "url", "headers", "params", "body", "poll_url", "poll_headers", "poll_params", "poll_body",
    "cancel_webhook_url", "cancel_webhook_body",
]
JSON_FIELDS = [(Action, name) for name in ["headers", "params", "poll_headers", "poll_params"]] + [
    (Integration, "default_headers")
]


def help_text(model, name):
    return str(model._meta.get_field(name).help_text)


def flattened(values, prefix=""):
    for key, value in values.items():
        if isinstance(value, dict):
            yield from flattened(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def test_the_run_facts_named_in_help_are_exactly_those_a_run_has(action):
    run = Run.objects.create(action=action, integration=action.integration, variables={"title": "x"})
    definition = definition_for(action, action.integration)

    assert sorted(flattened(facts(definition, run))) == sorted(RUN_FACTS)
    context = context_for(definition, run)
    for fact in RUN_FACTS:
        context.lookup(fact)  # raises UnknownPlaceholder for a fact the run does not have


@pytest.mark.parametrize("name", ACTION_TEXT_FIELDS)
def test_each_action_field_with_placeholders_lists_them(name):
    text = help_text(Action, name)

    assert "{{ name }} of an input, or of a field stored from a response" in text
    assert "{{ secrets.NAME }}" in text
    for fact in RUN_FACTS:
        assert f"{{{{ {fact} }}}}" in text


@pytest.mark.parametrize("name", ["base_url", "default_headers"])
def test_integration_fields_list_only_what_every_run_has(name):
    text = help_text(Integration, name)

    assert "{{ secrets.NAME }}" in text and "{{ run.callback_url }}" in text
    assert "{{ name }}" not in text
    assert "inputs and stored fields cannot be used here" in text


@pytest.mark.parametrize("model, name", JSON_FIELDS)
def test_json_fields_say_what_shape_they_take(model, name):
    assert 'A JSON object of names to values (text, a number or true/false), e.g. {"Accept"' in help_text(model, name)


@pytest.mark.parametrize(
    "model, name, words",
    [
        (StopCondition, "path", "$.data.items[0].id (JSONPath)"),
        (StopCondition, "value", "{{ run.callback_url }}"),
        (StopCondition, "target_field", "read it as {{ name }}"),
        (StopCondition, "outcome", "How the run ends"),
        (ContinueCondition, "path", "@headers.Name"),
        (ContinueCondition, "value", "'one of' takes a JSON list"),
        (ResponseMapping, "field", "read it as {{ name }}"),
        (ResponseMapping, "path", "@status"),
        (ResponseMapping, "source", "the last poll or the callback"),
    ],
)
def test_condition_and_mapping_columns_say_what_goes_there(model, name, words):
    assert words in help_text(model, name)


def test_the_action_page_shows_column_help_as_tooltips(client, admin_user, action):
    client.force_login(admin_user)

    html = client.get(reverse("admin:integrations_action_change", args=[action.pk])).content.decode()

    headers = [part for part in html.split("<th ")[1:] if part.startswith('class="column-value')]
    assert len(headers) == 2  # continue and stop conditions
    for header in headers:
        assert 'title="Compared with what the path finds' in header
        # The placeholders are listed once on the page (tests/test_admin_action_form_sections.py), not here.
        assert "Placeholders may be used (see “Placeholders” at the top of the page)." in header
        assert "{{ secrets.NAME }}" not in header
