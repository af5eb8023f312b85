"""What a response means: its body parsed, conditions tested, values stored."""

import json
from dataclasses import dataclass

from integrations.conditions import Operator, test
from integrations.paths import MISSING, Response, resolve
from integrations.templating import render_text

from .xmljson import NotXML, xml_to_json


@dataclass
class Answer:
    """A response ready for paths: status, headers, body parsed (or why it could not be)."""

    response: Response
    text: str
    parse_error: str = ""


def read_answer(status, headers, raw, *, convert_xml, truncated=False):
    """``headers``: a mapping whose names ignore case (urllib3's HTTPHeaderDict)."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else (raw or "")
    body, error = None, ""
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
                body = json.loads(text, parse_constant=_refuse_constant)
            except json.JSONDecodeError as exc:
                body, error = text, f"The response is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            except ValueError as exc:
                body, error = text, f"The response is not valid JSON: {exc}"
        else:
            body, error = text, f"The response is not JSON (Content-Type {content_type or 'not given'})."
        if error and truncated:
            error += " It was cut at the size limit."
    return Answer(Response(status=status, headers=headers, body=body), text, error)


def _refuse_constant(name):
    # Python reads NaN and Infinity; JSON has neither, and no database column stores them.
    raise ValueError(f"{name} is not a JSON value.")


def describe(found):
    if found is MISSING:
        return "nothing"
    text = json.dumps(found, default=str)
    return text if len(text) <= 200 else text[:200] + "…"


def stop_decision(rows, answer, context):
    """(matched row or None, fields to store, decision in words)."""
    stored, matched, notes = {}, None, []
    for row in rows:
        found = resolve(row.path, answer.response)
        if row.target_field and found is not MISSING:
            stored[row.target_field] = found
        if matched is None:
            expected = render_text(row.value, context)
            if test(row.operator, found, expected):
                matched = row
                notes.append(
                    f"{row.path} {Operator(row.operator).label} {expected!r} matched "
                    f"(found {describe(found)}): {row.outcome}."
                )
    if matched is None and rows:
        seen = ", ".join(f"{row.path} = {describe(resolve(row.path, answer.response))}" for row in rows[:3])
        notes.append(f"No stop condition matched ({seen}).")
    return matched, stored, " ".join(notes)


def unmet_conditions(rows, answer, context):
    """The continue_if rows the answer does not meet, described in words."""
    unmet = []
    for row in rows:
        found = resolve(row.path, answer.response)
        expected = render_text(row.value, context)
        if not test(row.operator, found, expected):
            unmet.append(f"{row.path} {Operator(row.operator).label} {expected!r} (found {describe(found)})")
    return unmet


def mapped_fields(mappings, answer):
    """(fields found, paths that found nothing)."""
    stored, missing = {}, []
    for mapping in mappings:
        found = resolve(mapping.path, answer.response)
        if found is MISSING:
            missing.append(f"{mapping.field} <- {mapping.path}")
        else:
            stored[mapping.field] = found
    return stored, missing
