"""Secret redaction: every secret value, and what is derived from it, becomes ***.

A service may echo a secret in any encoding it likes: PHP writes ``/`` as
``\\/``, some encoders write every character as ``\\u0073``, a URL carries
``%2F`` or ``%2f`` and ``+`` for a space, a body nested in a JSON string
escapes its escapes again, XML writes ``&amp;`` or ``&#115;``, and a token
may come back base64-encoded. So the text is read with every escape decoded
(remembering where each piece came from), the secrets and their base64
forms are looked for in that reading, and whatever spelt them in the text
is masked, in any mix of spellings. The Debug view, which decodes JSON and
XML to show them, can therefore never decode a secret back into view.
"""

import base64
import bisect
import re

MASK = "***"
MIN_LENGTH = 3  # shorter values would mask ordinary text without protecting anything
# A secret inside a longer base64 text is encoded differently for each of the 3 byte offsets it may start
# at; the characters that depend on its bytes alone are searched for, when they are this many or more
# (fewer would mask ordinary words).
MIN_BASE64_CORE = 8
# Escapes are read again in what the escapes gave, up to this many times: JSON in a JSON string in a JSON
# string, a secret URL-encoded in a URL that was URL-encoded again or JSON-escaped ("%" as \u0025).
MAX_LAYERS = 4
# One character written escaped: JSON (``\/``, ``\u0073``, a surrogate pair), source code (``\x73``,
# ``\U0001f511``), a URL (``%2F``, ``%2f``, the bytes of one UTF-8 character), XML or HTML (``&#115;``,
# ``&#x73;``, ``&amp;``). An escape in a JSON string nested in another is escaped again (``\\u0073``):
# the next layer reads it.
_ESCAPE = re.compile(
    r"""\\(?:u(?P<high>[dD][89abAB][0-9a-fA-F]{2})\\u(?P<low>[dD][c-fC-F][0-9a-fA-F]{2})
          |u(?P<u>[0-9a-fA-F]{4})
          |x(?P<x>[0-9a-fA-F]{2})
          |U(?P<big>[0-9a-fA-F]{8})
          |(?P<short>[/"\\bfnrt])
        )
      |(?P<percent>%[0-7][0-9a-fA-F]|%[c-fC-F][0-9a-fA-F](?:%[89abAB][0-9a-fA-F]){1,3})
      |&(?:\#(?P<decimal>[0-9]{1,7})|\#[xX](?P<hex>[0-9a-fA-F]{1,6})|(?P<entity>amp|lt|gt|quot|apos));""",
    re.VERBOSE,
)
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_SHORT = {"/": "/", '"': '"', "\\": "\\", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _unescaped(match):
    if match["percent"]:
        data = bytes.fromhex(match["percent"].replace("%", ""))
        return data.decode("utf-8", "surrogateescape")
    if match["high"]:
        return chr(0x10000 + ((int(match["high"], 16) - 0xD800) << 10) + int(match["low"], 16) - 0xDC00)
    if match["u"] or match["x"]:
        return chr(int(match["u"] or match["x"], 16))
    if match["big"]:
        code = int(match["big"], 16)
        return chr(code) if code <= 0x10FFFF else match[0]
    if match["short"]:
        return _SHORT[match["short"]]
    if match["decimal"] or match["hex"]:
        code = int(match["decimal"], 10) if match["decimal"] else int(match["hex"], 16)
        return chr(code) if code <= 0x10FFFF else match[0]
    return _ENTITIES[match["entity"]]


def unescaped(text):
    """``text`` with each escape read as the character it stands for (and ``+`` as a space), and its pieces.

    A piece, to find a span of the result in ``text``: (start in the result, start in ``text``, end in
    ``text``, whether it is one escape). The pieces are None when no escape was read.
    """
    if "\\" not in text and "%" not in text and "&" not in text:
        return text.replace("+", " "), None
    parts, pieces, at, length = [], [], 0, 0
    for match in _ESCAPE.finditer(text):
        start, end = match.span()
        if start > at:
            pieces.append((length, at, start, False))
            parts.append(text[at:start])
            length += start - at
        char = _unescaped(match)
        pieces.append((length, start, end, True))
        parts.append(char)
        length += len(char)
        at = end
    if not pieces:
        return text.replace("+", " "), None
    if at < len(text):
        pieces.append((length, at, len(text), False))
        parts.append(text[at:])
    return "".join(parts).replace("+", " "), pieces


def readings(text):
    """Each reading of ``text``, an escape layer less each time (at most MAX_LAYERS), with the pieces of each layer."""
    found, layers = [text.replace("+", " ")], []
    for _ in range(MAX_LAYERS):
        text, pieces = unescaped(text)
        if pieces is None:
            break
        found.append(text)
        layers.append(pieces)
    return found, layers


def _where(pieces, starts, position, *, end):
    """Where the character ``position`` of a reading was in the text read (its start, or its end)."""
    index = bisect.bisect_right(starts, position) - 1
    first, start, stop, escape = pieces[index]
    if escape:  # an escape is kept or masked whole
        return stop if end else start
    return start + (position - first) + (1 if end else 0)


def base64_forms(secret):
    """What ``secret`` looks like base64-encoded (standard and URL-safe), alone or inside a longer text."""
    data = secret.encode("utf-8", "surrogatepass")
    forms = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(data).decode().rstrip("=")
        if len(whole) >= MIN_LENGTH:
            forms.add(whole)
        for offset in (0, 1, 2):
            encoded = encode(bytes(offset) + data).decode()
            # Characters 6 bits each: skip those holding bits of the offset bytes, and a last partial one.
            core = encoded[-(-8 * offset // 6): 8 * (offset + len(data)) // 6]
            if len(core) >= MIN_BASE64_CORE:
                forms.add(core)
    return forms


class Redactor:
    def __init__(self, secrets=()):
        self._seen = frozenset()
        self._needles = ()  # what the secrets and their base64 forms read as once decoded, longest first
        for secret in secrets:
            self.add(secret)

    def add(self, secret):
        """Redact ``secret`` in every spelling (see the module's doc), and its base64 encodings."""
        if not secret or len(secret) < MIN_LENGTH or secret in self._seen:
            return
        needles = set(self._needles)
        for form in {secret} | base64_forms(secret):
            # Read as the text searched is, and every reading on the way: a secret that looks escaped itself
            # ("%41", "\n") reads differently once the service escaped its escapes ("%2541" reads as "%41").
            needles.update(readings(form)[0])
        # Replaced, not changed in place: a definition's redactor is shared by the threads sending its runs,
        # and one of them may be redacting while another adds a token.
        self._seen = self._seen | {secret}
        self._needles = tuple(sorted(needles - {""}, key=lambda needle: (-len(needle), needle)))

    def add_basic_auth(self, username, password):
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.add(token)

    @property
    def secrets(self):
        """The values added, each masked in every spelling (the DEBUG error page masks them too)."""
        return self._seen

    def text(self, value, limit=None):
        """``value`` with every secret masked; cut to ``limit`` characters after masking, when given."""
        if not value:
            return value
        if not self._needles:
            return value if limit is None else value[:limit]
        if limit is not None:
            # Only what is kept is searched (decoding a megabyte of escapes takes a while), and enough past
            # it that a secret starting before the cut is masked whole: its spellings read here take at most
            # 20 characters a character (a 4-byte UTF-8 character URL-encoded twice).
            value = value[: limit + 24 * len(self._needles[0])]
        masked = self._masked(value)
        return masked if limit is None else masked[:limit]

    def _masked(self, value):
        found, layers = readings(value)
        plain = found[-1]
        spans = []
        for needle in self._needles:
            found = plain.find(needle)
            while found != -1:
                spans.append((found, found + len(needle)))
                found = plain.find(needle, found + len(needle))
        if not spans:
            return value
        for pieces in reversed(layers):
            starts = [piece[0] for piece in pieces]
            spans = [(_where(pieces, starts, start, end=False), _where(pieces, starts, stop - 1, end=True))
                     for start, stop in spans]
        parts, at = [], 0
        for start, stop in sorted(spans):
            if start >= at:
                parts += [value[at:start], MASK]
                at = stop
            elif stop > at:  # overlaps the span masked before: that mask covers both
                at = stop
        parts.append(value[at:])
        return "".join(parts)

    def value(self, value):
        """Redact the strings inside a JSON-like value (a number that spells a secret becomes text)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(key): self.value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, (int, float)) and not isinstance(value, bool) and self._needles:
            redacted = self.text(str(value))
            return value if redacted == str(value) else redacted
        return value
