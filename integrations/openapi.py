"""OpenAPI pieces the API's views share: the error responses each operation can give."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in words.")


def detail_response(description, example):
    """A documented error response whose body is {"detail": "..."}."""
    return OpenApiResponse(
        ErrorSerializer, description=description, examples=[OpenApiExample("Error", value={"detail": example})]
    )


FIELD_ERRORS = OpenApiResponse(
    {
        "type": "object",
        "additionalProperties": {},
        "description": "Each field at fault with its messages. Rows of a list are a list of the same length, "
        "{} for a row without faults; non_field_errors holds faults of the whole.",
    },
    description="Bad input: nothing was saved.",
    examples=[
        OpenApiExample(
            "Field errors",
            value={
                "url": ["This URL is relative but the integration has no base URL: write an absolute URL "
                        "(https://host/path) or set the integration's base URL."],
                "stop_conditions": [{}, {"value": ["{{ job_idd }} names nothing that can fill it. "
                                                   "Did you mean {{ job_id }}? Available: …"]}],
            },
        )
    ],
)

NOT_AUTHENTICATED = detail_response(
    "No credentials, or bad ones: send Authorization: Token <key> (or sign in, for the browsable API).",
    "Authentication credentials were not provided.",
)
PERMISSION_DENIED = detail_response(
    "Signed in, but without the permission this needs (Integrations Viewers may only read).",
    "You do not have permission to perform this action.",
)
NOT_FOUND = detail_response("Nothing has this id.", "No Integration matches the given query.")


class AutoSchema(SpectacularAutoSchema):
    """Documents, beside an operation's own responses, the errors it can give.

    400 where it reads a body or filters, 401 and 403 everywhere (every view
    here needs credentials and a permission), 404 where the path names an object.
    """

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, response in self.error_responses().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return responses

    def error_responses(self):
        errors = {}
        reads_body = self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None
        filters = self._is_list_view() and getattr(self.view, "filterset_fields", None)
        if reads_body or filters:
            errors["400"] = FIELD_ERRORS
        errors["401"] = NOT_AUTHENTICATED
        errors["403"] = PERMISSION_DENIED
        if "{" in self.path:
            errors["404"] = NOT_FOUND
        return errors
