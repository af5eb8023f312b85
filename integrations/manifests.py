"""ChiefOnboarding integration manifests: their requests become a chain of actions of one integration.

A manifest's ``execute`` list (and its ``revoke`` list, as a second chain)
is turned into an integration document of our own (the shape
export_integration writes), which transfer.import_integration then checks
and writes like any other: nothing is written unless everything is right.

How a manifest's parts map onto ours:

- ``initial_data_form`` values (the integration's settings, tokens) become
  secrets, read as ``{{ secrets.ID }}``; their values are given at import.
- ``store_data`` becomes response mappings: the value is a stored field,
  read by later steps as ``{{ NAME }}`` as in ChiefOnboarding.
- Any other placeholder (``{{ email }}``, ``{{ first_name }}``, an
  ``extra_user_info`` id) is a variable of the run: every step declares the
  variables the chain uses, so the first asks for them and the next carry them.
- ``headers`` of a step replace the manifest's ``headers`` (as in
  ChiefOnboarding); an ``Authorization: Basic user:password`` header, which
  ChiefOnboarding encodes when it sends it, becomes the integration's Basic
  authentication.
- ``polling`` {interval, amount} with ``continue_if`` repeats the step's own
  request (the first answer counts) until ``continue_if`` matches: a success
  stop condition and an attempt limit of ``amount``; ``continue_if`` alone
  is a continue-if row (the answer must match, or the run fails).
- ``status_code`` is the accepted statuses; ``save_as_file`` and ``files``
  keep their meaning.

- ``form`` items (what a person fills for each hire) are the chain's inputs:
  an item's name is the input's label, a choice item's fixed items its
  choices; the run's variables fill them.

- ``exists`` (does a person have an account) is an action of its own,
  ``exists``: its run succeeds when the answer's text contains ``expected``
  and fails (continue_if not met) when it does not.

Whatever cannot be expressed so (OAuth, notifications, Django template
tags and filters other than default) is refused, naming it.
"""

import json
import re

from django.conf import settings
from django.utils.text import slugify

from .models import Integration
from .templating import NAME, NO_DEFAULT, PLACEHOLDER, parse_placeholder

EXECUTE_KEYS = {"url", "data", "method", "headers", "store_data", "continue_if", "polling", "save_as_file", "files",
                "status_code", "cast_data_to_json", "expected"}
REVOKE_KEYS = {"url", "data", "method", "headers", "status_code", "cast_data_to_json", "expected"}
# What an imported step accepts without "status_code": every status, as ChiefOnboarding (its requests are checked
# against status_code only when one is given; requests' raise_for_status is not called).
ANY_STATUS = "100-599"
METHODS = {"HEAD", "GET", "POST", "PUT", "PATCH", "DELETE"}
UNSUPPORTED = {
    "oauth": "OAuth (ChiefOnboarding's authorization-code sign-in) has no counterpart here; an integration "
             "authenticates with Basic, a bearer token, an API key or OAuth client credentials",
    "post_execute_notification": "notifications after a run (\"post_execute_notification\") are not sent by "
                                 "this product",
}
KNOWN = {"execute", "revoke", "headers", "initial_data_form", "extra_user_info", "form", "exists", *UNSUPPORTED}
EXISTS_KEYS = {"url", "method", "headers", "expected", "status_code", "fail_when_4xx_response_code", "data",
               "cast_data_to_json"}
ITEM_UNSUPPORTED = {
    "extra_headers": "\"extra_headers\" (ChiefOnboarding's Pritunl signing) has no counterpart here",
}
# The parts of ChiefOnboarding's user-sync manifests (they import or sync users on a schedule).
USER_SYNC_KEYS = ("action", "schedule", "data_from", "data_structure", "next_page", "next_page_token_from",
                  "next_page_token")
# {{ responses.N.path }}: the answer to request N (from 0) of the chain, kept as a field of that step's run.
RESPONSES = re.compile(r"responses\.(\d+)((?:\.[A-Za-z0-9_-]+)*)")
RESPONSE_FIELD = "responses_{}"
# Placeholders ChiefOnboarding fills for its OAuth flow.
OAUTH_NAMES = {"redirect_url", "access_token", "refresh_token", "oauth"}


