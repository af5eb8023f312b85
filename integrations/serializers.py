"""The API's documents of integrations and actions, checked as the admin checks them.

DRF's fields here only read the JSON (types, choices, dates); what a value
means is checked by the models themselves (full_clean: field validators and
clean()), by mixed_outcome_errors() for stop groups and by
action_placeholder_errors() for placeholders, the functions the admin uses.
An action's rows (inputs, stop conditions, continue-if, mappings) are
written with it in one document, and replaced as a whole when given.
Write-only values (secrets, the authentication secret, the client
certificate) are never part of a response: a document says only whether
they are set.
"""

import copy
from collections.abc import Mapping

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.utils.text import slugify
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.settings import api_settings

from .models import (
    Action,
    ActionInput,
    ContinueCondition,
    Integration,
    ResponseMapping,
    Secret,
    StopCondition,
    mixed_outcome_errors,
)
from .placeholders import action_placeholder_errors, check_integration_placeholders, integration_names
from .templating import PLACEHOLDER
from .validators import json_map, parse_json_text, parse_seconds


@extend_schema_field(
    {
        "oneOf": [{"type": "number"}, {"type": "string"}],
        "description": "Seconds (10, 2.5) or an ISO 8601 duration (PT10M); always answered in seconds.",
    }
)
class DurationSecondsField(serializers.Field):
    """Seconds, given as a number or as text (10, '2.5', 'PT10M'), as the admin's duration fields take them."""

    default_error_messages = {"invalid": "Give seconds (10) or an ISO 8601 duration (PT10M)."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float, str)):
            self.fail("invalid")
        try:
            return parse_seconds(data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    def to_representation(self, value):
        return float(value)


@extend_schema_field({"type": "object", "additionalProperties": {}})
class JSONObjectField(serializers.JSONField):
    """A model's JSON map, read as the admin reads it: "" means {}, anything but an object is refused."""

    def to_internal_value(self, data):
        try:
            if getattr(data, "is_json_string", False):  # typed into the browsable API's form
                data = parse_json_text(data) if data.strip() else ""
            # Parsed JSON: a number too large for JSON is for the model's validators to name.
            return json_map(data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


class JSONValueField(serializers.JSONField):
    """Any JSON value; typed into a form (the browsable API, form data) it is parsed as the admin parses it."""

    def to_internal_value(self, data):
        if getattr(data, "is_json_string", False):
            try:
                data = parse_json_text(data)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages) from None
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """Text that must be sent as text: DRF's CharField turns 42 and true into "42" and "True", which the schema
    (type: string) does not allow; here they are refused (code invalid), as the schema says."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class WriteOnlyTextField(StrictCharField):
    """A value that is written, never read back: absent keeps the stored one, null or "" clears it."""

    def __init__(self, **kwargs):
        super().__init__(
            write_only=True, required=False, allow_blank=True, allow_null=True, trim_whitespace=False, **kwargs
        )

    def validate_empty_values(self, data):
        if data is None:
            return True, ""
        return super().validate_empty_values(data)


def model_errors(instance, *, exclude=()):
    """The faults full_clean() finds in ``instance``, as {field: [message]} (the whole under non_field_errors),
    each message with its code (``unique``, ``invalid``...) for the API's errors."""
    try:
        instance.full_clean(exclude=list(exclude))
    except DjangoValidationError as exc:
        return {
            api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field: [
                ErrorDetail(message, code=error.code or "invalid") for error in errors for message in error.messages
            ]
            for field, errors in exc.error_dict.items()
        }
    return {}


def add_errors(errors, more):
    """Add ``more`` ({field: [message]}) to ``errors``, except on fields that already have one (as the admin does)."""
    for field, messages in more.items():
        if messages and field not in errors:
            errors[field] = list(messages)


def mask(messages, value):
    """``messages`` about a write-only ``value`` with it, and each placeholder in it, replaced by ***.

    A message may quote what was typed (a malformed or unknown placeholder):
    for the authentication secret that could be the secret itself.
    """
    fragments = {value}
    for match in PLACEHOLDER.finditer(value):
        fragments.update({match.group(0), repr(match.group(0))[1:-1], f"{{{{ {match.group(1).strip()} }}}}"})
    ordered = sorted((fragment for fragment in fragments if fragment.strip()), key=len, reverse=True)
    masked = []
    for message in messages:
        for fragment in ordered:
            message = message.replace(fragment, "***")
        masked.append(message)
    return masked


class KnownFieldsOnly:
    """Refuse a body's fields that the serializer does not have, naming each (code ``unknown_field``).

    DRF drops them silently: ``"variablez"`` started a run with the defaults. Read-only fields are known
    (what was read can be sent back); nested serializers with this mixin check their own.
    """

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, Mapping):
            known = [name for name, field in self.fields.items() if not field.read_only]
            for name in data:
                if name not in self.fields:
                    unknown[name] = [ErrorDetail(
                        f"Unknown field. Known: {', '.join(known)}.", code="unknown_field")]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class DefinitionSerializer(KnownFieldsOnly, serializers.ModelSerializer):
    """A ModelSerializer whose fields only parse: the model's validators and clean() run in full_clean."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        # Their own DRF checks would run beside the model's validators, with other words.
        models.SlugField: StrictCharField,
        models.URLField: StrictCharField,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.JSONField: JSONObjectField,
    }

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        for key in ("validators", "max_length", "min_length", "max_value", "min_value", "allow_unicode"):
            kwargs.pop(key, None)
        return field_class, kwargs

    def get_validators(self):
        return []  # uniqueness is checked by full_clean (Meta.constraints), with the admin's message


# --- actions ---------------------------------------------------------------------------------------------------


class RowListSerializer(serializers.ListSerializer):
    """An action's rows of one kind; their faults are a list as long as the rows, {} for a row without any.

    DRF 3.18 answers them as {index: faults} by default; the list reads like
    the document it answers, and is what the definition checks give too.
    """

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if isinstance(exc.detail, dict) and all(isinstance(key, int) for key in exc.detail):
                raise serializers.ValidationError([exc.detail.get(index, {}) for index in range(len(data))]) from None
            raise


class ActionInputSerializer(DefinitionSerializer):
    class Meta:
        model = ActionInput
        list_serializer_class = RowListSerializer
        fields = ["position", "name", "label", "required", "default", "choices"]


class StopConditionSerializer(DefinitionSerializer):
    group = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Rows with the same group number must all match; groups are tried in order. "
        "Null or absent: a new group of its own, after the numbered ones.",
    )

    class Meta:
        model = StopCondition
        list_serializer_class = RowListSerializer
        fields = ["group", "position", "path", "target_field", "operator", "value", "outcome"]


class ContinueConditionSerializer(DefinitionSerializer):
    class Meta:
        model = ContinueCondition
        list_serializer_class = RowListSerializer
        fields = ["position", "path", "operator", "value"]


class ResponseMappingSerializer(DefinitionSerializer):
    class Meta:
        model = ResponseMapping
        list_serializer_class = RowListSerializer
        fields = ["position", "field", "path", "source", "required"]


# The rows of an action: (attribute and related name, document key, model).
ACTION_ROWS = [
    ("inputs", "inputs", ActionInput),
    ("stop_conditions", "stop_conditions", StopCondition),
    ("continue_conditions", "continue_if", ContinueCondition),
    ("mappings", "mappings", ResponseMapping),
]
ROW_ATTRIBUTES = {attribute for attribute, _, _ in ACTION_ROWS}

ACTION_EXAMPLE = {
    "integration": 1,
    "name": "Run job",
    "slug": "run-job",
    "description": "Start a job and poll it until it is done.",
    "method": "POST",
    "url": "/jobs",
    "headers": {"Accept": "application/json"},
    "params": {},
    "body_type": "json",
    "body": '{"seconds": "{{ seconds }}", "callback": "{{ run.callback_url }}"}',
    "connect_timeout": 5,
    "read_timeout": 30,
    "accepted_statuses": "2xx",
    "polling_mode": "poll",
    "poll_method": "GET",
    "poll_url": "/jobs/{{ job_id }}",
    "poll_interval": "PT10S",
    "poll_max_attempts": 30,
    "poll_timeout": "PT10M",
    "poll_backoff": "fixed",
    "on_other_status": "fail",
    "inputs": [{"name": "seconds", "label": "Duration", "required": False, "default": "3", "choices": ""}],
    "stop_conditions": [
        {"group": 1, "path": "status", "operator": "equals", "value": "done", "target_field": "job_status",
         "outcome": "success"},
        {"group": 2, "path": "status", "operator": "equals", "value": "failed", "target_field": "",
         "outcome": "failure"},
    ],
    "continue_if": [{"path": "@status", "operator": "equals", "value": "201"}],
    "mappings": [{"field": "job_id", "path": "$.id", "source": "request", "required": False}],
}


ACTION_FIELDS = [
    "id", "integration", "name", "slug", "description",
    "method", "url", "headers", "params", "body_type", "body", "connect_timeout", "read_timeout",
    "accepted_statuses", "verify_tls", "client_certificate", "client_certificate_set", "use_env_proxy",
    "convert_xml", "safe_to_repeat", "save_as_file", "files",
    "polling_mode", "poll_method", "poll_url", "poll_headers", "poll_params", "poll_body_type", "poll_body",
    "poll_interval", "poll_max_attempts", "poll_timeout", "poll_backoff", "poll_backoff_max", "poll_jitter",
    "max_consecutive_errors", "on_connection_error", "on_rate_limited", "on_server_error", "on_other_status",
    "cancelable", "cancel_webhook_url", "cancel_webhook_method", "cancel_webhook_body", "include_context",
    "execute_in_rehearsal", "fixed_start_time", "auto_start", "finish_on_success", "next_action",
    "inputs", "stop_conditions", "continue_if", "mappings",
    "created_at", "updated_at",
]
DURATIONS = ["connect_timeout", "read_timeout", "poll_interval", "poll_timeout", "poll_backoff_max"]


def _action_response_example():
    """ACTION_EXAMPLE as the API answers it: every field, durations in seconds, rows with their positions."""
    answered = {"id": 7, "client_certificate_set": False, "created_at": "2026-11-23T18:45:00Z",
                "updated_at": "2026-11-23T18:45:00Z"}
    example = {}
    for name in ACTION_FIELDS:
        if name in answered:
            example[name] = answered[name]
        elif name in ("inputs", "stop_conditions", "continue_if", "mappings"):
            example[name] = [{"position": 0, **row} for row in ACTION_EXAMPLE[name]]
        elif name != "client_certificate":
            value = ACTION_EXAMPLE.get(name, Action._meta.get_field(name).get_default())
            if name in DURATIONS and value is not None:
                value = parse_seconds(value)
            example[name] = str(value) if isinstance(value, str) else value  # choices as plain text
    return example


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A polling action",
            summary="POST a job, then poll it every 10 s until its status is done or failed",
            value=ACTION_EXAMPLE,
            request_only=True,
        ),
        OpenApiExample("A polling action", value=_action_response_example(), response_only=True),
    ]
)
class ActionSerializer(DefinitionSerializer):
    """An action with its inputs, stop conditions, continue-if conditions and response mappings."""

    connect_timeout = DurationSecondsField(required=False)
    read_timeout = DurationSecondsField(required=False)
    poll_interval = DurationSecondsField(required=False)
    poll_timeout = DurationSecondsField(required=False, allow_null=True)
    poll_backoff_max = DurationSecondsField(required=False)
    client_certificate = WriteOnlyTextField(
        help_text="PEM client certificate followed by its private key. Write-only: absent keeps the stored one, "
        "null or \"\" removes it."
    )
    client_certificate_set = serializers.SerializerMethodField()
    inputs = ActionInputSerializer(many=True, required=False, help_text="The variables a run takes.")
    stop_conditions = StopConditionSerializer(many=True, required=False)
    continue_if = ContinueConditionSerializer(
        many=True, required=False, source="continue_conditions",
        help_text="The first response must meet every row, or the run fails.",
    )
    mappings = ResponseMappingSerializer(
        many=True, required=False, help_text="Store the value found at a path into a field of the run."
    )

    class Meta:
        model = Action
        fields = ACTION_FIELDS
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"slug": {"required": False, "allow_blank": True, "help_text": "Blank: made from the name."}}

    def get_client_certificate_set(self, action) -> bool:
        return bool(action.client_certificate)

    def validate(self, attrs):
        action = copy.copy(self.instance) if self.instance else Action()
        for name, value in attrs.items():
            if name not in ROW_ATTRIBUTES:
                setattr(action, name, value)
        if self.context.get("integration") is not None:
            action.integration = self.context["integration"]
        if not action.slug:
            action.slug = attrs["slug"] = slugify(action.name)[:100]
        rows = {}
        for attribute, _, model in ACTION_ROWS:
            if attribute in attrs:
                rows[attribute] = [model(**values) for values in attrs[attribute]]
            else:
                rows[attribute] = list(getattr(self.instance, attribute).all()) if self.instance else []
        # An import checks its actions' chains as the document makes them, not as they are saved.
        carried = self.context["carried"].get(action.slug, ((), ())) if "carried" in self.context else None
        errors = action_errors(action, rows, secrets=self._secret_names(action), carried=carried)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _secret_names(self, action):
        """The names of the secrets of the action's integration; an import gives those it will have."""
        if "secret_names" in self.context:
            return self.context["secret_names"]
        return list(action.integration.secrets.values_list("name", flat=True))

    @transaction.atomic
    def create(self, validated_data):
        rows = {attribute: validated_data.pop(attribute, []) for attribute, _, _ in ACTION_ROWS}
        action = Action.objects.create(**validated_data)
        save_rows(action, rows)
        return action

    @transaction.atomic
    def update(self, instance, validated_data):
        rows = {attribute: validated_data.pop(attribute) for attribute in ROW_ATTRIBUTES if attribute in validated_data}
        for name, value in validated_data.items():
            setattr(instance, name, value)
        instance.save()
        save_rows(instance, rows)
        return instance


