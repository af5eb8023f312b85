"""Export and import: one JSON document holds an integration with its actions, in the API's own shape.

An export leaves out every write-only value (secret values, the
authentication secret, client certificates) and keeps the secrets' names in
``secrets_set``. An import checks the integration and every action, as the
API and the admin check them, before it writes anything, and reports every
fault at once; then it writes in one short transaction. What one import may
hold is bounded (refuse_beyond_limits).
"""

import copy
import json
import os
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction
from django.db.models import ProtectedError
from django.db.models.deletion import Collector
from django.utils.text import slugify
from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings

from . import safejson
from .api_errors import fault
from .models import Action, Integration
from .serializers import (
    ACTION_ROWS,
    ROW_ATTRIBUTES,
    ActionDocumentSerializer,
    IntegrationDocumentSerializer,
    number_new_groups,
)
from .validators import read_json_file


SLUG_EXISTS = "slug_exists"  # the code of the refusal of an existing slug (the API answers it 409)


class ImportRefused(Exception):
    """The document was not imported; ``errors`` names every fault, actions' by their slug."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("\n".join(describe_errors(errors)))


def export_integration(integration):
    """The document of ``integration`` and its actions, without any secret value."""
    return IntegrationDocumentSerializer(integration).data


def import_integration(document, *, replace=False):
    """Create the integration ``document`` describes, with its actions; returns (integration, created).

    An integration with the same slug is refused, unless ``replace``: then it
    takes the document's fields and its actions become the document's
    (matched by slug, so their runs stay theirs); its secrets are kept.
    Raises ImportRefused, with nothing written, when anything is wrong.

    Everything is checked before the write transaction starts: on SQLite that
    transaction holds the database's one write lock, which every run, poll
    and claim of the engine waits for, so it only writes, in bulk.
    """
    if not isinstance(document, dict):
        raise ImportRefused({api_settings.NON_FIELD_ERRORS_KEY: ["An integration document is a JSON object."]})
    refuse_beyond_limits(document)
    checked = _check(document, replace)
    try:
        return _write(checked)
    except (IntegrityError, ProtectedError):
        # What was checked changed before it was written (another import, a removed action's first run).
        raise ImportRefused({api_settings.NON_FIELD_ERRORS_KEY: [
            f"The integration {checked.slug!r} changed while this import was checked, and nothing was "
            "imported: import it again."
        ]}) from None


def refuse_beyond_limits(document, *, what="The document"):
    """Raise ImportRefused when ``document`` holds more than one import may: its size as JSON, its actions, and
    their rows. Checking and writing grow with each; the limits keep an import to seconds."""
    size = json_size(document)
    if size > settings.INTEGRATIONS_IMPORT_MAX_BYTES:
        raise ImportRefused({api_settings.NON_FIELD_ERRORS_KEY: [too_large(what, size)]})
    actions = document.get("actions")
    if not isinstance(actions, list):
        return
    if len(actions) > settings.INTEGRATIONS_IMPORT_MAX_ACTIONS:
        raise ImportRefused({"actions": [
            f"{what} has {len(actions):,} actions; one import makes at most "
            f"{settings.INTEGRATIONS_IMPORT_MAX_ACTIONS:,} (INTEGRATIONS_IMPORT_MAX_ACTIONS)."
        ]})
    rows = sum(len(action[key]) for action in actions if isinstance(action, dict)
               for _, key, _ in ACTION_ROWS if isinstance(action.get(key), list))
    if rows > settings.INTEGRATIONS_IMPORT_MAX_ROWS:
        raise ImportRefused({"actions": [
            f"{what} has {rows:,} rows (its actions' inputs, stop_conditions, continue_if and mappings); one "
            f"import makes at most {settings.INTEGRATIONS_IMPORT_MAX_ROWS:,} (INTEGRATIONS_IMPORT_MAX_ROWS)."
        ]})


def json_size(value):
    """The bytes of ``value`` written as compact JSON (UTF-8): what a document weighs however it was sent."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))


def read_import_file(path):
    """The JSON document in the file at ``path``, refused unread when it is larger than one import may be."""
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0  # read_json_file says why it cannot be read
    if size > settings.INTEGRATIONS_IMPORT_MAX_BYTES:
        raise ValueError(too_large(str(path), size))
    return read_json_file(path)


def too_large(what, size):
    """The refusal of ``what`` (the document, the manifest, a file) of ``size`` bytes, naming the limit."""
    return (f"{what} is {size:,} bytes; one import takes at most {settings.INTEGRATIONS_IMPORT_MAX_BYTES:,} "
            "(INTEGRATIONS_IMPORT_MAX_BYTES).")