# Parts that are objects of settings: one whose settings are all empty holds nothing (ChiefOnboarding's builder
# writes ``"exists": {"url": "", "method": "GET", "expected": "", "fail_when_4xx_response_code": true}`` when
# there is no check: a method and flags alone say nothing). Other parts (data, store_data) are empty only when
# they are {} or []: ``{"note": ""}`` is a body, ``{"ALL": ""}`` a mapping of the whole answer.
SETTINGS_PARTS = {"exists", "oauth", "polling", "continue_if"}


def empty(value, settings_part=False):
    """Whether a part of a manifest holds nothing: null, "", [], {} (or a SETTINGS_PARTS object of such)."""
    if value is None or value == "" or value == [] or value == {}:
        return True
    if settings_part and isinstance(value, dict):
        return all(empty(item) or isinstance(item, bool) or key == "method" for key, item in value.items())
    return False


def _without_empty(part):
    """``part`` (an object) without its empty entries: an empty part is nothing, as in ChiefOnboarding."""
    if not isinstance(part, dict):
        return part
    return {key: value for key, value in part.items() if not empty(value, key in SETTINGS_PARTS)}


class ManifestRefused(Exception):
    """The manifest was not imported; ``faults`` names each part it could not express, in words."""

    def __init__(self, faults):
        self.faults = faults
        super().__init__("\n".join(faults))


