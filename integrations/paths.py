"""Response paths: where in a response a condition or mapping looks.

- ``$.data.items[0].id`` is JSONPath (jsonpath-ng), read from the body;
- ``data.items.0.id`` is dot notation, read from the body;
- ``@status`` is the HTTP status code; ``@headers.Content-Type`` a response
  header (name case-insensitive); ``@body`` the whole body; ``@text`` the
  body as the text received (``@text contains ada@example.com``, as
  ChiefOnboarding's ``exists`` reads an answer), whatever its format.
"""

from dataclasses import dataclass
from functools import lru_cache

from django.core.exceptions import ValidationError
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext import parse as jsonpath_parse

MISSING = object()


@dataclass(frozen=True)
class Response:
    """What a path can read: status code, headers (a mapping whose names ignore case) and the parsed body."""

    status: int | None
    headers: dict
    body: object
    text: str | None = None  # the body as received, decoded


@lru_cache(maxsize=2048)
def _compile(path):
    path = path.strip()
    if not path:
        raise ValueError("A path is required.")
    if path == "@status":
        return ("status", None)
    if path == "@body":
        return ("body", None)
    if path == "@text":
        return ("text", None)
    if path.startswith("@headers."):
        name = path[len("@headers."):]
        if not name:
            raise ValueError("Name the header after '@headers.', e.g. @headers.Retry-After.")
        return ("header", name.lower())
    if path.startswith("@"):
        raise ValueError(f"Unknown path {path!r}: use @status, @headers.NAME, @body or @text.")
    if path.startswith("$"):
        try:
            return ("jsonpath", jsonpath_parse(path))
        except (JsonPathLexerError, JsonPathParserError, Exception) as exc:
            raise ValueError(f"Invalid JSONPath {path!r}: {exc}") from None
    parts = path.split(".")
    if any(part == "" for part in parts):
        raise ValueError(f"Invalid path {path!r}: dot notation needs a name between every two dots.")
    return ("dots", tuple(parts))


def validate_path(path):
    """Raise ValidationError when ``path`` does not parse."""
    try:
        _compile(path)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def resolve(path, response):
    """The value found at ``path`` in ``response``, or MISSING.

    A JSONPath that matches several values gives them as a list.
    """
    kind, compiled = _compile(path)
    if kind == "status":
        return response.status if response.status is not None else MISSING
    if kind == "body":
        return response.body if response.body is not None else MISSING
    if kind == "text":
        return response.text if response.text is not None else MISSING
    if kind == "header":
        value = (response.headers or {}).get(compiled)
        return MISSING if value is None else value
    if kind == "jsonpath":
        matches = [match.value for match in compiled.find(response.body)]
        if not matches:
            return MISSING
        if len(matches) == 1 and not _is_multi(path):
            return matches[0]
        return matches
    current = response.body
    for part in compiled:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and _is_index(part, len(current)):
            current = current[int(part)]
        else:
            return MISSING
    return current


def _is_multi(path):
    # A path that can match several values (wildcards, slices, filters)
    # always gives a list, even when one value matched this time.
    return any(token in path for token in ("*", "..", "?(", ":", ","))


def _is_index(part, length):
    try:
        index = int(part)
    except ValueError:
        return False
    return -length <= index < length