def action_errors(action, rows, *, secrets, carried=None):
    """The faults of ``action`` with ``rows`` ({attribute: [unsaved or saved row]}), as an API error document.

    ``secrets`` are the names of its integration's secrets. The checks are
    the admin's: full_clean of the action and of each row, one outcome per
    stop group, and placeholders that the inputs, stored fields, secrets and
    run facts of this very document can fill; ``carried`` (input names, field
    names) are those a chain brings from the actions before it (None: those
    of the saved actions that lead to it).
    """
    # An imported action's integration is not saved yet: there is nothing to look up.
    errors = model_errors(action, exclude=[] if action.integration_id is not None else ["integration"])
    row_errors = {}
    for attribute, key, _ in ACTION_ROWS:
        row_errors[key] = [
            # A stop condition without a group is a new group, numbered when it is saved.
            model_errors(row, exclude=["action", *(["group"] if getattr(row, "group", 0) is None else [])])
            for row in rows[attribute]
        ]
    seen = {}
    for index, row in enumerate(rows["inputs"]):
        if row.name in seen and "name" not in row_errors["inputs"][index]:
            row_errors["inputs"][index]["name"] = [f"Input {seen[row.name] + 1} has this name already."]
        seen.setdefault(row.name, index)
    # As in the admin, a row whose outcome is already at fault takes no part in its group's check.
    checked = [
        (index, row) for index, row in enumerate(rows["stop_conditions"])
        if "outcome" not in row_errors["stop_conditions"][index]
    ]
    for position, message in mixed_outcome_errors([row for _, row in checked]).items():
        row_errors["stop_conditions"][checked[position][0]]["outcome"] = [message]
    placeholder_errors, row_messages = action_placeholder_errors(
        action,
        inputs=[row.name for row in rows["inputs"]],
        fields=[row.field for row in rows["mappings"]] + [row.target_field for row in rows["stop_conditions"]],
        carried=carried,
        secrets=secrets,
        stop_values=[row.value for row in rows["stop_conditions"]],
        continue_values=[row.value for row in rows["continue_conditions"]],
    )
    add_errors(errors, placeholder_errors)
    for attribute, key in (("stop_conditions", "stop_conditions"), ("continue_conditions", "continue_if")):
        for index, message in row_messages.get(attribute, {}).items():
            add_errors(row_errors[key][index], {"value": [message]})
    for key, found in row_errors.items():
        if any(found):
            errors[key] = found
    return errors