class _Converter:
    def __init__(self, manifest):
        self.manifest = manifest
        self.faults = []
        self.secret_ids = set()
        self.variables = []  # of the chain being converted, in the order they are first used
        self.basic_auth = set()
        self.form = {}  # the form's items as inputs, by id
        self.needed = set()
        self.responses_read = set()
        self.number = 0

    def read_form(self, form):
        """The ``form`` items (what a person fills for each hire) as the chains' inputs: an item's name is the
        input's label, a choice item's fixed items its choices (their ids, the values sent)."""
        if not isinstance(form, list):
            self.fault("form", "must be a list of items ({\"id\": ..., \"name\": ..., \"type\": \"input\" or "
                               "\"choice\"})")
            return
        for number, item in enumerate(form, start=1):
            where = f"form #{number}"
            ident = item.get("id") if isinstance(item, dict) else None
            if not isinstance(ident, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ident):
                self.fault(where, "its id must be a name of letters, digits and underscores (it becomes an input)")
                continue
            if ident in self.secret_ids or ident in self.form:
                self.fault(where, f"the id {ident} is used twice (form and initial_data_form ids name one value)")
                continue
            label = str(item.get("name") or "").strip()[:200]
            row = {"name": ident, "label": label, "required": True}
            choices = item.get("items") if str(item.get("type", "")).lower() == "choice" else None
            if choices:
                values = [str(choice.get("id", "")).strip() if isinstance(choice, dict) else str(choice).strip()
                          for choice in choices] if isinstance(choices, list) else [""]
                if not all(values) or any("," in value for value in values):
                    self.fault(f"{where} items", "each choice needs an id without commas (the value sent)")
                    continue
                row["choices"] = ",".join(values)
            self.form[ident] = row

    def fault(self, where, message):
        self.faults.append(f"{where}: {message}." if where else f"{message}.")

    # --- placeholders ------------------------------------------------------------------------------------

    def text(self, value, where, stored):
        """``value`` with ChiefOnboarding's placeholders written as ours."""
        if not isinstance(value, str):
            return value
        if "{%" in value or "{#" in value:
            self.fault(where, "Django template tags ({% ... %}) and comments cannot be expressed; "
                              "only {{ name }} placeholders")
            return value

        def replace(match):
            inner, default = parse_placeholder(match.group(1))
            if "|" in inner:
                self.fault(where, f"the template filter in {match.group(0)} cannot be expressed; "
                                  "only {{ name }} placeholders and the default filter ({{ name|default:'N/A' }})")
                return match.group(0)
            # The default filter is kept as written; a name used only with one is an input that may be left out.
            tail = match.group(1).strip()[match.group(1).strip().index("|"):] if default is not NO_DEFAULT else ""
            if not NAME.fullmatch(inner):
                self.fault(where, f"{match.group(0)} is not a placeholder this product reads")
                return match.group(0)
            if inner in OAUTH_NAMES:
                self.fault(where, f"{{{{ {inner} }}}} belongs to ChiefOnboarding's OAuth flow, which has no "
                                  "counterpart here")
                return match.group(0)
            if inner in self.secret_ids:
                return f"{{{{ secrets.{inner}{tail} }}}}"
            read = RESPONSES.fullmatch(inner)
            if read:  # a previous request's answer: ChiefOnboarding's responses list, from 0
                index = int(read.group(1))
                if index >= self.number - 1:
                    self.fault(where, f"{match.group(0)} reads the answer of request #{index + 1} of the chain, "
                                      f"which is not made before this one (responses count from 0: the first "
                                      f"request's answer is responses.0)")
                    return match.group(0)
                self.responses_read.add(index)
                return f"{{{{ {RESPONSE_FIELD.format(index)}{read.group(2) or ''}{tail} }}}}"
            root = inner.split(".")[0]
            if root not in stored and root not in self.variables:
                self.variables.append(root)
            if default is NO_DEFAULT:
                self.needed.add(root)
            return f"{{{{ {inner}{tail} }}}}"

        return PLACEHOLDER.sub(replace, value)

    def secrets_only(self, text, where):
        """``text`` converted, where every placeholder must be an initial_data_form value (a secret)."""
        for name in (parse_placeholder(match.group(1))[0] for match in PLACEHOLDER.finditer(text)):
            if name not in self.secret_ids:
                self.fault(where, f"Basic credentials become the integration's authentication, which may only "
                                  f"use initial_data_form values; {{{{ {name} }}}} is not one")
        return self.text(text, where, stored=set()) if not self.faults else text

    def value(self, value, where, stored):
        """A JSON value with every string (keys too) converted."""
        if isinstance(value, str):
            return self.text(value, where, stored)
        if isinstance(value, dict):
            return {self.text(key, where, stored): self.value(item, where, stored) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(item, where, stored) for item in value]
        return value

    # --- the manifest ----------------------------------------------------------------------------------------

    def convert(self, *, name, slug, secrets):
        manifest = self.manifest
        if not isinstance(manifest, dict):
            raise ManifestRefused(["A manifest is a JSON object with an \"execute\" list."])
        manifest = self.manifest = _without_empty(manifest)
        sync = [key for key in USER_SYNC_KEYS if key in manifest]
        if sync:
            raise ManifestRefused([
                f"This is a ChiefOnboarding user-sync manifest ({', '.join(sync)}), which fetches a list of users "
                "on a schedule and acts once per user: it would need schedules and a fan-out over a list, which "
                "this product does not have yet, so only execute and revoke manifests import."
            ])
        for key in manifest:
            if key in UNSUPPORTED:
                self.fault(key, UNSUPPORTED[key])
            elif key not in KNOWN:
                self.fault(key, "not a part of a ChiefOnboarding manifest this product knows")
        execute = manifest.get("execute")
        if not isinstance(execute, list) or not execute:
            self.fault("execute", "a manifest needs a non-empty list of requests to make")
            execute = []

        for number, item in enumerate(manifest.get("initial_data_form") or [], start=1):
            ident = item.get("id") if isinstance(item, dict) else None
            if not isinstance(ident, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ident):
                self.fault(f"initial_data_form #{number}", "its id must be a name of letters, digits and "
                                                           "underscores (it becomes a secret's name)")
            else:
                self.secret_ids.add(ident)
        if "form" in manifest:
            self.read_form(manifest["form"])
        headers = manifest.get("headers") or {}
        if not isinstance(headers, dict):
            self.fault("headers", "must be an object of header names to values")
            headers = {}

        actions = self.chain("execute", "step", execute, headers, EXECUTE_KEYS, name, form=list(self.form))
        revoke = manifest.get("revoke") or []
        if not isinstance(revoke, list):
            self.fault("revoke", "must be a list of requests")
            revoke = []
        actions += self.chain("revoke", "revoke", revoke, headers, REVOKE_KEYS, f"{name}, revoke")
        if "exists" in manifest:
            actions += self.exists(manifest["exists"], headers, name)

        document = {
            "name": name,
            "slug": slug,
            "description": "Imported from a ChiefOnboarding manifest.",
            "base_url": "",
            "default_headers": {},
            "auth_type": "none",
            "secrets": dict(secrets or {}),
            "secrets_set": sorted(self.secret_ids),
            "actions": actions,
        }
        if len(self.basic_auth) > 1:
            self.fault("headers", "the requests send different Basic credentials; this product keeps one "
                                  "Basic authentication per integration")
        elif self.basic_auth:
            username, password = next(iter(self.basic_auth))
            document.update(auth_type="basic", auth_username=username, auth_secret=password)
        if self.faults:
            raise ManifestRefused(self.faults)
        return document

    def chain(self, part, prefix, items, default_headers, allowed, title, form=()):
        """The actions of one chain; ``form``: the ids of form items it asks for whether it uses them or not."""
        self.variables = list(form)
        self.needed = set(form)  # the variables used without a default: their inputs are required
        self.responses_read = set()
        stored, actions = set(), []
        for number, item in enumerate(items, start=1):
            where = f"{part} #{number}"
            self.number = number
            item = _without_empty(item)
            if not isinstance(item, dict):
                self.fault(where, "a request is a JSON object")
                continue
            for key in item:
                if key in ITEM_UNSUPPORTED:
                    self.fault(f"{where} {key}", ITEM_UNSUPPORTED[key])
                elif key not in allowed:
                    self.fault(f"{where} {key}", f"not a key of a {part} request this product knows "
                                                 f"(known: {', '.join(sorted(allowed))})")
            actions.append(self.action(item, where, number, prefix, default_headers, stored, title))
        for index in sorted(self.responses_read):
            if index < len(actions):  # the answer read by a later step is kept as a field of this one's run
                polled = actions[index]["polling_mode"] != "none"
                actions[index]["mappings"].append({"field": RESPONSE_FIELD.format(index), "path": "@body",
                                                   "source": "result" if polled else "request"})
        for action, following in zip(actions, actions[1:]):
            action["next_action"] = following["slug"]
        # Every step declares the chain's variables: the first asks for them, the next carry them.
        for action in actions:
            action["inputs"] = [dict(self.form.get(variable)
                                     or {"name": variable, "required": variable in self.needed})
                                for variable in self.variables]
        return actions

    def exists(self, check, default_headers, title):
        """ChiefOnboarding's check whether a person has an account: an action of its own, ``exists``, whose run
        succeeds when the answer's text contains ``expected`` and fails (continue_if not met) when not."""
        if not isinstance(check, dict):
            self.fault("exists", "must be an object ({\"url\": ..., \"expected\": ...})")
            return []
        expected = check.get("expected")
        if not isinstance(expected, str) or not expected.strip():
            self.fault("exists expected", "the text the answer contains when the account exists is needed")
            return []
        request = {key: value for key, value in check.items() if key not in ("expected", "fail_when_4xx_response_code")}
        actions = self.chain("exists", "exists", [request], default_headers, EXISTS_KEYS, f"{title}, exists")
        if not actions:
            return []
        action = actions[0]
        action.update(slug="exists", name=f"{title}: does the account exist?",
                      description=("Does the account exist? The run succeeds when the answer contains "
                                   f"{expected!r} and fails (continue_if not met) when it does not.")[:500])
        if not check.get("status_code"):
            # ChiefOnboarding's check calls raise_for_status() unless fail_when_4xx_response_code is false.
            action["accepted_statuses"] = ANY_STATUS if check.get("fail_when_4xx_response_code") is False else "100-399"
        variables = list(self.variables)
        value = self.text(expected, "exists expected", set())
        action["continue_if"].append({"path": "@text", "operator": "contains", "value": value})
        action["inputs"] += [{"name": name, "required": name in self.needed}
                             for name in self.variables if name not in variables]
        return actions

    def action(self, item, where, number, prefix, default_headers, stored, title):
        method = str(item.get("method", "POST")).upper()
        if method not in METHODS:
            self.fault(f"{where} method", f"{item.get('method')!r} is not one of {', '.join(sorted(METHODS))}")
            method = "POST"
        url = item.get("url")
        if not isinstance(url, str) or not url.strip():
            self.fault(f"{where} url", "every request needs a url")
            url = ""
        headers = item.get("headers") or default_headers  # a step's headers replace the manifest's
        if not isinstance(headers, dict):
            self.fault(f"{where} headers", "must be an object of header names to values")
            headers = {}
        converted_headers = {}
        for header, value in headers.items():
            if header.lower() == "authorization" and str(value).startswith("Basic "):
                credentials = self.secrets_only(str(value)[len("Basic "):], f"{where} headers")
                username, colon, password = credentials.partition(":")
                if not colon:
                    self.fault(f"{where} headers", "an Authorization: Basic header needs user:password")
                else:
                    self.basic_auth.add((username, password))
                continue
            converted_headers[self.text(header, f"{where} headers", stored)] = self.text(
                str(value), f"{where} headers", stored)

        action = {
            "name": f"{title}: step {number}" if prefix == "step" else f"{title} {number}",
            "slug": f"{prefix}-{number}",
            "description": f"{method} {url}"[:500],
            "method": method,
            "url": self.text(url, f"{where} url", stored),
            "headers": converted_headers,
            "polling_mode": "none",
            "stop_conditions": [],
            "continue_if": [],
            "mappings": [],
        }
        data = item.get("data")
        if data not in (None, {}, [], ""):
            if isinstance(data, str):
                action.update(body_type="raw", body=self.text(data, f"{where} data", stored))
            else:
                action.update(body_type="json", body=json.dumps(self.value(data, f"{where} data", stored)))
        codes = item.get("status_code")
        action["accepted_statuses"] = ANY_STATUS
        if codes:
            # ChiefOnboarding's builder stores them as text (["200"]); written by hand they are numbers.
            if not isinstance(codes, list) or not all(
                    isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599
                    or isinstance(code, str) and re.fullmatch(r"\s*[1-5]\d\d\s*", code) for code in codes):
                self.fault(f"{where} status_code", "must be a list of status codes (100 to 599, as numbers or "
                                                   "text: [200, \"201\"])")
            else:
                action["accepted_statuses"] = ",".join(str(code).strip() for code in codes)

        condition = item.get("continue_if")
        if condition is not None:
            if not isinstance(condition, dict) or set(condition) != {"response_notation", "value"}:
                self.fault(f"{where} continue_if", "must be {\"response_notation\": ..., \"value\": ...}")
                condition = None
        polling = item.get("polling")
        if polling is not None:
            interval, amount = (polling.get("interval"), polling.get("amount")) if isinstance(polling, dict) else (
                None, None)
            if not (isinstance(interval, int) and 1 <= interval <= 3600 and isinstance(amount, int)
                    and 1 <= amount <= 100):
                self.fault(f"{where} polling", "must be {\"interval\": 1 to 3600 seconds, \"amount\": 1 to 100}")
            elif condition is None:
                self.fault(f"{where} polling", "polling needs continue_if, which says when to stop")
            else:
                action.update(polling_mode="poll", poll_url="", poll_interval=interval, poll_max_attempts=amount)
                action["stop_conditions"] = [{
                    "group": 1, "path": str(condition["response_notation"]), "operator": "equals",
                    "value": self.text(str(condition["value"]), f"{where} continue_if", stored),
                    "outcome": "success",
                }]
        if condition is not None and polling is None:
            action["continue_if"] = [{
                "path": str(condition["response_notation"]), "operator": "equals",
                "value": self.text(str(condition["value"]), f"{where} continue_if", stored),
            }]

        source = "result" if polling is not None else "request"
        store = item.get("store_data") or {}
        if not isinstance(store, dict):
            self.fault(f"{where} store_data", "must be an object of names to paths")
            store = {}
        for field, path in store.items():
            # "" is ChiefOnboarding's notation for the whole answer.
            path = str(path).strip() or "@body"
            # ChiefOnboarding fails the run when a store_data path finds nothing.
            action["mappings"].append({"field": field, "path": path, "source": source, "required": True})
        if item.get("save_as_file"):
            action["save_as_file"] = self.text(str(item["save_as_file"]), f"{where} save_as_file", stored)
        if item.get("files"):
            files = item["files"]
            if not isinstance(files, dict):
                self.fault(f"{where} files", "must be an object of form field names to file names")
            else:
                action["files"] = {key: self.text(str(value), f"{where} files", stored) for key, value in files.items()}
        stored.update(store)  # stored after this step's answer: the steps that follow read them
        return action


