import pytest
from django.core.exceptions import ValidationError

from integrations.templating import (
    Context,
    UnknownPlaceholder,
    check_placeholders,
    render_text,
    render_url,
    render_value,
)

CTX = Context({"name": "Ada Lovelace", "count": 3, "tags": ["a", "b"], "flag": True,
               "secrets": {"TOKEN": "s3cr3t"}, "run": {"id": 7}, "customer": {"id": "c-1"}})


def test_it_fills_text_placeholders():
    assert render_text("Hello {{ name }}, run {{run.id}}", CTX) == "Hello Ada Lovelace, run 7"


def test_it_reads_nested_values_and_secrets():
    assert render_text("{{ customer.id }}:{{ secrets.TOKEN }}", CTX) == "c-1:s3cr3t"


def test_unknown_placeholder_is_an_error_naming_it():
    with pytest.raises(UnknownPlaceholder) as info:
        render_text("x {{ missing }}", CTX)
    assert "missing" in str(info.value)
    with pytest.raises(UnknownPlaceholder, match="secrets.NOPE"):
        render_text("{{ secrets.NOPE }}", CTX)


def test_whole_leaf_placeholder_keeps_its_type():
    body = {"count": "{{ count }}", "tags": "{{ tags }}", "flag": "{{ flag }}", "text": "n={{ count }}"}
    assert render_value(body, CTX) == {"count": 3, "tags": ["a", "b"], "flag": True, "text": "n=3"}


def test_values_cannot_break_json():
    evil = Context({"name": 'x", "admin": true, "y": "'})
    rendered = render_value({"name": "{{ name }}", "greeting": "hi {{ name }}"}, evil)
    assert set(rendered) == {"name", "greeting"}
    assert rendered["name"] == 'x", "admin": true, "y": "'


def test_url_values_are_percent_encoded():
    ctx = Context({"q": "a b/c?d=e&f", "id": "42"})
    assert render_url("https://h/items/{{ id }}?q={{ q }}", ctx) == "https://h/items/42?q=a%20b%2Fc%3Fd%3De%26f"


def test_template_code_does_not_run():
    ctx = Context({"name": "{{ secrets.TOKEN }}"})
    # A value that looks like a placeholder is data: it is not filled again.
    assert render_text("{{ name }}", ctx) == "{{ secrets.TOKEN }}"
    assert render_text("{% if x %}{{ name }}{% endif %}", ctx) == "{% if x %}{{ secrets.TOKEN }}{% endif %}"


@pytest.mark.parametrize("text", ["{{ a b }}", "{{ }}", "{{ 1abc }}", "{{ a..b }}", "{{ name", "name }}", "{{ x|upper }}"])
def test_malformed_placeholders_are_refused(text):
    with pytest.raises(ValidationError):
        check_placeholders(text)


@pytest.mark.parametrize("text", ["plain", "{{ a }}", "{{secrets.API_KEY}}", "{{ run.callback_url }}", "{{ items.0.id }}"])
def test_well_formed_placeholders_pass(text):
    check_placeholders(text)
