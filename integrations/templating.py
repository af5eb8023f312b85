"""Placeholders: ``{{ name }}`` in URLs, headers, params and bodies.

Placeholders are data, never code: a name is looked up in a context and its
value put in its place. Nothing else in the text is interpreted.
"""

import json
import re
from urllib.parse import quote, urlsplit

from django.core.exceptions import ValidationError

PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_-]+)*")
# ``name|default:'text'`` (Django's default filter, as ChiefOnboarding's manifests write it): the text when the
# name has no value, or a value that is empty ("", null, false, 0, [] or {}).
DEFAULT = re.compile(
    r"""(?P<name>[^|]*?)\s*\|\s*default\s*:\s*"""
    r"""(?:'(?P<single>[^']*)'|"(?P<double>[^"]*)"|(?P<number>-?\d+(?:\.\d+)?))""",
    re.DOTALL,
)
NO_DEFAULT = object()


def parse_placeholder(inner):
    """(name, default) of a placeholder's inside (``name`` or ``name|default:'text'``); the default is NO_DEFAULT
    when there is none. The name of anything else is the whole inside, which NAME does not match."""
    inner = inner.strip()
    if "|" not in inner:
        return inner, NO_DEFAULT
    match = DEFAULT.fullmatch(inner)
    if not match:
        return inner, NO_DEFAULT
    number = match.group("number")
    if number is not None:
        return match.group("name").strip(), float(number) if "." in number else int(number)
    default = match.group("single") if match.group("single") is not None else match.group("double")
    return match.group("name").strip(), default


def fill(inner, context):
    """The value of the placeholder whose inside is ``inner``: its name looked up, its default if it has one and
    the name has no value or an empty one; raises UnknownPlaceholder naming a name without value nor default."""
    name, default = parse_placeholder(inner)
    try:
        value = context.lookup(name)
    except UnknownPlaceholder:
        if default is NO_DEFAULT:
            raise
        return default
    if default is not NO_DEFAULT and (value is None or value is False or value in ("", 0, [], {})):
        return default
    return value


class UnknownPlaceholder(Exception):
    """A placeholder names nothing in the run's context."""

    def __init__(self, name):
        self.name = name
        super().__init__(f"Unknown placeholder {{{{ {name} }}}}: no variable, field or secret has that name.")


def placeholder_names(text):
    """The names of the placeholders in ``text``, in order (assumes it is well-formed)."""
    return [parse_placeholder(m.group(1))[0] for m in PLACEHOLDER.finditer(text)]


def check_placeholders(text):
    """Raise ValidationError when a placeholder in ``text`` is malformed."""
    if not isinstance(text, str) or "{{" not in text and "}}" not in text:
        return
    rest = PLACEHOLDER.sub(lambda m: "", text)
    for match in PLACEHOLDER.finditer(text):
        name = parse_placeholder(match.group(1))[0]
        if not NAME.fullmatch(name):
            raise ValidationError(
                f"Placeholder {match.group(0)!r} is malformed: write {{{{ name }}}} with a name "
                "made of letters, digits and underscores, dots between parts (e.g. {{ secrets.TOKEN }}), "
                "or {{ name|default:'text' }} for a text to use when it has no value (the one filter read)."
            )
    if "{{" in rest:
        raise ValidationError("A placeholder is opened with '{{' but never closed with '}}'.")
    if "}}" in rest:
        raise ValidationError("A placeholder is closed with '}}' but never opened with '{{'.")