def manifest_document(manifest, *, name, slug="", secrets=None):
    """Our integration document for ``manifest``; raises ManifestRefused naming each fault.

    ``secrets`` ({ID: value}) are the values of its initial_data_form; the
    import names those that have none (unless the integration it replaces has them).
    """
    return _Converter(manifest).convert(name=name, slug=slug or slugify(name), secrets=secrets)


def refuse_too_large(manifest):
    """Raise ManifestRefused when ``manifest`` is more than one import may take (bytes, requests)."""
    from .transfer import json_size, too_large

    size = json_size(manifest)
    if size > settings.INTEGRATIONS_IMPORT_MAX_BYTES:
        raise ManifestRefused([too_large("The manifest", size)])
    parts = [manifest.get("execute"), manifest.get("revoke")] if isinstance(manifest, dict) else []
    requests = sum(len(part) for part in parts if isinstance(part, list))
    if requests > settings.INTEGRATIONS_IMPORT_MAX_ACTIONS:
        raise ManifestRefused([
            f"The manifest has {requests:,} requests (execute and revoke), each an action; one import makes at "
            f"most {settings.INTEGRATIONS_IMPORT_MAX_ACTIONS:,} actions (INTEGRATIONS_IMPORT_MAX_ACTIONS)."
        ])


def import_manifest(manifest, *, name, slug="", secrets=None, replace=False):
    """Import ``manifest`` as an integration whose actions are its chains; returns (integration, created).

    Raises ManifestRefused for what cannot be expressed, transfer.ImportRefused
    for what the converted definition gets wrong; nothing is written then.
    """
    from .transfer import ImportRefused, import_integration, refuse_beyond_limits

    refuse_too_large(manifest)
    document = manifest_document(manifest, name=name, slug=slug, secrets=secrets)
    try:
        # Each step declares every variable of its chain, so a manifest grows as it is converted.
        refuse_beyond_limits(document, what="Converted into an integration, the manifest")
    except ImportRefused as exc:
        raise ManifestRefused([message for messages in exc.errors.values() for message in messages]) from None
    return import_integration(document, replace=replace)