@dataclass
class _Checked:
    """An import that passed every check: what to write."""

    slug: str
    target: Integration | None
    integration: IntegrationDocumentSerializer
    actions: list  # (the stored action or None, its checked fields, the slug of its next action or None)
    removed: list


def _check(document, replace):
    """The import of ``document``, checked; raises ImportRefused naming every fault. Reads, never writes."""
    slug = document.get("slug") or slugify(str(document.get("name") or ""))
    # Checked against the integration it would replace even without replace: the
    # faults answered are then those that an import with replace would meet.
    # A slug holding NUL names nothing stored (PostgreSQL would refuse even the question); the serializer says why.
    findable = isinstance(slug, str) and not safejson.unstorable(slug)
    target = Integration.objects.filter(slug=slug).first() if findable else None

    errors = {}
    integration_serializer = IntegrationDocumentSerializer(
        target, data={key: value for key, value in document.items() if key != "actions"}
    )
    if not integration_serializer.is_valid():
        errors.update(integration_serializer.errors)
    if target is not None and not replace:
        errors["slug"] = [fault(
            f"An integration with the slug {slug!r} exists: import with replace to replace it "
            "(its actions become the document's, its secrets are kept).", SLUG_EXISTS,
        )]

    actions, action_errors, removed = _check_actions(document, integration_serializer, target)
    if action_errors:
        errors["actions"] = action_errors
    if errors:
        raise ImportRefused(errors)
    return _Checked(slug, target, integration_serializer, actions, removed)


def _write(checked):
    """Write a checked import: its objects made first, then one transaction of a few statements per kind of row.

    Returns (integration, created).
    """
    by_slug, new, changed, rows = {}, [], [], {model: [] for _, _, model in ACTION_ROWS}
    for stored, fields, _ in checked.actions:
        fields = dict(fields)
        given = {attribute: fields.pop(attribute) for attribute in ROW_ATTRIBUTES if attribute in fields}
        action = stored if stored is not None else Action()
        for name, value in fields.items():
            setattr(action, name, value)
        (changed if stored is not None else new).append(action)
        by_slug[action.slug] = action
        for attribute, _, model in ACTION_ROWS:
            if attribute in given:
                values = number_new_groups(given[attribute]) if attribute == "stop_conditions" else given[attribute]
                # A new action has no primary key yet: bulk_create reads it from the action once it has one.
                rows[model].append((action, [model(action=action, **row) for row in values]))

    with transaction.atomic():
        if checked.target is not None and not Integration.objects.filter(
                pk=checked.target.pk, slug=checked.slug).exists():
            raise IntegrityError("The integration to replace was removed or renamed.")
        integration = checked.integration.save()
        for action in new:
            action.integration = integration
        Action.objects.bulk_create(new)  # their primary keys come back (PostgreSQL; SQLite 3.35 and later)
        for _, fields, following in checked.actions:
            by_slug[fields["slug"]].next_action = by_slug[following] if following else None
        for action in changed:
            action.save()  # one by one: save() moves updated_at, which refreshes the engine's cached definition
        Action.objects.bulk_update([action for action in new if action.next_action is not None], ["next_action"])
        changed_ids = {action.pk for action in changed}
        for model, written in rows.items():
            replaced = [action.pk for action, _ in written if action.pk in changed_ids]
            if replaced:
                # Without Django's collector: its post_delete receiver moves the updated_at of each row's
                # action, one statement a row, and the actions were saved above.
                old = model.objects.filter(action__in=replaced)
                old._raw_delete(old.db)
            model.objects.bulk_create([row for _, objects in written for row in objects])
        for action in checked.removed:
            action.delete()
    return integration, checked.target is None


