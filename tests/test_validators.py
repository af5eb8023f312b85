import pytest
from django.core.exceptions import ValidationError

from integrations.validators import parse_json_text, parse_seconds, parse_statuses, validate_url


def test_bad_json_names_line_and_column():
    with pytest.raises(ValidationError) as info:
        parse_json_text('{\n  "a": 1\n  "b": 2\n}')
    assert info.value.messages == ["Invalid JSON at line 3, column 3: Expecting ',' delimiter."]


@pytest.mark.parametrize("text,seconds", [("10", 10), ("2.5", 2.5), ("PT10M", 600), ("PT1H30M", 5400), ("P1D", 86400)])
def test_durations_become_seconds(text, seconds):
    assert parse_seconds(text) == seconds


@pytest.mark.parametrize("text", ["ten", "P", "10 minutes", "PT"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValidationError, match="not a duration"):
        parse_seconds(text)


def test_status_ranges():
    assert parse_statuses("2xx, 404, 300-302") == [(200, 299), (404, 404), (300, 302)]
    with pytest.raises(ValidationError, match="not a status code"):
        parse_statuses("2xx, abc")
    with pytest.raises(ValidationError, match="greater"):
        parse_statuses("299-200")


def test_urls():
    validate_url("https://api.example.com/x/{{ id }}")
    validate_url("/tickets/{{ id }}", base_url="https://api.example.com")
    validate_url("{{ target_url }}")
    with pytest.raises(ValidationError, match="no base URL"):
        validate_url("/tickets")
    with pytest.raises(ValidationError, match="Only http and https"):
        validate_url("ftp://example.com/x")
    with pytest.raises(ValidationError, match="no host"):
        validate_url("https:///x")