# --- The admin's import page: every fault at once, in the page's own terms ------------------------------------

# An action's field in our document, as the manifest names the part of a request it came from.
MANIFEST_TERMS = {
    "method": "method", "url": "url", "headers": "headers", "body": "data", "body_type": "data",
    "accepted_statuses": "status_code", "continue_if": "continue_if", "stop_conditions": "continue_if",
    "poll_interval": "polling", "poll_max_attempts": "polling", "polling_mode": "polling",
    "mappings": "store_data", "save_as_file": "save_as_file", "files": "files",
    "inputs": "placeholders", "next_action": "the chain",
}
# A fault of the integration's own fields, as the page's fields are named.
PAGE_FIELDS = {"name": "Name", "slug": "Slug", "auth_username": "Authorization header",
               "auth_secret": "Authorization header"}


def check_manifest(manifest, *, name, slug="", secrets=None, replace=False):
    """Every fault of importing ``manifest`` so, in the import page's terms (see page_faults); writes nothing."""
    from .transfer import ImportRefused, _check, refuse_beyond_limits

    slug = slug or slugify(name)
    secrets = dict(secrets or {})
    try:
        refuse_too_large(manifest)
    except ManifestRefused as exc:
        return exc.faults
    try:
        document = manifest_document(manifest, name=name, slug=slug, secrets=secrets)
    except ManifestRefused as exc:
        # The rest cannot be converted, but what the page's own fields get wrong can still be said.
        return [*exc.faults, *_field_faults(manifest, slug, secrets, replace)]
    try:
        refuse_beyond_limits(document, what="Converted into an integration, the manifest")
        _check(document, replace)
    except ImportRefused as exc:
        return page_faults(exc.errors, document)
    return []


