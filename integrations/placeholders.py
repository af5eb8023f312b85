"""Which names a definition's placeholders may use; checked when the definition is saved.

A placeholder must name something every run of the action can fill: a
declared input, a field stored by a response mapping or a stop condition (or
a dotted path below one of those, e.g. ``job.id``), a secret of the
integration (``secrets.NAME``) or a run fact. Anything else is a field-level
error when the definition is saved, not a surprise at run time.

The integration's own fields (base URL, default headers, authentication)
serve every action, so they may use only what every run has: secrets and run
facts.
"""

import difflib
from dataclasses import dataclass

from .templating import NAME, placeholder_names

# What the engine puts in every run's context besides inputs, fields and secrets.
RUN_FACTS = (
    "run.id",
    "run.callback_url",
    "run.attempt",
    "run.rehearsal",
    "action.id",
    "action.name",
    "action.slug",
    "integration.id",
    "integration.name",
    "integration.slug",
)
# Top-level names taken by secrets and run facts: an input or field cannot have them.
RESERVED = ("secrets", "run", "action", "integration")

ACTION_FIELDS = (
    "url",
    "headers",
    "params",
    "body",
    "poll_url",
    "poll_headers",
    "poll_params",
    "poll_body",
    "cancel_webhook_url",
    "cancel_webhook_body",
    "save_as_file",
    "files",
)
INTEGRATION_FIELDS = (
    "base_url",
    "default_headers",
    "auth_username",
    "auth_secret",
    "api_key_name",
    "oauth_authorize_url",
    "oauth_token_url",
    "oauth_client_id",
    "oauth_scope",
)


@dataclass(frozen=True)
class Names:
    """The names placeholders may use in one place of a definition."""

    inputs: tuple = ()
    fields: tuple = ()
    secrets: tuple = ()
    integration_level: bool = False

    def fills(self, name):
        head, _, rest = name.partition(".")
        if head == "secrets":
            return rest in self.secrets
        if head in RESERVED:
            return name in RUN_FACTS
        return head in self.inputs or head in self.fields

    def describe(self):
        parts = []
        if self.inputs:
            parts.append("inputs " + ", ".join(self.inputs))
        if self.fields:
            parts.append("stored fields " + ", ".join(self.fields))
        parts.append(", ".join(f"secrets.{name}" for name in self.secrets) if self.secrets else "no secrets")
        parts.append(", ".join(RUN_FACTS))
        text = "Available: " + "; ".join(parts) + "."
        if self.integration_level:
            text += " An action's inputs and stored fields cannot be used here: put such a header in the action."
        return text

    def suggestion(self, name):
        known = [*self.inputs, *self.fields, *(f"secrets.{secret}" for secret in self.secrets), *RUN_FACTS]
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
        return close[0] if close else None


def available_names(*, inputs=(), fields=(), secrets=()):
    """The Names of an action: its inputs, the fields its mappings and stop conditions store, its integration's
    secrets (each an iterable of names)."""
    return Names(_unique(inputs), _unique(fields), _unique(secrets))


def integration_names(*, secrets=()):
    """The Names an integration's own fields may use: its secrets and the run facts."""
    return Names(secrets=_unique(secrets), integration_level=True)


def unknown_placeholders(value, names):
    """A message naming each placeholder in ``value`` (text, or parsed JSON) that ``names`` cannot fill; or ""."""
    unknown = [name for name in _unique(_names_in(value)) if NAME.fullmatch(name) and not names.fills(name)]
    if not unknown:
        return ""
    listed = ", ".join(f"{{{{ {name} }}}}" for name in unknown)
    verb = "names nothing that can fill it" if len(unknown) == 1 else "name nothing that can fill them"
    hints = [
        f"Did you mean {{{{ {suggestion} }}}}?"
        for suggestion in (names.suggestion(name) for name in unknown)
        if suggestion
    ]
    return " ".join([f"{listed} {verb}.", *hints, names.describe()])


def check_action_placeholders(action, names):
    """{field: [message]} for each of the action's own fields with a placeholder ``names`` cannot fill.

    Condition values live on rows: check each with unknown_placeholders().
    """
    return _check(action, ACTION_FIELDS, names)


def action_placeholder_errors(action, *, inputs, fields, secrets, stop_values=(), continue_values=(), carried=None):
    """Placeholders of an action being saved that nothing can fill, checked against the rows saved with it.

    ``inputs``, ``fields`` and ``secrets`` are the names the action will have
    (its inputs, the fields its mappings and stop conditions store, its
    integration's secrets); ``stop_values`` and ``continue_values`` the value
    of each stop and continue condition row, in order. Returns ``(errors, rows)``:
    {field: [message]} for the action's own fields, and {"stop_conditions" or
    "continue_conditions": {row index: message}}. The admin, the API and
    Action.placeholder_errors() all check with this.

    A run of a chain carries the variables and fields of the runs before it:
    ``carried`` (input names, field names), or by default those of the saved
    actions that lead to a saved action (an import gives its document's).
    """
    if carried is None and action.pk:
        carried = action.carried_names()
    if carried:
        inputs, fields = [*inputs, *carried[0]], [*fields, *carried[1]]
    names = available_names(inputs=inputs, fields=fields, secrets=secrets)
    errors = check_action_placeholders(action, names)
    rows = {}
    for key, values in (("stop_conditions", stop_values), ("continue_conditions", continue_values)):
        for index, value in enumerate(values):
            message = unknown_placeholders(value, names)
            if message:
                rows.setdefault(key, {})[index] = message
    return errors, rows


def check_integration_placeholders(integration, names):
    """{field: [message]} for each of the integration's own fields with a placeholder ``names`` cannot fill."""
    return _check(integration, INTEGRATION_FIELDS, names)


def _check(instance, fields, names):
    errors = {}
    for field in fields:
        message = unknown_placeholders(getattr(instance, field), names)
        if message:
            errors[field] = [message]
    return errors


def _names_in(value):
    if isinstance(value, str):
        yield from placeholder_names(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _names_in(key)
            yield from _names_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _names_in(item)


def _unique(items):
    return tuple(dict.fromkeys(item for item in items if item))
