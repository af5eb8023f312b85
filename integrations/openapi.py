"""The API's schema class: drf-standardized-errors' (every operation's error responses, in the one error
shape of integrations/api_errors.py), with operationIds a person would write.

A view names its operations in ``operation_ids``, by its action (``list``,
``create``, ``refire``...) or, for a plain APIView, by its method (``post``).
"""

from drf_spectacular.utils import OpenApiExample
from drf_standardized_errors.openapi import AutoSchema as ErrorsAutoSchema
from rest_framework import serializers
from rest_framework.pagination import CursorPagination

from integrations_site import conditional, idempotency

from .api_errors import KeyReused, error_response

# What each error status means, where an operation does not say it in its own words.
DESCRIPTIONS = {
    "400": "Bad input: a field, a row or a query parameter does not fit (each named in `attr`); nothing was "
           "saved.",
    "401": "No credentials, or bad ones: send `Authorization: Bearer <key>` (or `Token <key>`).",
    "403": "Signed in, but without the permission this needs (Integrations Viewers may only read).",
    "404": "Nothing has this id.",
    "405": "This URL does not take this method.",
    "406": "The Accept header asks for a type this URL cannot answer (it answers JSON).",
    "415": "The body is not JSON: send `Content-Type: application/json`.",
    "429": "Too many requests: wait as long as `Retry-After` says.",
    "500": "A fault of the server: nothing was saved.",
}


KEY_REUSED = error_response("The Idempotency-Key was used for another request.",
                            ("Key reused", KeyReused.default_code, KeyReused.default_detail))

STALE = error_response("It changed since it was read: If-Match does not match its ETag; nothing was saved.",
                       ("Stale", conditional.PreconditionFailed.default_code,
                        conditional.PreconditionFailed.default_detail))

VALIDATION_EXAMPLE = OpenApiExample(
    "Validation error",
    value={"type": "validation_error", "errors": [
        {"code": "invalid", "attr": "url",
         "detail": "This URL is relative but the integration has no base URL: write an absolute URL "
                   "(https://host/path) or set the integration's base URL."},
        {"code": "invalid", "attr": "stop_conditions.1.value",
         "detail": "{{ job_idd }} names nothing that can fill it. Did you mean {{ job_id }}? Available: …"},
        {"code": "unknown_field", "attr": "variablez", "detail": "Unknown field. Known: variables, rehearsal."},
    ]},
    response_only=True,
    status_codes=["400"],
)


class AutoSchema(ErrorsAutoSchema):
    def get_operation_id(self):
        names = getattr(self.view, "operation_ids", None) or {}
        name = names.get(getattr(self.view, "action", None)) or names.get(self.method.lower())
        return name or super().get_operation_id()

    def get_auth(self):
        # The anonymous requests' counter (integrations_site/throttling.py) is no way to authenticate.
        from integrations_site.throttling import AnonymousLimit

        every = self.view.get_authenticators
        self.view.get_authenticators = lambda: [each for each in every() if not isinstance(each, AnonymousLimit)]
        try:
            return super().get_auth()
        finally:
            del self.view.get_authenticators

    def conditional(self):
        """The conditional header this operation takes (integrations_site/conditional.py), or None."""
        action = getattr(self.view, "action", None)
        if action == "retrieve" and self.method == "GET" and getattr(self.view, "etags", False):
            return conditional.IF_NONE_MATCH
        if action in ("update", "partial_update") and isinstance(self.view, conditional.ConditionalMixin):
            return conditional.IF_MATCH
        return None

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # A choice of several that may not be empty (allow_empty=False: a webhook's events) says so.
        if isinstance(field, serializers.MultipleChoiceField) and not field.allow_empty:
            schema.setdefault("minItems", 1)
        return schema

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if idempotency.is_idempotent(self.view):
            parameters = [*parameters, idempotency.PARAMETER]
        if self.conditional() is not None:
            etag = conditional.ETAG_ON_READ if self.conditional() is conditional.IF_NONE_MATCH \
                else conditional.ETAG_ON_CHANGE
            parameters = [*parameters, self.conditional(), etag]
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if idempotency.is_idempotent(self.view) and "422" not in responses:
            responses["422"] = self._get_response_for_code(KEY_REUSED, "422", direction=direction)
        if self.conditional() is conditional.IF_NONE_MATCH:
            responses.setdefault("304", {"description": "Not modified: the ETag given in If-None-Match is current.",
                                         "headers": {"ETag": {"schema": {"type": "string"}, "required": True,
                                                              "description": conditional.ETAG_ON_READ.description}}})
        if self.conditional() is conditional.IF_MATCH:
            responses.setdefault("412", self._get_response_for_code(STALE, "412", direction=direction))
        for code, response in responses.items():
            if not response.get("description") and code in DESCRIPTIONS:
                response["description"] = DESCRIPTIONS[code]
        return responses

    def _should_add_validation_error_response(self):
        # A cursor this API did not give is a 400 too (runs/api.py, Cursor).
        # An Idempotency-Key that is empty or too long is a 400 too (integrations_site/idempotency.py).
        paginated = self._is_list_view() and isinstance(self._get_paginator(), CursorPagination)
        return paginated or idempotency.is_idempotent(self.view) or super()._should_add_validation_error_response()

    def _get_error_response_examples(self):
        return [*super()._get_error_response_examples(), VALIDATION_EXAMPLE]

    def reads_body(self):
        return self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None

    # Only an operation that reads a body can meet a body it cannot parse or a type it does not take.
    def _should_add_parse_error_response(self):
        return self.reads_body() and super()._should_add_parse_error_response()

    def _should_add_http415_error_response(self):
        return self.reads_body() and super()._should_add_http415_error_response()


def refuse_unknown_request_fields(result, generator, request, public):
    """drf-spectacular hook: request bodies say what the API does (KnownFieldsOnly): a field that is not
    declared is refused by name, so every request component (rows' too) has ``additionalProperties: false``.
    Read-only fields sent back as read are ignored, so they stay declared, as readOnly."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object" and "properties" in component:
            component.setdefault("additionalProperties", False)
    return result


def no_empty_query_values(result, generator, request, public):
    """drf-spectacular hook: a query parameter given empty (``?slug=``) is a 400 (integrations/filters.py),
    so a text parameter says ``minLength: 1``; ``cursor`` alone takes "" (the first page)."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema", {})
                if parameter.get("in") == "query" and parameter["name"] != "cursor" and schema.get("type") == "string" \
                        and "enum" not in schema:
                    schema.setdefault("minLength", 1)
    return result