def _field_faults(manifest, slug, secrets, replace):
    """The faults of the page's own fields (secrets, replace) for a manifest that could not be converted."""
    target = Integration.objects.filter(slug=slug).first() if slug else None
    faults = []
    if target is not None and not replace:
        faults.append(_slug_exists(slug))
    stored = set(target.secret_names()) if target is not None and replace else set()
    form = manifest.get("initial_data_form") if isinstance(manifest, dict) else None
    for item in form if isinstance(form, list) else []:
        ident = item.get("id") if isinstance(item, dict) else None
        if isinstance(ident, str) and ident not in secrets and ident not in stored:
            faults.append(_missing_secret(ident))
    return faults


def _slug_exists(slug):
    return (f"Slug: an integration with the slug {slug!r} exists: tick “Replace” to replace it (its actions become "
            "the manifest's, its secrets are kept), or give another slug.")


def _missing_secret(ident):
    return f"Secrets: {ident} (of initial_data_form) has no value: add the line {ident}=value."


def page_faults(errors, document):
    """transfer's errors ({field: messages}, actions' by slug) for a converted manifest, said as the import
    page says things: its fields, ID=value lines, and the manifest's execute/revoke requests and their keys."""
    actions = {action["slug"]: action for action in document.get("actions", [])}
    faults = []
    for key, messages in errors.items():
        if key == "actions" and isinstance(messages, dict):
            for slug, action_errors in messages.items():
                faults.extend(_action_faults(slug, action_errors, actions.get(slug, {})))
        elif key in ("secrets", "secrets_set"):
            for message in _messages(messages):
                missing = re.match(r"(\w+) has no value", message)
                faults.append(_missing_secret(missing.group(1)) if missing else f"Secrets: {message}")
        elif key == "slug":
            for message in _messages(messages):
                exists = "import with replace" in message
                faults.append(_slug_exists(document.get("slug")) if exists else f"Slug: {message}")
        else:
            where = PAGE_FIELDS.get(key, "")
            faults.extend(f"{where}: {message}" if where else message for message in _messages(messages))
    return faults


