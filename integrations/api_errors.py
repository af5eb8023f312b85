"""The API's one error shape, its codes and its schema (drf-standardized-errors).

Every error answer of every endpoint is
``{"type": "validation_error" | "client_error" | "server_error", "errors": [{"code", "detail", "attr"}]}``:
``code`` is machine-readable, ``detail`` the product's words, ``attr`` the field or row at fault
(``stop_conditions.2.value``, ``actions.deploy.url``; null when the fault is not one field's).
The package's handler flattens DRF's nested faults; this module adds the codes the engine's
refusals carry, the project's exceptions, and the one schema component every error response uses.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from drf_standardized_errors.formatter import flatten_errors
from drf_standardized_errors.handler import ExceptionHandler
from rest_framework import exceptions, serializers, status
from rest_framework.exceptions import ErrorDetail

VALIDATION_ERROR, CLIENT_ERROR, SERVER_ERROR = "validation_error", "client_error", "server_error"


# --- exceptions -----------------------------------------------------------------------------------


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This cannot be done in the object's present state."
    default_code = "conflict"


class TooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = ("This Idempotency-Key was used for a different request (another URL, query or body, "
                      "such as another action, variables or rehearsal).")
    default_code = "idempotency_key_reused"


class BadQuery(exceptions.ValidationError):
    """A query parameter that does not fit (a filter's value, a cursor): 400, ``attr`` naming the parameter."""

    def __init__(self, name, message, code="invalid"):
        super().__init__({name: [ErrorDetail(str(message), code=code)]})


def fault(message, code):
    """``message`` with its machine-readable ``code``, to put where DRF's faults go (a str, so words stay)."""
    return ErrorDetail(str(message), code=code)


# --- the handler ----------------------------------------------------------------------------------


class ApiExceptionHandler(ExceptionHandler):
    """drf-standardized-errors' handler, also for Django's ValidationError (a model's full_clean):
    a validation error with its fields and codes, as a serializer's would be."""

    def convert_known_exceptions(self, exc):
        if isinstance(exc, DjangoValidationError):
            return exceptions.ValidationError(django_faults(exc))
        return super().convert_known_exceptions(exc)


def django_faults(exc):
    """A Django ValidationError as DRF's detail: by field when it has fields, each message with its code."""
    if hasattr(exc, "error_dict"):
        return {name: [fault(message, error.code or "invalid") for error in errors for message in error.messages]
                for name, errors in exc.error_dict.items()}
    return [fault(message, error.code or "invalid") for error in exc.error_list for message in error.messages]


def error_body(status_code, message, code, attr=None):
    """The body of an error answered outside DRF's views (the API's 404, Django's handlers)."""
    kind = CLIENT_ERROR if 400 <= status_code < 500 else SERVER_ERROR
    return {"type": kind, "errors": [{"code": code, "detail": message, "attr": attr}]}


def error_json(status_code, message, code, attr=None, **kwargs):
    return JsonResponse(error_body(status_code, message, code, attr), status=status_code, **kwargs)


def flat(detail):
    """DRF's nested faults (``{"actions": {"deploy": {"url": [...]}}}``) as the shape's list of errors."""
    return [{"code": error.code, "detail": error.detail, "attr": error.attr} for error in flatten_errors(detail)]


# --- the schema -----------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="What went wrong, for code: `required`, `invalid`, `unknown_field`, "
                                           "`not_found`, `slug_exists`, `run_finished`...")
    detail = serializers.CharField(help_text="What went wrong, in words.")
    attr = serializers.CharField(
        allow_null=True,
        help_text="The field or row at fault, its path joined by dots (`stop_conditions.2.value`, "
                  "`actions.deploy.url`, `variables.env`); null when the fault is not one field's.",
    )


class ErrorResponseSerializer(serializers.Serializer):
    """Every error answer of the API: one error, or every fault of a refused body at once."""

    type = serializers.ChoiceField(
        choices=[VALIDATION_ERROR, CLIENT_ERROR, SERVER_ERROR],
        help_text="validation_error: the body or a parameter does not fit (400); client_error: any other "
                  "4xx; server_error: 5xx.",
    )
    errors = ErrorSerializer(many=True)


def error_response(description, *examples):
    """A documented error response: ``examples`` are (name, code, detail) or (name, code, detail, attr)."""
    return OpenApiResponse(
        ErrorResponseSerializer, description=description,
        examples=[OpenApiExample(example[0], value=example_body(*example[1:])) for example in examples],
    )


def example_body(code, detail, attr=None):
    kind = VALIDATION_ERROR if attr is not None else CLIENT_ERROR
    return {"type": kind, "errors": [{"code": code, "detail": detail, "attr": attr}]}
