"""JSON the site can store, show and send back: the one place that refuses (or replaces) what it cannot.

Python reads more than a database column or a web page can hold:
``1e999`` becomes an infinite float, which no JSON writer may write;
``"\\ud800"`` becomes a lone surrogate, which no UTF-8 encoder can write (a
page quoting it cannot even be answered) and PostgreSQL refuses, as it
refuses NUL (``"\\u0000"``) in text; and nesting thousands deep makes every
recursive reader (json itself, JSONPath, templates) raise RecursionError.
What people and scripts send is refused here with the place of the fault
(``loads``, ``check``); what a third party answers is parsed with the same
limits and its text cleaned (``cleaned``), so that a run can go on and say so.
"""

import json
import math
import re

MAX_DEPTH = 100  # levels of objects and arrays; far beyond any real document, far below Python's recursion limit
REPLACEMENT = "\ufffd"  # what a UTF-8 decoder puts in place of bytes that are not text

TOO_DEEP = f"This is nested deeper than {MAX_DEPTH} levels of objects and lists."

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Only these escapes in JSON text can make NUL or a lone surrogate (a raw NUL is not valid JSON, and text
# decoded from bytes holds no surrogates): text without them needs no walk for them.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")
_TOKEN = re.compile(r'"(?:[^"\\]++|\\.)*+"|[\[\]{},:]')


class Fault(ValueError):
    """A JSON document that cannot be used: ``message`` says why, ``path`` (keys and indices) where."""

    def __init__(self, message, path=()):
        self.message, self.path = message, tuple(path)
        super().__init__(f"{message.rstrip('.')} (at {describe_path(self.path)})." if self.path else message)


class _Refused:
    """What the parser read instead of a number or constant JSON does not have; the walk names its place."""

    def __init__(self, message):
        self.message = message


def unstorable(text):
    """How a NUL character or a lone surrogate in ``text`` reads in a message, or ""."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return ""
    if found.group() == "\x00":
        return "a NUL character (U+0000)"
    return f"a lone surrogate (\\u{ord(found.group()):04x}, half of a UTF-16 pair: not text)"


def clean_text(text):
    """``text`` with each NUL character and lone surrogate replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, text)


def may_hold_unstorable(text):
    """Whether JSON (or plain) ``text`` may hold NUL or a lone surrogate, once parsed: a cheap test before a walk."""
    return _UNSTORABLE.search(text) is not None or _SUSPECT_ESCAPE.search(text) is not None


def describe_path(path):
    """``variables.note``, ``stop_conditions[1].value``: where in a document, for a message."""
    words = []
    for part in path[:12]:
        if isinstance(part, int):
            words.append(f"[{part}]")
        elif part.isidentifier():
            words.append(f".{part}" if words else part)
        else:
            words.append(f"[{part!r}]")  # repr escapes NUL and surrogates, so the message stays text
    return "".join(words) + ("…" if len(path) > 12 else "")


def loads(text, *, text_faults=True):
    """The value of JSON ``text``, or Fault saying what and where.

    Refused: malformed JSON; NaN and Infinity; numbers beyond a float's range
    (1e999); nesting deeper than MAX_DEPTH; with ``text_faults``, NUL and lone
    surrogates in names or strings too.
    """
    refused = []

    def refuse_number(number):
        value = float(number)
        if math.isfinite(value):
            return value
        refused.append(number)
        return _Refused(f"The number {number} is too large for JSON.")

    def refuse_constant(name):
        refused.append(name)
        return _Refused(f"{name} is not JSON: write a number, or \"{name}\" as text.")

    try:
        value = json.loads(text, parse_float=refuse_number, parse_constant=refuse_constant)
    except RecursionError:
        raise Fault(TOO_DEEP, _too_deep(text) or ()) from None
    except json.JSONDecodeError as exc:
        raise Fault(f"Invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}.") from None
    except ValueError as exc:  # an integer of more digits than Python converts (4300)
        raise Fault(f"Invalid JSON: {exc}.") from None
    may_hold_faults = (
        refused
        or text.count("[") + text.count("{") > MAX_DEPTH
        or text_faults and may_hold_unstorable(text)
    )
    if may_hold_faults:
        check(value, text_faults=text_faults)
    return value


def check(value, *, text_faults=True):
    """Raise Fault for the first thing in a parsed value that ``loads`` would have refused."""
    stack = [((), value, 0)]
    while stack:
        path, item, depth = stack.pop()
        if isinstance(item, _Refused):
            raise Fault(item.message, path)
        if isinstance(item, str):
            if text_faults and unstorable(item):
                raise Fault(f"This contains {unstorable(item)}, which cannot be stored.", path)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise Fault(f"{item} is not a JSON number.", path)
        elif isinstance(item, (dict, list)):
            if depth == MAX_DEPTH:
                raise Fault(TOO_DEEP, path[:1])
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in reversed(list(children)):
                if text_faults and isinstance(key, str) and unstorable(key):
                    raise Fault(f"The name {key!r} contains {unstorable(key)}, which cannot be stored.", path)
                stack.append(((*path, key), child, depth + 1))


def cleaned(value):
    """(``value`` with NUL and lone surrogates in its names and strings replaced by U+FFFD, the paths replaced).

    For values already within MAX_DEPTH (parsed by ``loads``).
    """
    places = []

    def clean(item, path):
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                places.append(path)
                return clean_text(item)
            return item
        if isinstance(item, dict):
            result = {}
            for key, child in item.items():
                if _UNSTORABLE.search(key):
                    places.append((*path, key))
                    key = clean_text(key)
                result[key] = clean(child, (*path, key))
            return result
        if isinstance(item, list):
            return [clean(child, (*path, index)) for index, child in enumerate(item)]
        return item

    return clean(value, ()), places


def _too_deep(text):
    """The path to the first array or object of JSON ``text`` nested deeper than MAX_DEPTH, or None.

    For text too deep for json to parse: its tokens are followed, without recursion.
    """
    path, kinds, expect_key = [], [], False
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            if len(kinds) == MAX_DEPTH:
                return tuple(part for part in path if part is not None)[:1]
            kinds.append(token)
            path.append(0 if token == "[" else None)
            expect_key = token == "{"
        elif token in "]}":
            if kinds:
                kinds.pop()
                path.pop()
        elif token == ",":
            if kinds and kinds[-1] == "[":
                path[-1] += 1
            expect_key = bool(kinds) and kinds[-1] == "{"
        elif token == ":":
            expect_key = False
        elif expect_key:
            try:
                path[-1] = json.loads(token)
            except ValueError:
                path[-1] = token[1:-1]
            expect_key = False
    return None