def _action_faults(slug, errors, action):
    prefix, _, number = slug.rpartition("-")
    where = f"{'revoke' if prefix == 'revoke' else 'execute'} #{number}" if number.isdigit() else slug
    if not isinstance(errors, dict):
        return [f"{where}: {message}" for message in _messages(errors)]
    faults = []
    for field, messages in errors.items():
        part = MANIFEST_TERMS.get(field, "")
        if isinstance(messages, list) and any(isinstance(row, dict) for row in messages):
            rows = action.get(field) or []
            for index, row_errors in enumerate(messages):
                if not row_errors:
                    continue
                row = rows[index] if index < len(rows) and isinstance(rows[index], dict) else {}
                named = f" {row['field']!r}" if field == "mappings" and "field" in row else ""
                for message in _messages(list(row_errors.values())):
                    faults.append(f"{where} {part or field}{named}: {message}")
        else:
            for message in _messages(messages):
                faults.append(f"{where} {part}: {message}" if part else f"{where}: {message}")
    return faults


def _messages(value):
    """The messages of an error value (a message, a list of them, or nested lists), flat."""
    if isinstance(value, (list, tuple)):
        return [message for item in value for message in _messages(item)]
    if isinstance(value, dict):
        return [message for item in value.values() for message in _messages(item)]
    return [str(value)]
