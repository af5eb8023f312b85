"""Validation shared by the models, the admin forms and the API serializers."""

import math
import re
from datetime import timedelta
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.dateparse import parse_duration
from django.utils.deconstruct import deconstructible

from . import safejson
from .placeholders import RESERVED
from .templating import PLACEHOLDER, check_placeholders, check_placeholders_in

# The largest values an action may hold; the engine can rely on them.
MAX_CONNECT_TIMEOUT = 300  # seconds
MAX_READ_TIMEOUT = 3600
MAX_POLL_INTERVAL = 86400
MAX_POLL_TIMEOUT = 366 * 86400
MAX_BACKOFF_CAP = 86400
MAX_POLL_ATTEMPTS = 1_000_000
MAX_CONSECUTIVE_ERRORS = 1000

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
    """Parse JSON typed by a person; the error names the line and column, or the place, of the fault.

    What Python reads but nothing can store or show is refused as well (see
    safejson): NaN and Infinity, 1e999, NUL, lone surrogates, deep nesting.
    """
    try:
        return safejson.loads(text)
    except safejson.Fault as fault:
        raise ValidationError(str(fault), code="invalid_json") from None


NOT_A_MAP = "Expected a JSON object of names to values, e.g. {\"Accept\": \"application/json\"}."


def json_map(value):
    """A map field's value as typed or sent: blank or null is {}; anything but a JSON object is refused.

    full_clean() skips the validators of a blank field whose value counts as
    empty (null, [], ""): the admin's form and the API call this first, so
    that neither stores null (refused by the database) or a list.
    """
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise ValidationError(NOT_A_MAP)
    return value


def validate_string_map(value):
    """Headers and query parameters: a JSON object of names to text values."""
    if value in (None, ""):
        return
    if not isinstance(value, dict):
        raise ValidationError(NOT_A_MAP)
    for key, item in value.items():
        if not key.strip():
            raise ValidationError("A name is empty.")
        for text, what in ((key, f"The name {key!r}"), (item, f"The value of {key!r}")):
            if isinstance(text, str) and _unstorable(text):
                # PostgreSQL's jsonb cannot hold either; the database would refuse the row.
                raise ValidationError(f"{what} contains {_unstorable(text)}, which JSON fields cannot hold.")
        if not isinstance(item, (str, int, float, bool)):
            raise ValidationError(f"The value of {key!r} must be text, a number or true/false, not a list or object.")
        if isinstance(item, float) and not math.isfinite(item):
            raise ValidationError(f"The value of {key!r} must be a finite number, not {item}.")
    check_placeholders_in(value)


def _unstorable(text):
    """How a NUL character or a lone surrogate in ``text`` reads in a message, or ""."""
    return safejson.unstorable(text)


TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def validate_headers(value):
    """Headers: a string map whose names are HTTP tokens and whose values hold no line break or control character."""
    # A control character (a NUL too) in a header's value is named as that header's fault, before
    # validate_string_map would name a NUL as something JSON fields cannot hold.
    for name, item in (value.items() if isinstance(value, dict) else ()):
        fault = _control_character(str(item), allowed="\t")
        if fault and name.strip():
            validate_header_name(name)
            raise ValidationError(
                f"The value of header {name!r} contains {fault}: a header value must be one line of text."
            )
    validate_string_map(value)
    for name in value or {}:
        validate_header_name(name)


def validate_header_name(name, *, placeholders=False):
    """An HTTP header name (a token); with ``placeholders``, the text between placeholders must be one."""
    literal = PLACEHOLDER.sub("", name) if placeholders else name
    if literal and not TOKEN.fullmatch(literal) or not name.strip():
        raise ValidationError(
            f"{name!r} is not a valid header name: use letters, digits and ! # $ % & ' * + - . ^ _ ` | ~ "
            "(no spaces, colons or line breaks)."
        )


def validate_single_line(text):
    """Text that goes into a request line or header: no line break or control character."""
    fault = _control_character(PLACEHOLDER.sub("", text or ""), allowed="\t")
    if fault:
        raise ValidationError(f"This contains {fault}: write it on one line.")


def _control_character(text, allowed=""):
    """How the first control character of ``text`` reads in a message, or ""."""
    for char in text:
        if (ord(char) < 32 or ord(char) == 127) and char not in allowed:
            return _CHARACTER_NAMES.get(char, f"a control character (U+{ord(char):04X})")
    return ""


_CHARACTER_NAMES = {"\t": "a tab", "\r": "a carriage return (CR)", "\n": "a line feed (LF)"}


def _check_url_characters(url):
    """A URL holds no space, tab, line break or control character (outside placeholders, whose values are encoded)."""
    literal = PLACEHOLDER.sub("", url)
    fault = _control_character(literal)
    if fault:
        raise ValidationError(f"A URL cannot contain {fault}.")
    if any(char.isspace() for char in literal):
        raise ValidationError("A URL cannot contain a space: write it as %20.")


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
    _check_url_characters(url)
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
    _check_url_characters(url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError("Write an absolute URL: https://host/optional/path.")


def validate_base_url(url):
    if not url:
        return
    check_placeholders(url)
    _check_url_characters(url)
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
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            raise ValidationError(f"{text!r} is not a number of seconds: give seconds (10) or a duration (PT10M).")
        return seconds
    has_digits = any(char.isdigit() for char in text)
    try:
        duration = parse_duration(text) if text.upper().startswith("P") and has_digits else None
    except OverflowError:
        raise ValidationError(f"{text!r} is far too long a duration.") from None
    if duration is None:
        raise ValidationError(
            f"{text!r} is not a duration: give seconds (10) or an ISO 8601 duration (PT10M, PT1H30M, P1D)."
        )
    return duration.total_seconds()


@deconstructible
class SecondsRange:
    """A number of seconds between ``minimum`` and ``maximum``; refusals name the field's ``label``."""

    def __init__(self, label, minimum, maximum):
        self.label, self.minimum, self.maximum = label, minimum, maximum

    def __call__(self, value):
        if value is None:
            return
        if not math.isfinite(value):
            raise ValidationError(f"The {self.label} must be a number of seconds, not {value}.", code="not_finite")
        if value < self.minimum:
            raise ValidationError(
                f"The {self.label} must be at least {describe_seconds(self.minimum)}, not {_number(value)}.",
                code="min_value",
            )
        if value > self.maximum:
            raise ValidationError(
                f"The {self.label} may be at most {describe_seconds(self.maximum)}, not {_number(value)}.",
                code="max_value",
            )

    def __eq__(self, other):
        return isinstance(other, SecondsRange) and (self.label, self.minimum, self.maximum) == (
            other.label, other.minimum, other.maximum
        )


def describe_seconds(seconds):
    """'300 seconds (5 minutes)'; plain '1 second' below a minute."""
    text = f"{_number(seconds)} second{'' if seconds == 1 else 's'}"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{text} ({count} {unit}{'' if count == 1 else 's'})"
    return text


def _number(value):
    """600 for 600.0, 2.5 for 2.5: how a person wrote it."""
    return str(int(value)) if float(value).is_integer() else f"{value:.10g}"


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


FILE_NAME_FAULT = ("A file name cannot contain / or \\, be . or .., or hold a control character: it names a file "
                   "of the run, not a path.")


def check_file_name(name):
    """A file name as filled in at run time: one name, not a path (raises ValidationError)."""
    if not name or not name.strip():
        raise ValidationError("The file name is empty.")
    if "/" in name or "\\" in name or name.strip() in (".", "..") or ".." in name or _control_character(name):
        raise ValidationError(FILE_NAME_FAULT)
    if len(name) > 200:
        raise ValidationError("A file name is at most 200 characters long.")


def validate_file_name(text):
    """``save_as_file`` and the file names of ``files``: the text around placeholders names one file, not a path."""
    if not text:
        return
    check_placeholders(text)
    literal = PLACEHOLDER.sub("", text)
    if "/" in literal or "\\" in literal or ".." in literal or _control_character(literal) or not text.strip():
        raise ValidationError(FILE_NAME_FAULT)


def validate_files(value):
    """``files``: a JSON object of multipart form field names to names of files the run or its chain saved."""
    if value in (None, ""):
        return
    if not isinstance(value, dict):
        raise ValidationError('Expected a JSON object of form field names to file names, e.g. {"file": "report.pdf"}.')
    for field_name, file_name in value.items():
        if not field_name.strip() or _control_character(field_name) or '"' in field_name or "{{" in field_name:
            raise ValidationError(f"{field_name!r} is not a usable form field name: it is empty, or holds a quote, "
                                  "a control character or a placeholder (only file names take placeholders).")
        if not isinstance(file_name, str) or not file_name:
            raise ValidationError(f"The value of {field_name!r} must be a file name (text).")
        try:
            validate_file_name(file_name)
        except ValidationError as exc:
            raise ValidationError(f"The file of {field_name!r}: {exc.messages[0]}") from None


def read_json_file(path):
    """The parsed JSON document in the file at ``path``; ValueError saying why it cannot be read, in words."""
    try:
        with open(path, encoding="utf-8") as source:
            return parse_json_text(source.read())
    except OSError as exc:
        raise ValueError(f"Cannot read {path}: {exc.strerror}.") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text.") from None
    except ValidationError as exc:
        raise ValueError(f"{path} is not a JSON document: {' '.join(exc.messages)}") from None