def save_rows(action, rows):
    """Make ``action``'s rows of each attribute given in ``rows`` exactly those (replace-all)."""
    for attribute, values in rows.items():
        getattr(action, attribute).all().delete()
        if attribute == "stop_conditions":
            values = number_new_groups(values)
        for item in values:
            getattr(action, attribute).create(**item)


def number_new_groups(rows):
    """Stop condition rows with each row without a group given a new group of its own, after the numbered ones."""
    last = max((row["group"] for row in rows if row.get("group") is not None), default=0)
    numbered = []
    for row in rows:
        if row.get("group") is None:
            last += 1
            row = {**row, "group": last}
        numbered.append(row)
    return numbered


# --- integrations ----------------------------------------------------------------------------------------------


INTEGRATION_EXAMPLE = {
    "name": "Sandbox jobs",
    "slug": "sandbox",
    "description": "A remote job API.",
    "image_url": "",
    "base_url": "https://jobs.example.com/api",
    "auth_type": "bearer",
    "auth_username": "",
    "auth_secret": "{{ secrets.TOKEN }}",
    "api_key_name": "",
    "oauth_authorize_url": "",
    "oauth_token_url": "",
    "oauth_client_id": "",
    "oauth_scope": "",
    "default_headers": {"Accept": "application/json"},
    "secrets": {"TOKEN": "the-token-itself", "OLD_TOKEN": None},
}


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A bearer-token integration",
            summary="Bearer authentication from a secret; sets TOKEN and deletes OLD_TOKEN",
            value=INTEGRATION_EXAMPLE,
            request_only=True,
        ),
        OpenApiExample(
            "A bearer-token integration",
            value={
                "id": 1,
                **{key: value for key, value in INTEGRATION_EXAMPLE.items() if key not in ("auth_secret", "secrets")},
                "auth_secret_set": True,
                "secrets_set": ["TOKEN"],
                "archived": False,
                "created_at": "2026-11-23T18:45:00Z",
                "updated_at": "2026-11-23T18:45:00Z",
            },
            response_only=True,
        ),
    ]
)
class IntegrationSerializer(DefinitionSerializer):
    """An integration: its connection, authentication, default headers and secrets (write-only)."""

    auth_secret = WriteOnlyTextField(
        help_text=Integration._meta.get_field("auth_secret").help_text
        + " Absent keeps the stored value; null or \"\" removes it."
    )
    auth_secret_set = serializers.SerializerMethodField()
    secrets = serializers.DictField(
        child=serializers.CharField(allow_null=True, allow_blank=True, trim_whitespace=False),
        write_only=True,
        required=False,
        help_text="Write-only: {NAME: value} sets or replaces a secret (read as {{ secrets.NAME }}), "
        "{NAME: null} deletes it; secrets not named are kept.",
    )
    secrets_set = serializers.ListField(
        child=serializers.CharField(), source="secret_names", read_only=True,
        help_text="The names of the secrets that are set (never their values).",
    )

    class Meta:
        model = Integration
        fields = [
            "id", "name", "slug", "description", "image_url", "base_url",
            "auth_type", "auth_username", "auth_secret", "auth_secret_set", "api_key_name",
            "oauth_authorize_url", "oauth_token_url", "oauth_client_id", "oauth_scope", "default_headers",
            "secrets", "secrets_set", "archived", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "archived", "created_at", "updated_at"]
        extra_kwargs = {"slug": {"required": False, "allow_blank": True, "help_text": "Blank: made from the name."}}

    def get_auth_secret_set(self, integration) -> bool:
        return bool(integration.auth_secret)

    def validate(self, attrs):
        integration = copy.copy(self.instance) if self.instance else Integration()
        for name, value in attrs.items():
            if name not in ("secrets", "secret_names"):
                setattr(integration, name, value)
        if not integration.slug:
            integration.slug = attrs["slug"] = slugify(integration.name)[:100]
        errors = model_errors(integration)
        changes = attrs.get("secrets", {})
        secret_errors = {}
        for name, value in changes.items():
            if value == "":
                secret_errors[name] = ["A secret needs a value; null deletes it."]
            elif value is not None:
                found = model_errors(Secret(name=name, value=value), exclude=["integration"])
                if found:
                    secret_errors[name] = [message for messages in found.values() for message in messages]
        if secret_errors:
            errors["secrets"] = secret_errors
        names = self.secret_names_after(changes, attrs.get("secret_names", ()))
        add_errors(errors, check_integration_placeholders(integration, integration_names(secrets=names)))
        if attrs.get("auth_secret") and "auth_secret" in errors:
            errors["auth_secret"] = mask(errors["auth_secret"], attrs["auth_secret"])
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def secret_names_after(self, changes, declared=()):
        """The names of the secrets the integration will have once ``changes`` ({NAME: value or None}) are made.

        ``declared`` names (an import's secrets_set) count as well: a missing
        value is one fault of its own, not one for each placeholder using it.
        """
        stored = set(self.instance.secret_names()) if self.instance else set()
        given = {name for name, value in changes.items() if value is not None}
        deleted = {name for name, value in changes.items() if value is None}
        return sorted((stored | given | set(declared)) - (deleted - set(declared)))

    @transaction.atomic
    def create(self, validated_data):
        secrets = validated_data.pop("secrets", {})
        validated_data.pop("secret_names", None)
        integration = Integration.objects.create(**validated_data)
        save_secrets(integration, secrets)
        return integration

    @transaction.atomic
    def update(self, instance, validated_data):
        secrets = validated_data.pop("secrets", {})
        validated_data.pop("secret_names", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        instance.save()
        save_secrets(instance, secrets)
        return instance


def save_secrets(integration, changes):
    """Set, replace ({NAME: value}) or delete ({NAME: None}) secrets of ``integration``; others are kept."""
    for name, value in changes.items():
        if value is None:
            integration.secrets.filter(name=name).delete()
        else:
            integration.secrets.update_or_create(name=name, defaults={"value": value})
    if changes and hasattr(integration, "_prefetched_objects_cache"):
        integration._prefetched_objects_cache.pop("secrets", None)


# --- export and import documents ---------------------------------------------------------------------------------


class ActionDocumentSerializer(ActionSerializer):
    """An action inside an integration's export document: no id, integration, client certificate or timestamps;
    its next action by slug, an action of the same document (an action's id means nothing on another site)."""

    next_action = serializers.SlugField(
        required=False, allow_null=True, allow_blank=True,
        help_text="The slug of the action of this document that follows it in a chain; null: none.",
    )

    class Meta(ActionSerializer.Meta):
        fields = [
            field for field in ActionSerializer.Meta.fields
            if field not in ("id", "integration", "client_certificate_set", "created_at", "updated_at")
        ]

    def to_representation(self, action):
        document = super().to_representation(action)
        document["next_action"] = action.next_action.slug if action.next_action_id else None
        return document

    def validate(self, attrs):
        # Set by the import once every action of the document is saved (transfer.import_integration). The
        # document's chains are checked there as a whole; the chain saved now is no part of the check (and
        # following it from each action of a long one took a query per step).
        self.next_action_slug = attrs.pop("next_action", None) or None
        attrs = super().validate({**attrs, "next_action": None})
        del attrs["next_action"]
        return attrs


class IntegrationDocumentSerializer(IntegrationSerializer):
    """An integration with its actions, as exported and imported: the API's own shape, without secret values.

    On import, ``secrets_set`` names the secrets the integration needs: each
    must already be stored (an import with replace keeps them) or be given a
    value in ``secrets``; ``auth_secret`` and each action's
    ``client_certificate`` may be given too, as in the API.
    """

    secrets_set = serializers.ListField(
        child=serializers.CharField(), source="secret_names", required=False,
        help_text="The names of the integration's secrets; an export never holds their values.",
    )
    actions = ActionDocumentSerializer(many=True, required=False)

    class Meta(IntegrationSerializer.Meta):
        fields = [
            *(field for field in IntegrationSerializer.Meta.fields
              if field not in ("id", "auth_secret_set", "archived", "created_at", "updated_at")),
            "actions",
        ]

    def validate(self, attrs):
        try:
            attrs = super().validate(attrs)
            errors = {}
        except serializers.ValidationError as exc:
            errors = exc.detail
        have = self.secret_names_after(attrs.get("secrets", {}))
        missing = [name for name in attrs.get("secret_names", []) if name not in have]
        if missing:
            errors["secrets_set"] = [
                f"{name} has no value: give it in \"secrets\" ({{\"{name}\": \"…\"}}); an export never holds "
                "secret values." for name in missing
            ]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs
