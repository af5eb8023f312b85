import pytest
from django.core.exceptions import ValidationError

from urllib3 import HTTPHeaderDict

from integrations.paths import MISSING, Response, resolve, validate_path

BODY = {"status": "running", "data": {"items": [{"id": 1}, {"id": 2}]}, "labels": [{"name": "bug"}, {"name": "needs review"}]}
RESPONSE = Response(status=202, headers=HTTPHeaderDict({"Content-Type": "application/json", "Retry-After": "5"}),
                    body=BODY)


def test_dot_notation_reads_objects_and_list_indexes():
    assert resolve("status", RESPONSE) == "running"
    assert resolve("data.items.1.id", RESPONSE) == 2
    assert resolve("data.items.-1.id", RESPONSE) == 2


def test_missing_path_is_missing_not_none():
    assert resolve("data.nope", RESPONSE) is MISSING
    assert resolve("data.items.5.id", RESPONSE) is MISSING
    assert resolve("$.nope", RESPONSE) is MISSING


def test_jsonpath_single_match_is_the_value():
    assert resolve("$.data.items[0].id", RESPONSE) == 1


def test_jsonpath_wildcard_is_a_list_even_with_one_match():
    assert resolve("$.labels[*].name", RESPONSE) == ["bug", "needs review"]
    one = Response(status=200, headers={}, body={"labels": [{"name": "bug"}]})
    assert resolve("$.labels[*].name", one) == ["bug"]


def test_status_and_headers_are_reachable():
    assert resolve("@status", RESPONSE) == 202
    assert resolve("@headers.retry-after", RESPONSE) == "5"
    assert resolve("@headers.X-Nope", RESPONSE) is MISSING
    assert resolve("@body", RESPONSE) is BODY


@pytest.mark.parametrize("path,fragment", [
    ("$.data[", "Invalid JSONPath"),
    ("data..items", "dot notation"),
    ("", "required"),
    ("@nope", "Unknown path"),
    ("@headers.", "Name the header"),
])
def test_bad_paths_are_refused_with_a_reason(path, fragment):
    with pytest.raises(ValidationError) as info:
        validate_path(path)
    assert fragment in info.value.messages[0]
