"""An action's definition as the engine uses it, loaded once per process and change.

Polling reads the same definition thousands of times; loading its
conditions, mappings and secrets on every poll would cost more queries than
the poll itself. A snapshot is kept per process, keyed by the action's and
the integration's ``updated_at``, which every change to them or their rows
moves forward.
"""

import threading
from dataclasses import dataclass

from integrations.templating import Context, UnknownPlaceholder
from integrations.validators import parse_statuses

from .redaction import Redactor

_cache = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Definition:
    action: object
    integration: object
    stop_conditions: tuple
    continue_conditions: tuple
    request_mappings: tuple
    result_mappings: tuple
    secrets: dict
    accepted: tuple
    redactor: Redactor

    def accepts(self, status):
        return any(low <= status <= high for low, high in self.accepted)

    @property
    def needs_body(self):
        rows = self.stop_conditions + self.continue_conditions + self.request_mappings + self.result_mappings
        return any(not row.path.strip().startswith(("@status", "@headers", "@text")) for row in rows)


def definition_for(action, integration=None):
    """The snapshot for ``action`` (whose integration may be passed to save a query)."""
    integration = integration or action.integration
    key = (action.pk, action.updated_at, integration.pk, integration.updated_at)
    found = _cache.get(action.pk)
    if found and found[0] == key:
        return found[1]
    definition = _load(action, integration)
    with _lock:
        _cache[action.pk] = (key, definition)
    return definition


def definitions_for(runs):
    """The snapshot of each run's action, by action id.

    One small query reads the actions' change stamps; only an action that
    changed since its snapshot was taken is loaded again, whole.
    """
    from integrations.models import Action

    stamps = Action.objects.filter(pk__in={run.action_id for run in runs}).values_list(
        "pk", "updated_at", "integration_id", "integration__updated_at"
    )
    found, stale = {}, []
    for key in stamps:
        cached = _cache.get(key[0])
        if cached and cached[0] == key:
            found[key[0]] = cached[1]
        else:
            stale.append(key[0])
    for action in Action.objects.filter(pk__in=stale).select_related("integration"):
        found[action.pk] = definition_for(action, action.integration)
    return found


def _load(action, integration):
    from integrations.models import MappingSource

    from .outbound import auth_values

    secrets = {secret.name: secret.value for secret in integration.secrets.all()}
    redactor = Redactor(integration.secret_values())
    if integration.auth_type == "basic" and integration.auth_secret:
        redactor.add_basic_auth(integration.auth_username, integration.auth_secret)
        # The usual case of placeholders there: filled from secrets alone ({{ secrets.PASSWORD }}).
        try:
            values = auth_values(integration, Context({"secrets": secrets}))
        except UnknownPlaceholder:
            pass  # filled from a run's values: masked when that run's request is built
        else:
            redactor.add(values["auth_secret"])
            redactor.add_basic_auth(values["auth_username"], values["auth_secret"])
    if action.client_certificate:
        redactor.add(action.client_certificate)
    mappings = list(action.mappings.all())
    return Definition(
        action=action,
        integration=integration,
        stop_conditions=tuple(action.stop_conditions.all()),
        continue_conditions=tuple(action.continue_conditions.all()),
        request_mappings=tuple(m for m in mappings if m.source == MappingSource.REQUEST),
        result_mappings=tuple(m for m in mappings if m.source == MappingSource.RESULT),
        secrets=secrets,
        accepted=tuple(parse_statuses(action.accepted_statuses)),
        redactor=redactor,
    )
