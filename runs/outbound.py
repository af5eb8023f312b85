"""Builds the request a run sends (request, poll or cancel webhook) from its action.

Placeholders are filled from the run's context; JSON bodies are filled leaf
by leaf; values in URLs are percent-encoded; authentication is applied. The
result is what http.send() sends and, redacted, what the log shows.
"""

import base64
import json
import re
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from urllib3 import encode_multipart_formdata

from integrations.models import AuthType, BodyType
from integrations.templating import BadBaseURL, BlankPathSegment, Context, render_text, render_url, render_value
# The longest timeouts ever applied, whatever a definition saved before they had maxima holds: a socket
# timeout of 1e10 s overflows the platform's clock.
from integrations.validators import MAX_CONNECT_TIMEOUT, MAX_READ_TIMEOUT, check_file_name

from .http import Outbound


@dataclass(frozen=True)
class Part:
    """One request of an action, as defined: the request, its poll or the cancel webhook."""

    method: str
    url: str
    headers: dict
    params: dict
    body_type: str
    body: str
    files: dict = field(default_factory=dict)  # form field -> file name: sent as multipart/form-data


def request_part(action):
    return Part(action.method, action.url, action.headers, action.params, action.body_type, action.body,
                action.files)


def poll_part(action):
    if not action.poll_url:
        base = request_part(action)
        return Part(
            action.poll_method or base.method,
            base.url,
            {**base.headers, **action.poll_headers},
            {**base.params, **action.poll_params},
            action.poll_body_type if action.poll_body else base.body_type,
            action.poll_body or base.body,
        )
    return Part(
        action.poll_method or "GET",
        action.poll_url,
        action.poll_headers,
        action.poll_params,
        action.poll_body_type,
        action.poll_body,
    )


def cancel_part(action):
    body_type = BodyType.JSON if action.cancel_webhook_body else BodyType.NONE
    return Part(action.cancel_webhook_method, action.cancel_webhook_url, {}, {}, body_type, action.cancel_webhook_body)


class BuildError(Exception):
    """A request that cannot be built as defined (the message says why, without the values)."""


def facts(definition, run, attempt=None):
    """What is known of the run, its action and integration: read as {{ run.id }}, and sent as "context"."""
    action, integration = definition.action, definition.integration
    return {
        "run": {
            "id": run.pk,
            "callback_url": run.callback_url,
            "attempt": run.attempt if attempt is None else attempt,
            "rehearsal": run.rehearsal,
        },
        "action": {"id": action.pk, "name": action.name, "slug": action.slug},
        "integration": {"id": integration.pk, "name": integration.name, "slug": integration.slug},
    }


def context_for(definition, run, attempt=None):
    """What placeholders of this run can read (``attempt``: the number of the request being built)."""
    return Context({**run.variables, **run.fields, "secrets": definition.secrets, **facts(definition, run, attempt)})


def build(definition, run, part, *, attempt=None, access_token=None, context=None, files=None):
    """The Outbound for ``part`` of ``run``.

    Raises UnknownPlaceholder naming a missing value, BuildError for a value
    that would break the request (a line break in a header, NaN in JSON) or
    a file to upload that is not there. ``context``: the run's context_for(),
    when the caller has it already. ``files``: the files the run can upload
    ({name: RunFile}, see runs.files.available_files); None only checks that
    the rest can be built, and attaches nothing.
    """
    action, integration = definition.action, definition.integration
    context = context or context_for(definition, run, attempt)

    url = _render_url(part.url, context)
    if not urlsplit(url).scheme and integration.base_url:
        base = _render_url(integration.base_url, context)
        url = base.rstrip("/") + "/" + url.lstrip("/")

    headers = {name: render_text(str(value), context) for name, value in integration.default_headers.items()}
    headers.update({name: render_text(str(value), context) for name, value in part.headers.items()})
    params = {name: render_text(str(value), context) for name, value in part.params.items()}

    body = None
    if part.body_type == BodyType.JSON and part.body:
        value = render_value(json.loads(part.body), context)
        if action.include_context and isinstance(value, dict):
            value["context"] = facts(definition, run, attempt)
        body = _json_bytes(value)
        headers.setdefault("Content-Type", "application/json")
    elif part.body_type == BodyType.FORM and part.body:
        value = render_value(json.loads(part.body), context)
        body = urlencode({key: _form_text(item) for key, item in value.items()}).encode()
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
    elif part.body_type == BodyType.RAW and part.body:
        body = render_text(part.body, context).encode()
    elif action.include_context and part.method in ("POST", "PUT", "PATCH"):
        body = _json_bytes({"context": facts(definition, run, attempt)})
        headers.setdefault("Content-Type", "application/json")

    body_for_log = None
    if part.files and files is not None:
        body, content_type, body_for_log = _multipart(part, body, files, context)
        headers = {name: value for name, value in headers.items() if name.lower() != "content-type"}
        headers["Content-Type"] = content_type

    _authenticate(integration, headers, params, context, access_token)
    _check_headers(headers)
    if params:
        parts = urlsplit(url)
        query = "&".join(item for item in (parts.query, urlencode(params)) if item)
        url = urlunsplit(parts._replace(query=query))

    return Outbound(
        method=part.method,
        url=url,
        headers=headers,
        body=body,
        connect_timeout=min(action.connect_timeout, MAX_CONNECT_TIMEOUT),
        read_timeout=min(action.read_timeout, MAX_READ_TIMEOUT),
        verify=action.verify_tls,
        client_certificate=action.client_certificate,
        use_env_proxy=action.use_env_proxy,
        body_for_log=body_for_log,
    )