def _check_actions(document, integration_serializer, target):
    """(the valid actions as _Checked.actions holds them, errors by action slug, saved actions the document
    leaves out)."""
    items = document.get("actions", [])
    if not isinstance(items, list):
        return [], ["Expected a list of actions."], []
    # What the actions are checked against: the integration as it will be.
    integration = copy.copy(target) if target else Integration()
    if isinstance(document.get("base_url"), str):
        integration.base_url = document["base_url"]
    secrets = document.get("secrets") if isinstance(document.get("secrets"), dict) else {}
    declared = document.get("secrets_set") if isinstance(document.get("secrets_set"), list) else []
    secret_names = integration_serializer.secret_names_after(
        secrets, [name for name in declared if isinstance(name, str)]
    )
    stored = {action.slug: action for action in target.actions.all()} if target else {}

    # One serializer checks every action: DRF builds a serializer's fields (and its rows') when it is first
    # used, which took longer than the checks themselves when each action had its own.
    checker = ActionDocumentSerializer(
        context={"integration": integration, "secret_names": secret_names, "carried": carried_names(items)}
    )
    checked, errors, slugs = [], {}, []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            errors[f"#{number}"] = {api_settings.NON_FIELD_ERRORS_KEY: ["An action is a JSON object."]}
            continue
        slug = item.get("slug") or slugify(str(item.get("name") or ""))
        key = slug if isinstance(slug, str) and slug and slug not in slugs else f"#{number}"
        checker.instance = stored.get(slug) if isinstance(slug, str) else None
        try:
            fields = checker.run_validation(item)
        except ValidationError as exc:
            errors[key] = dict(exc.detail)
        else:
            checked.append((checker.instance, fields, checker.next_action_slug))
        if isinstance(slug, str) and slug in slugs:
            errors.setdefault(key, {}).setdefault("slug", []).append(
                f"Another action of this document has the slug {slug!r}."
            )
        slugs.append(slug)

    leads_to = {fields.get("slug"): following for _, fields, following in checked}
    for slug, following in leads_to.items():
        if following and following not in slugs:
            errors.setdefault(slug, {}).setdefault("next_action", []).append(
                f"No action of this document has the slug {following!r}: a next action is one of them.")
            continue
        seen, step = {slug}, following
        while step and step not in seen:
            seen.add(step)
            step = leads_to.get(step)
        if step == slug:
            errors.setdefault(slug, {}).setdefault("next_action", []).append(
                "This chain of next actions leads back to this action: a chain must end.")

    removed = [action for slug, action in stored.items() if slug not in slugs]
    for action in removed:
        kept_by = _protected_by(action)
        if kept_by:
            errors[action.slug] = {
                api_settings.NON_FIELD_ERRORS_KEY: [
                    f"This action is not in the document but cannot be removed: it has {kept_by}. "
                    "Keep it in the document."
                ]
            }
    return checked, errors, removed


def carried_names(items):
    """{slug: (input names, field names)} that the document's chains bring into each of its actions: those of
    every action that leads to it through next_action, however far back (as Action.carried_names does for
    saved actions)."""

    def rows(item, key):
        value = item.get(key)
        return [row for row in value if isinstance(row, dict)] if isinstance(value, list) else []

    own, leads_to = {}, {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("slug"), str):
            continue
        own[item["slug"]] = (
            [row.get("name") for row in rows(item, "inputs") if isinstance(row.get("name"), str)],
            [row.get("field") for row in rows(item, "mappings") if isinstance(row.get("field"), str)]
            + [row.get("target_field") for row in rows(item, "stop_conditions")
               if isinstance(row.get("target_field"), str) and row.get("target_field")],
        )
        if isinstance(item.get("next_action"), str):
            leads_to[item["slug"]] = item["next_action"]
    # Each action passes on what it has and what reached it, to the one it leads to: every action is taken
    # once, after all those leading to it (those in a loop never are; a loop is refused anyway).
    waiting = {slug: 0 for slug in own}
    for following in leads_to.values():
        if following in waiting:
            waiting[following] += 1
    inputs = {slug: {} for slug in own}  # dicts as ordered sets: a chain repeats its variables at every step
    fields = {slug: {} for slug in own}
    ready = [slug for slug, count in waiting.items() if count == 0]
    while ready:
        slug = ready.pop()
        following = leads_to.get(slug)
        if following not in own:
            continue
        inputs[following].update(dict.fromkeys(own[slug][0]))
        inputs[following].update(inputs[slug])
        fields[following].update(dict.fromkeys(own[slug][1]))
        fields[following].update(fields[slug])
        waiting[following] -= 1
        if waiting[following] == 0:
            ready.append(following)
    return {slug: (list(inputs[slug]), list(fields[slug])) for slug in own}


def _protected_by(action):
    """What keeps ``action`` from being deleted (e.g. "runs"), or ""."""
    try:
        Collector(using=DEFAULT_DB_ALIAS).collect([action])
    except ProtectedError as exc:
        return ", ".join(sorted({str(obj._meta.verbose_name_plural) for obj in exc.protected_objects}))
    return ""


def describe_errors(errors, prefix=""):
    """Lines "where: message" for an error document (nested fields joined by dots, rows by [index])."""
    lines = []
    if isinstance(errors, dict):
        for key, value in errors.items():
            where = f"{prefix}.{key}" if prefix else key
            lines.extend(describe_errors(value, where))
    elif isinstance(errors, list) and any(isinstance(item, (dict, list)) for item in errors):
        for index, item in enumerate(errors):
            lines.extend(describe_errors(item, f"{prefix}[{index}]"))
    else:
        for message in errors if isinstance(errors, list) else [errors]:
            lines.append(f"{prefix}: {message}" if prefix else str(message))
    return lines
