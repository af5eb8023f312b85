"""What Django's error reports may show: no secret, with DEBUG on as well.

Django filters sensitive POST parameters and decorated variables only when
DEBUG is off, and knows nothing of our objects: an integration holds its
secrets decrypted, an action its client certificate, the engine's
definitions, redactors and placeholder contexts hold them all, and a frame
of the traceback may hold any of them, or a string made from them. A
development site (``./run.sh`` runs with DEBUG on) still holds real
secrets, and its error page is easily shared or shown to whoever caused it.

So, for the technical 500 page and the reports mailed or logged:
- the filter masks variables and keys by name, as Django masks settings
  (``secret``, ``token``, ``auth_secret``, ``Authorization``, ...);
- the reporter collects every secret the objects in the traceback know
  (some typed and not yet saved) and every one the database keeps
  encrypted, and masks each, in the forms it takes on a page, in every
  frame's variables and then in the whole page.
"""

import dataclasses
import html
import json
import re
import sys
from collections import deque
from pprint import pformat

from django.apps import apps
from django.db.models import Model
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

MASK = SafeExceptionReporterFilter.cleansed_substitute
MIN_LENGTH = 3  # as the Redactor: shorter values would mask ordinary text without protecting anything
MIN_LINE = 8  # a line of a multi-line secret (a PEM key's) is masked on its own when at least this long
WALK_LIMIT = 20_000  # objects looked at per report: bounded, whatever the frames hold


class SecretsHiddenFilter(SafeExceptionReporterFilter):
    """Hide sensitive POST parameters, settings and variables, with DEBUG on as well; variables also by name."""

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CERT|CREDENTIAL|PRIVATE", flags=re.I
    )

    def is_active(self, request):
        return True

    def get_traceback_frame_variables(self, request, tb_frame):
        cleansed = []
        for name, value in super().get_traceback_frame_variables(request, tb_frame):
            try:
                cleansed.append((name, self.cleanse_setting(name, value)))
            except RecursionError:  # a value nested too deep to walk: not shown at all
                cleansed.append((name, "(too deeply nested to show)"))
        return cleansed


class SecretsHiddenReporter(ExceptionReporter):
    """Django's reporter, with every secret the traceback's objects know masked wherever it would appear."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.needles = needles(secrets_in_traceback(self.exc_value, self.tb))

    def get_traceback_frames(self):
        frames = super().get_traceback_frames()
        for frame in frames:
            if "vars" in frame:
                # Masked before Django trims long values, so that no prefix of a secret survives a cut.
                frame["vars"] = [(name, _Shown(self.mask(_formatted(value)))) for name, value in frame["vars"]]
        return frames

    def get_traceback_html(self):
        return self.mask(super().get_traceback_html(), escaped=True)

    def get_traceback_text(self):
        return self.mask(super().get_traceback_text())

    def mask(self, text, *, escaped=False):
        for needle in self.needles:
            text = text.replace(needle, MASK)
            if escaped:
                text = text.replace(html.escape(needle), MASK)
        return text


class _Shown:
    """A frame variable already formatted (and masked): Django's pprint shows it as it is."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


def _formatted(value):
    try:
        # One line: pprint would split a long string across lines, and a secret with it.
        return pformat(value, width=sys.maxsize)
    except Exception as exc:  # as Django's pprint filter: a repr that fails is a report, not a second fault
        return f"Error in formatting: {exc.__class__.__name__}: {exc}"


def needles(secrets):
    """Each secret in the forms it takes on a report: as is, in a repr, JSON-escaped; long lines on their own."""
    found = set()
    for secret in secrets:
        forms = {secret, repr(secret)[1:-1], json.dumps(secret)[1:-1]}
        forms |= {line.strip() for line in secret.splitlines() if len(line.strip()) >= MIN_LINE}
        found |= {form for form in forms if len(form) >= MIN_LENGTH}
    return sorted(found, key=len, reverse=True)  # longest first, so a secret that contains another goes whole


def secrets_in_traceback(exc_value, tb):
    """The secret values known to the objects in the frames of ``tb`` and of the exceptions chained to it."""
    frames = []
    seen_exceptions = set()
    while exc_value is not None and id(exc_value) not in seen_exceptions:
        seen_exceptions.add(id(exc_value))
        frames += _frames(exc_value.__traceback__)
        exc_value = exc_value.__cause__ or exc_value.__context__
    frames += _frames(tb)
    return secrets_in([frame.f_locals for frame in frames])


def _frames(tb):
    while tb is not None:
        yield tb.tb_frame
        tb = tb.tb_next


def secrets_in(roots):
    """The secret values known to the objects reachable from ``roots``, and every one the database keeps."""
    secrets = set()
    seen, queue = set(), deque(roots)
    while queue and len(seen) < WALK_LIMIT:
        item = queue.popleft()
        if isinstance(item, (str, bytes, int, float, bool, type(None))) or id(item) in seen:
            continue
        seen.add(id(item))
        try:
            found, children = _known_to(item)
        except Exception:  # an object that cannot be looked into holds nothing we made
            continue
        secrets |= found
        queue.extend(children)
    # A secret may have reached the page through a string alone (an exception's message), its object gone.
    secrets |= _stored_secrets()
    return {secret for secret in secrets if isinstance(secret, str) and secret}


def _known_to(item):
    """(the secrets ``item`` holds itself, what it refers to)."""
    from integrations.templating import Context
    from runs.definitions import Definition
    from runs.redaction import Redactor

    if isinstance(item, Model):
        # An integration's auth secret, a secret's value, a client certificate, an OAuth token: decrypted
        # in memory, perhaps typed and not yet saved.
        secrets = {getattr(item, field.attname, "") for field in _encrypted_fields(type(item))}
        return secrets, _children(item)
    if isinstance(item, Redactor):
        return set(item.secrets), []
    if isinstance(item, Definition):
        return set(item.secrets.values()), _children(item)
    if isinstance(item, Context):
        return set(), [item.values]
    if isinstance(item, dict) and isinstance(item.get("secrets"), dict):  # a context's values
        return {value for value in item["secrets"].values() if isinstance(value, str)}, _children(item)
    return set(), _children(item)


def _encrypted_fields(model):
    from integrations.crypto import EncryptedTextField

    return [field for field in model._meta.concrete_fields if isinstance(field, EncryptedTextField)]


def _children(item):
    """What ``item`` refers to, for the walk: items of containers, fields of dataclasses, attributes of objects."""
    if isinstance(item, dict):
        return list(item.values())
    if isinstance(item, (list, tuple, set, frozenset, deque)):
        return list(item)
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return [getattr(item, field.name, None) for field in dataclasses.fields(item)]
    if isinstance(item, Model):
        # Related objects already loaded (run.integration) and prefetched rows (integration.secrets).
        children = list(item._state.fields_cache.values())
        for prefetched in getattr(item, "_prefetched_objects_cache", {}).values():
            children += list(prefetched._result_cache or [])
        return children
    attributes = getattr(item, "__dict__", None)
    return list(attributes.values()) if isinstance(attributes, dict) else []


def _stored_secrets():
    """Every value the database keeps encrypted: secrets, auth secrets, client certificates, OAuth tokens."""
    found = set()
    for model in apps.get_models():
        names = [field.attname for field in _encrypted_fields(model)]
        if not names:
            continue
        try:
            for row in model._default_manager.values_list(*names):
                found.update(row)
        except Exception:  # the database may be what failed; what the objects in memory know is masked all the same
            continue
    return found