def check_placeholders_in(value):
    """check_placeholders on every string (keys and leaves) of a parsed JSON value."""
    if isinstance(value, str):
        check_placeholders(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_placeholders(key)
            check_placeholders_in(item)
    elif isinstance(value, list):
        for item in value:
            check_placeholders_in(item)


class Context:
    """What placeholders can read: a mapping of names, walked by dots."""

    def __init__(self, values):
        self.values = values

    def lookup(self, name):
        parts = name.split(".")
        current = self.values
        for part in parts:
            if isinstance(current, dict) and part in current:
                current = current[part]
            elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
                current = current[int(part)]
            else:
                raise UnknownPlaceholder(name)
        return current


def as_text(value):
    """How a value reads when put into text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def render_text(text, context, encode=None):
    """Fill the placeholders of ``text``; ``encode`` transforms each value's text."""
    if "{{" not in text:
        return text

    def replace(match):
        value = as_text(fill(match.group(1), context))
        return encode(value) if encode else value

    return PLACEHOLDER.sub(replace, text)


class BlankPathSegment(Exception):
    """A placeholder that is a whole part of a URL's path would leave that part empty (``//``, a trailing ``/``):
    the request would go to another address."""

    def __init__(self, names, url):
        self.names = names
        shown = " and ".join(f"{{{{ {name} }}}}" for name in names)
        verb = "is" if len(names) == 1 else "are"
        super().__init__(
            f"{shown} {verb} blank, and the URL {url} has {'it' if len(names) == 1 else 'them'} as a whole part of "
            "its path: sent, the request would go to another address (an empty part, “//”). Give "
            f"{'it' if len(names) == 1 else 'them'} a value."
        )


class BadBaseURL(Exception):
    """A placeholder that starts a URL holds an address (``https://...``) that cannot begin one."""

    def __init__(self, name, reason):
        self.name = name
        super().__init__(f"{{{{ {name} }}}} starts the URL and holds an address, which {reason}: give it an "
                         "http or https address with a host and no query or fragment (https://host/base/path).")


def _leading_base(name, value, rest):
    """``value`` as the start of a URL when it is an absolute http(s) address (a whole base URL), else None.

    Only the placeholder that starts a URL may hold one: anywhere else a value is a part, percent-encoded.
    """
    if "://" not in value:
        return None
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https"):
        raise BadBaseURL(name, f"is not http or https ({parts.scheme or 'no scheme'})")
    if not parts.netloc:
        raise BadBaseURL(name, "has no host")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise BadBaseURL(name, "has a query or a fragment, which the rest of the URL would follow")
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in value):
        raise BadBaseURL(name, "holds a space or a control character")
    return value.rstrip("/") if rest.startswith("/") else value


def render_url(text, context):
    """Fill a URL: each value is percent-encoded so it cannot change the URL's shape.

    The one exception: a placeholder that starts the URL (``{{ BASE_URL }}/users``) may hold a whole base URL,
    an absolute http(s) address, put in as it is (the outbound guard checks where it leads, like any address);
    raises BadBaseURL for an address that cannot start one.

    Raises BlankPathSegment when a part of the path (between slashes, or the host) made only of placeholders
    would be empty: ``/tickets/{{ id }}/notes`` with a blank id is another address, not a ticket's notes.
    """
    encode = lambda value: quote(value, safe="")  # noqa: E731
    if "{{" in text:
        path = re.split(r"[?#]", text, maxsplit=1)[0]
        path = path.split("://", 1)[1] if "://" in path else path
        for part in path.split("/"):
            names = placeholder_names(part)
            if names and not PLACEHOLDER.sub("", part).strip() and not render_text(part, context, encode):
                raise BlankPathSegment(names, text)
    lead = PLACEHOLDER.match(text)
    if lead:
        value = as_text(fill(lead.group(1), context))
        rest = text[lead.end():]
        base = _leading_base(parse_placeholder(lead.group(1))[0], value, rest)
        if base is not None:
            return base + render_text(rest, context, encode=encode)
    return render_text(text, context, encode=encode)


def render_value(value, context):
    """Fill the string leaves (and keys) of a parsed JSON value.

    A leaf that is exactly one placeholder takes the value's own type, so
    ``"{{ count }}"`` becomes the number 3, not the text "3".
    """
    if isinstance(value, str):
        match = PLACEHOLDER.fullmatch(value.strip())
        if match and value.strip().count("{{") == 1:
            return fill(match.group(1), context)
        return render_text(value, context)
    if isinstance(value, dict):
        return {render_text(key, context): render_value(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, context) for item in value]
    return value
