"""Validation shared by the models, the admin forms and the API serializers."""

import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.dateparse import parse_duration

from .placeholders import RESERVED
from .templating import check_placeholders, check_placeholders_in

IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"

validate_identifier = RegexValidator(
    rf"^{IDENTIFIER}\Z",
    "Use letters, digits and underscores, not starting with a digit (e.g. ticket_id).",
)


def validate_variable_name(name):
    """An input's or a stored field's name: an identifier that secrets and run facts do not already use."""
    validate_identifier(name)
    if name in RESERVED:
        raise ValidationError(
            f"{name!r} is taken by {{{{ {name}.… }}}} placeholders ({', '.join(RESERVED)}): choose another name."
        )


def parse_json_text(text):
    """Parse JSON typed by a person; the error names the line and column of the fault."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"Invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.", code="invalid_json"
        ) from None


def validate_string_map(value):
    """Headers and query parameters: a JSON object of names to text values."""
    if value in (None, ""):
        return
    if not isinstance(value, dict):
        raise ValidationError(
            "Expected a JSON object of names to values, e.g. {\"Accept\": \"application/json\"}."
        )
    for key, item in value.items():
        if not key.strip():
            raise ValidationError("A name is empty.")
        if not isinstance(item, (str, int, float, bool)):
            raise ValidationError(f"The value of {key!r} must be text, a number or true/false, not a list or object.")
    check_placeholders_in(value)


def validate_body(body_type, body):
    """A body is checked according to its type; returns nothing, raises ValidationError."""
    if not body:
        return
    if body_type == "json":
        check_placeholders_in(parse_json_text(body))
    elif body_type == "form":
        parsed = parse_json_text(body)
        validate_string_map(parsed)
    else:
        check_placeholders(body)


def validate_template(text):
    check_placeholders(text)


def validate_url(url, *, base_url=""):
    """A URL must be absolute http(s), or relative when a base URL is set."""
    if not url:
        return
    check_placeholders(url)
    if url.lstrip().startswith("{{"):
        return  # the whole address comes from a placeholder: checked when filled
    parts = urlsplit(url.replace("{{", "x").replace("}}", "x"))
    if parts.scheme:
        if parts.scheme not in ("http", "https"):
            raise ValidationError(f"Only http and https URLs are supported, not {parts.scheme}:.")
        if not parts.netloc:
            raise ValidationError("This URL has no host: write it as https://host/path.")
        return
    if parts.netloc:
        raise ValidationError("Write the scheme too: https://host/path.")
    if not base_url:
        raise ValidationError(
            "This URL is relative but the integration has no base URL: "
            "write an absolute URL (https://host/path) or set the integration's base URL."
        )


def validate_absolute_url(url):
    """An absolute http(s) URL; placeholders allowed (e.g. a tenant in the path)."""
    if not url:
        return
    check_placeholders(url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError("Write an absolute URL: https://host/optional/path.")


def validate_base_url(url):
    if not url:
        return
    check_placeholders(url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError("The base URL must be absolute: https://host/optional/path.")


def parse_seconds(text):
    """Seconds from '10', '2.5' or an ISO 8601 duration such as 'PT10M'."""
    if isinstance(text, (int, float)):
        return float(text)
    if isinstance(text, timedelta):
        return text.total_seconds()
    text = (text or "").strip()
    try:
        return float(text)
    except ValueError:
        pass
    has_digits = any(char.isdigit() for char in text)
    duration = parse_duration(text) if text.upper().startswith("P") and has_digits else None
    if duration is None:
        raise ValidationError(
            f"{text!r} is not a duration: give seconds (10) or an ISO 8601 duration (PT10M, PT1H30M, P1D)."
        )
    return duration.total_seconds()


STATUS_ITEM = re.compile(r"^([1-5])xx$|^(\d{3})$|^(\d{3})-(\d{3})$")


def parse_statuses(text):
    """'2xx, 404, 300-302' -> a list of (low, high) inclusive ranges."""
    ranges = []
    for item in (text or "").split(","):
        item = item.strip().lower()
        if not item:
            continue
        match = STATUS_ITEM.match(item)
        if not match:
            raise ValidationError(
                f"{item!r} is not a status code: use codes (200), classes (2xx) or ranges (200-299), "
                "separated by commas."
            )
        if match.group(1):
            low = int(match.group(1)) * 100
            ranges.append((low, low + 99))
        elif match.group(2):
            code = int(match.group(2))
            ranges.append((code, code))
        else:
            low, high = int(match.group(3)), int(match.group(4))
            if low > high:
                raise ValidationError(f"In {item!r} the first code is greater than the second.")
            ranges.append((low, high))
    if not ranges:
        raise ValidationError("Give at least one accepted status code, e.g. 2xx.")
    return ranges


def validate_statuses(text):
    parse_statuses(text)
