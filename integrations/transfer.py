"""Export and import: one JSON document holds an integration with its actions, in the API's own shape.

An export leaves out every write-only value (secret values, the
authentication secret, client certificates) and keeps the secrets' names in
``secrets_set``. An import checks the integration and every action, as the
API and the admin check them, before it writes anything, and reports every
fault at once.
"""

import copy

from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import ProtectedError
from django.db.models.deletion import Collector
from django.utils.text import slugify
from rest_framework.settings import api_settings

from . import safejson
from .models import Integration
from .serializers import ActionDocumentSerializer, IntegrationDocumentSerializer


class ImportRefused(Exception):
    """The document was not imported; ``errors`` names every fault, actions' by their slug."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__("\n".join(describe_errors(errors)))


def export_integration(integration):
    """The document of ``integration`` and its actions, without any secret value."""
    return IntegrationDocumentSerializer(integration).data


@transaction.atomic
def import_integration(document, *, replace=False):
    """Create the integration ``document`` describes, with its actions; returns (integration, created).

    An integration with the same slug is refused, unless ``replace``: then it
    takes the document's fields and its actions become the document's
    (matched by slug, so their runs stay theirs); its secrets are kept.
    Raises ImportRefused, with nothing written, when anything is wrong.
    """
    if not isinstance(document, dict):
        raise ImportRefused({api_settings.NON_FIELD_ERRORS_KEY: ["An integration document is a JSON object."]})
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
        errors["slug"] = [
            f"An integration with the slug {slug!r} exists: import with replace to replace it "
            "(its actions become the document's, its secrets are kept)."
        ]

    actions, action_errors, removed = _check_actions(document, integration_serializer, target)
    if action_errors:
        errors["actions"] = action_errors
    if errors:
        raise ImportRefused(errors)

    integration = integration_serializer.save()
    saved = {serializer.save(integration=integration).slug: serializer for serializer in actions}
    for serializer in actions:
        action = serializer.instance
        following = saved[serializer.next_action_slug].instance if serializer.next_action_slug else None
        if action.next_action_id != (following.pk if following else None):
            action.next_action = following
            action.save(update_fields=["next_action"])
    for action in removed:
        action.delete()
    return integration, target is None


def _check_actions(document, integration_serializer, target):
    """(valid action serializers, errors by action slug, saved actions the document leaves out)."""
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

    carried = carried_names(items)
    serializers, errors, slugs = [], {}, []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            errors[f"#{number}"] = {api_settings.NON_FIELD_ERRORS_KEY: ["An action is a JSON object."]}
            continue
        slug = item.get("slug") or slugify(str(item.get("name") or ""))
        key = slug if isinstance(slug, str) and slug and slug not in slugs else f"#{number}"
        serializer = ActionDocumentSerializer(
            stored.get(slug) if isinstance(slug, str) else None,
            data=item,
            context={"integration": integration, "secret_names": secret_names, "carried": carried},
        )
        if serializer.is_valid():
            serializers.append(serializer)
        else:
            errors[key] = dict(serializer.errors)
        if isinstance(slug, str) and slug in slugs:
            errors.setdefault(key, {}).setdefault("slug", []).append(
                f"Another action of this document has the slug {slug!r}."
            )
        slugs.append(slug)

    leads_to = {serializer.validated_data.get("slug"): serializer.next_action_slug for serializer in serializers}
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
    return serializers, errors, removed


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
    carried = {}
    for slug in own:
        inputs, fields, seen = [], [], {slug}
        frontier = [slug]
        while frontier:
            previous = [before for before, following in leads_to.items()
                        if following in frontier and before not in seen]
            for before in previous:
                inputs.extend(own[before][0])
                fields.extend(own[before][1])
            seen.update(previous)
            frontier = previous
        carried[slug] = (inputs, fields)
    return carried


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