def _render_url(text, context):
    try:
        return render_url(text, context)
    except (BlankPathSegment, BadBaseURL) as exc:
        raise BuildError(str(exc)) from None


def _multipart(part, body, files, context):
    """(body, content type, what the log shows) of a multipart/form-data request: the files, and the built
    JSON or form body's top-level fields as form fields (objects and lists as JSON text)."""
    fields = []
    if body and part.body_type == BodyType.FORM:
        fields = parse_qsl(body.decode(), keep_blank_values=True)
    elif body and part.body_type != BodyType.RAW:  # JSON, or only the context
        value = json.loads(body)
        if not isinstance(value, dict):
            raise BuildError("A request that uploads files sends its JSON body's top-level fields as form fields: "
                             "the body must be a JSON object.")
        fields = [(name, _form_text(item)) for name, item in value.items()]
    elif body:
        raise BuildError("A request that uploads files cannot carry a raw body: use a JSON object or form body.")
    summary = ["multipart/form-data"] + [f"field {name!r}: {value}" for name, value in fields]
    for field_name, template in part.files.items():
        name = render_text(template, context)
        try:
            check_file_name(name)
        except ValidationError as exc:
            raise BuildError(f"The file of form field {field_name!r}: {exc.messages[0]}") from None
        stored = files.get(name)
        if stored is None:
            raise BuildError(f"The file {name!r} (form field {field_name!r}) is not among the files of this run "
                             "or of the earlier runs of its chain; the request is not sent.")
        with stored.file.open("rb") as handle:
            data = handle.read()
        content_type = stored.content_type or "application/octet-stream"
        fields.append((field_name, (name, data, content_type)))
        summary.append(f"file {field_name!r}: {name}, {len(data)} bytes, {content_type}")
    body, content_type = encode_multipart_formdata(fields)
    return body, content_type, "\n".join(summary)


def with_access_token(outbound, access_token):
    """``outbound`` carrying an OAuth access token fetched after it was built."""
    return replace(outbound, headers={**outbound.headers, "Authorization": f"Bearer {access_token}"})


def auth_values(integration, context):
    """The integration's authentication fields with their placeholders filled ({{ secrets.PASSWORD }})."""
    return {
        name: render_text(getattr(integration, name), context)
        for name in ("auth_username", "auth_secret", "api_key_name", "oauth_client_id", "oauth_scope")
    }


def _json_bytes(value):
    try:
        return json.dumps(value, allow_nan=False).encode()
    except ValueError:
        raise BuildError("The JSON body would hold NaN or Infinity, which JSON cannot carry.") from None


HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _check_headers(headers):
    """Headers as HTTP allows them, checked once placeholders are filled: a line break would end a
    header and start another. The message never quotes the value (it may be a secret)."""
    for name, value in headers.items():
        if not HEADER_NAME.fullmatch(name):
            # Not cut short: the redactor masks a secret only whole.
            shown = CONTROL.sub("?", name)
            raise BuildError(f"The header name {shown!r} is not a valid HTTP header name (letters, digits and "
                             "!#$%&'*+.^_`|~- only); the request is not sent.")
        if CONTROL.search(value):
            raise BuildError(f"The header {name!r} would hold a line break or another control character once its "
                             "placeholders are filled; the request is not sent.")


def _form_text(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _authenticate(integration, headers, params, context, access_token):
    kind = integration.auth_type
    if kind == AuthType.NONE:
        return
    values = auth_values(integration, context)
    secret = values["auth_secret"]
    if kind == AuthType.BASIC:
        pair = f"{values['auth_username']}:{secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    elif kind == AuthType.BEARER:
        headers["Authorization"] = f"Bearer {secret}"
    elif kind == AuthType.API_KEY_HEADER:
        # The name is filled from placeholders, often a secret: a fault names the field, never the name.
        if not HEADER_NAME.fullmatch(values["api_key_name"]):
            raise BuildError("The integration's API key name is not a valid HTTP header name once its placeholders "
                             "are filled (letters, digits and !#$%&'*+.^_`|~- only); the request is not sent.")
        if CONTROL.search(secret):
            raise BuildError("The integration's API key would hold a line break or another control character once "
                             "its placeholders are filled; the request is not sent.")
        headers[values["api_key_name"]] = secret
    elif kind == AuthType.API_KEY_QUERY:
        params[values["api_key_name"]] = secret
    elif kind in (AuthType.OAUTH2, AuthType.OAUTH2_CODE) and access_token:
        headers["Authorization"] = f"Bearer {access_token}"
