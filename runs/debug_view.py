"""What the Debug view shows of one exchange: both sides laid out, bodies pretty-printed, the side at fault,
and the request as a cURL command.

Exchanges are stored redacted (secrets already ``***``), so nothing here can
show a secret; the cURL command keeps the ``***`` for the person to fill in.
"""

import json
import re
import shlex
from dataclasses import dataclass, field
from xml.dom import minidom
from xml.parsers.expat import ExpatError

from django.conf import settings
from django.template.defaultfilters import filesizeformat

from integrations import safejson

from .models import ExchangeKind, FailedPart

LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class Body:
    text: str
    language: str = "text"  # json, xml or text

    @property
    def pretty(self):
        return self.language != "text"


@dataclass
class Side:
    headers: list = field(default_factory=list)
    body: Body = None
    failed: bool = False
    notes: list = field(default_factory=list)


def header_value(headers, name):
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return ""


def pretty_body(text, content_type=""):
    """The body indented when it is JSON or XML (and parses as such); else as it was."""
    if not text:
        return Body("")
    content_type = content_type.lower()
    start = text.lstrip()[:1]
    if start in ("{", "[") or "json" in content_type:
        try:
            value = safejson.loads(text, text_faults=False)
        except safejson.Fault:
            pass  # shown as it came, not indented: too deep, 1e999, or not JSON
        else:
            # A lone surrogate cannot be written into the page: it is shown as the escape the service sent.
            pretty = LONE_SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}",
                                        json.dumps(value, indent=2, ensure_ascii=False))
            return Body(pretty, "json")
    if start == "<" and "html" not in content_type:
        pretty = pretty_xml(text)
        if pretty is not None:
            return Body(pretty, "xml")
    return Body(text)


def pretty_xml(text):
    """Indented XML, or None. A document with a DOCTYPE is left alone: no entity is ever expanded here."""
    if "<!doctype" in text.lower() or "<!entity" in text.lower():
        return None
    try:
        document = minidom.parseString(text.encode("utf-8"))
        _drop_blank_text(document)
        pretty = document.toprettyxml(indent="  ")
    except (ExpatError, ValueError, RecursionError):  # minidom walks the tree recursively: deep XML stays text
        return None
    if not text.lstrip().startswith("<?xml"):
        pretty = pretty.split("\n", 1)[1] if pretty.startswith("<?xml") else pretty
    return pretty.strip()


def _drop_blank_text(node):
    for child in list(node.childNodes):
        if child.nodeType == child.TEXT_NODE and not child.data.strip():
            node.removeChild(child)
        else:
            _drop_blank_text(child)


def size_notes(exchange):
    """Why the response body shown may not be all of it, or not what it looked like."""
    notes = []
    body = exchange.response_body
    if body.count("\ufffd") > max(len(body) // 100, 1):
        notes.append("This body is not UTF-8 text (binary?): bytes that are not text show as \ufffd.")
    if exchange.response_truncated:
        note = f"The log keeps the first {len(body):,} characters of this body"
        size = exchange.response_size
        encoding = header_value(exchange.response_headers, "Content-Encoding")
        if size is not None:
            if encoding.strip().lower() not in ("", "identity"):
                # Its size on the wire says nothing of what it decompresses to: the size noted is what was read.
                note += f"; it came {encoding}-compressed, and {filesizeformat(size)} were read"
            else:
                note += f"; {filesizeformat(size)} were received"
            if size > settings.INTEGRATIONS_MAX_RESPONSE_BYTES:
                note += (f" (reading stopped at {filesizeformat(settings.INTEGRATIONS_MAX_RESPONSE_BYTES)}, "
                         "INTEGRATIONS_MAX_RESPONSE_BYTES)")
        notes.append(note + ".")
    return notes


def describe(exchange, *, verify_tls=True):
    """Both sides of ``exchange`` for the Debug view, and which of them failed.

    ``verify_tls``: whether its action verifies the service's certificate (the cURL command then does too).
    """
    callback = exchange.kind == ExchangeKind.CALLBACK
    request = Side(
        headers=list(exchange.request_headers.items()),
        body=pretty_body(exchange.request_body, header_value(exchange.request_headers, "Content-Type")),
        failed=exchange.failed_part == FailedPart.REQUEST,
    )
    response = Side(
        headers=list(exchange.response_headers.items()),
        body=pretty_body(exchange.response_body, header_value(exchange.response_headers, "Content-Type")),
        failed=exchange.failed_part == FailedPart.RESPONSE,
        notes=size_notes(exchange),
    )
    if not exchange.sent:
        request.notes.append("Not sent: a rehearsal logs what it would send.")
    if callback:
        request.notes.append("Posted to this run's callback URL by the service; the run does not answer it.")
    elif exchange.status_code is None and exchange.sent:
        response.notes.append(f"No response: {exchange.error}" if exchange.error else "No response was received.")
    return {
        "request": request,
        "response": response,
        "callback": callback,
        "failed": exchange.failed_part,
        "curl": "" if callback or not exchange.url else as_curl(exchange, verify_tls=verify_tls),
    }


def as_curl(exchange, *, verify_tls=True):
    """The request as a runnable cURL command; secrets stay ``***`` (the log never had them)."""
    # --globoff: curl would read [] and {} in the URL as ranges and sets of URLs to request (a ${IFS} became
    # a set); -k: an action that does not verify TLS sent its request without verifying either.
    first = ["curl", "--globoff"] + ([] if verify_tls else ["-k"])
    if exchange.method == "HEAD":
        first.append("--head")  # -X HEAD would wait for a body that never comes
    elif exchange.method and (exchange.method != "GET" or exchange.request_body):
        first += ["-X", exchange.method]
    first.append(exchange.url)
    lines = [" ".join(shlex.quote(word) for word in first)]
    lines += [f"-H {shlex.quote(f'{name}: {value}')}" for name, value in exchange.request_headers.items()]
    if exchange.request_body:
        lines.append(f"--data-raw {shlex.quote(exchange.request_body)}")
    return " \\\n  ".join(lines)
