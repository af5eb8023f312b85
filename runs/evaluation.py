"""What a response means: its body parsed, conditions tested, values stored."""

import json
from dataclasses import dataclass

from urllib3 import HTTPHeaderDict

from integrations import safejson
from integrations.conditions import Operator, test
from integrations.models import stop_groups
from integrations.paths import MISSING, Response, resolve
from integrations.templating import render_text

from .xmljson import NotXML, xml_to_json


@dataclass
class Answer:
    """A response ready for paths: status, headers, body parsed (or why it could not be), what was cleaned."""

    response: Response
    text: str
    parse_error: str = ""
    cleaned: str = ""  # text no database can hold, replaced by U+FFFD: where, in words


def read_answer(status, headers, raw, *, convert_xml, truncated=False):
    """``headers``: a mapping whose names ignore case (urllib3's HTTPHeaderDict).

    A third party may answer what nothing here can store or show: NaN,
    1e999 and JSON nested deeper than safejson.MAX_DEPTH make the body "not
    valid JSON" (text for paths, the reason in words); NUL characters and lone
    surrogates (``"\\ud800"``) in the body and headers are replaced by U+FFFD
    so that the run goes on, and ``cleaned`` says where.
    """
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else (raw or "")
    body, error, places = None, "", []
    content_type = (headers.get("Content-Type") or "").lower()
    stripped = text.strip()
    if stripped:
        if convert_xml:
            try:
                body = xml_to_json(text)
            except NotXML as exc:
                body, error = text, str(exc)
        elif "json" in content_type or stripped[:1] in ("{", "["):
            try:
                body = safejson.loads(text, text_faults=False)
            except safejson.Fault as fault:
                body, error = text, f"The response is not valid JSON: {fault}"
        else:
            body, error = text, f"The response is not JSON (Content-Type {content_type or 'not given'})."
        if error and truncated:
            error += " It was cut at the size limit."
        if safejson.may_hold_unstorable(text):
            body, places = safejson.cleaned(body)
    headers, header_places = _cleaned_headers(headers)
    places = [safejson.describe_path(place) or "the body" for place in places] + header_places
    cleaned = ""
    if places:
        listed = ", ".join(places[:5]) + (f" and {len(places) - 5} more" if len(places) > 5 else "")
        cleaned = (f"The answer held NUL characters or lone surrogates, which cannot be stored: replaced by "
                   f"U+FFFD in {listed}.")
    # @text reads the body as received; what no database can store is replaced there too (it may be stored).
    readable = safejson.clean_text(text) if places or safejson.may_hold_unstorable(text) else text
    return Answer(Response(status=status, headers=headers, body=body, text=readable), text, error, cleaned)


def _cleaned_headers(headers):
    """(``headers``, or a copy with their unstorable text replaced; the names of the headers replaced)."""
    if not any(safejson.unstorable(f"{name}{value}") for name, value in headers.items()):
        return headers, []
    copy, places = HTTPHeaderDict(), []
    for name, value in headers.items():
        if safejson.unstorable(f"{name}{value}"):
            name, value = safejson.clean_text(name), safejson.clean_text(value)
            places.append(f"the header {name}")
        copy.add(name, value)
    return copy, places


def describe(found, redactor=None):
    if found is MISSING:
        return "nothing"
    text = json.dumps(found, default=str)
    if redactor is not None:
        text = redactor.text(text)  # before the cut, which could leave the start of a secret unmasked
    return text if len(text) <= 200 else text[:200] + "…"


def stop_decision(rows, answer, context, redactor=None):
    """(the StopGroup that matched or None, fields to store, decision in words; ``redactor`` masks secrets).

    Every row's value found is stored in its target field; then the groups are
    tried in order and the first whose rows all match decides.
    """
    stored, found = {}, {}
    for row in rows:
        found[id(row)] = resolve(row.path, answer.response)
        if row.target_field and found[id(row)] is not MISSING:
            stored[row.target_field] = found[id(row)]
    for group in stop_groups(rows):
        checks = []
        for row in group.rows:
            expected = render_text(row.value, context)
            if not test(row.operator, found[id(row)], expected):
                break
            checks.append(f"{row.path} {Operator(row.operator).label} {expected!r} matched "
                          f"(found {describe(found[id(row)], redactor)})")
        else:
            prefix = f"Group {group.number}: " if len(group.rows) > 1 else ""
            return group, stored, f"{prefix}{' and '.join(checks)}: {group.outcome}."
    if not rows:
        return None, stored, ""
    by_path = {}
    for row in rows:
        by_path.setdefault(row.path, found[id(row)])
    seen = [f"{path} = {describe(value, redactor)}" for path, value in by_path.items()]
    return None, stored, f"No stop condition matched ({', '.join(seen[:3])}{', …' if len(seen) > 3 else ''})."


def unmet_conditions(rows, answer, context, redactor=None):
    """The continue_if rows the answer does not meet, described in words (``redactor``'s secrets masked)."""
    unmet = []
    for row in rows:
        found = resolve(row.path, answer.response)
        expected = render_text(row.value, context)
        if not test(row.operator, found, expected):
            unmet.append(f"{row.path} {Operator(row.operator).label} {expected!r} (found {describe(found, redactor)})")
    return unmet


def mapped_fields(mappings, answer):
    """(fields found, paths that found nothing, those of them that are required: each "field <- path")."""
    stored, missing, required = {}, [], []
    for mapping in mappings:
        found = resolve(mapping.path, answer.response)
        if found is MISSING:
            missing.append(f"{mapping.field} <- {mapping.path}")
            if getattr(mapping, "required", False):
                required.append(missing[-1])
        else:
            stored[mapping.field] = found
    return stored, missing, required
