"""The callback endpoint: the one door a run opens to the outside; and the health and metrics endpoints.

No authentication but the run's unguessable token; the body (JSON or XML)
is evaluated by the run's stop conditions. A DRF view so that the API
schema documents it; it reads the raw body itself and never DRF's parsers.
"""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from prometheus_client import CONTENT_TYPE_LATEST
from rest_framework.views import APIView

from . import monitoring, services
from integrations.api_errors import error_body, error_response
from integrations_site.throttling import CallbackThrottle
from .api import refusal_code
from .models import Status


class AlwaysJSON(BaseContentNegotiation):
    """Answer in JSON whatever the service's Accept header says: a callback must not fail on a 406."""

    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _refused(description, name, detail, code):
    return error_response(description, (name, code, detail))


def refusal(status, detail, code):
    return Response(error_body(status, detail, code), status=status)


class CallbackView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    parser_classes = []  # it reads the raw body itself
    throttle_classes = [CallbackThrottle]  # per callback token, not per address
    operation_ids = {"post": "postCallback"}
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AlwaysJSON

    @extend_schema(
        summary="Post a callback to a run",
        description="The service a run waits on posts here (the run's `callback_url`): the body, JSON or XML, "
                    "is judged by the action's stop conditions; no match keeps the run waiting. No credentials: "
                    "the token is the key. A callback that arrives before the run's first request has finished "
                    "is kept and judged once the run waits.",
        auth=[],
        request={"application/json": OpenApiTypes.ANY, "application/xml": OpenApiTypes.STR,
                 "text/plain": OpenApiTypes.STR},
        responses={
            202: OpenApiResponse(
                inline_serializer("CallbackAccepted", {
                    "run": serializers.IntegerField(),
                    "status": serializers.ChoiceField(choices=Status.choices),
                }),
                description="Logged and judged; the run's status after it.",
            ),
            404: _refused("No run has this callback token.", "Unknown token", "No run has this callback token.",
                          "run_not_found"),
            409: _refused("The run is finished, or does not wait for callbacks.", "Finished",
                          "The run is already succeeded.", "run_finished"),
            411: _refused("A chunked body the server cannot read: send a Content-Length.", "Chunked",
                          "Send the callback with a Content-Length (chunked bodies are not read here).",
                          "length_required"),
            413: _refused("The body is larger than INTEGRATIONS_MAX_CALLBACK_BYTES.", "Too large",
                          "The callback body is larger than 1048576 bytes.", "too_large"),
        },
    )
    def post(self, request, token):
        limit = settings.INTEGRATIONS_MAX_CALLBACK_BYTES
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if declared.isdigit() and int(declared) > limit:
            return refusal(413, f"The callback body is larger than {limit} bytes.", "too_large")
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            # Django reads a body up to its Content-Length, so a chunked one would read as empty. A server
            # that decodes chunks itself (gunicorn) says so with wsgi.input_terminated; otherwise refuse.
            if not request.META.get("wsgi.input_terminated"):
                return refusal(411, "Send the callback with a Content-Length (chunked bodies are not read here).",
                               "length_required")
            body = request.META["wsgi.input"].read(limit + 1)
        else:
            body = request._request.read(limit + 1)
        if len(body) > limit:
            return refusal(413, f"The callback body is larger than {limit} bytes.", "too_large")
        headers = {key: value for key, value in request.headers.items() if key.lower() not in ("cookie",)}
        try:
            run = services.handle_callback(token, body, headers)
        except services.RunNotFound as exc:
            return refusal(404, str(exc), refusal_code(exc))
        except services.RunRefused as exc:
            return refusal(409, str(exc), refusal_code(exc))
        return Response({"run": run.pk, "status": run.status}, status=202)



# --- for operators' tools -------------------------------------------------------------------------


def health_view(request, workers=True):
    """200 when the database answers and (unless only the web is asked about) a cluster's heartbeat is
    fresh; 503 with the reason otherwise. No credentials: load balancers and supervisors ask."""
    found = monitoring.health(workers=workers)
    problems = found.problems
    body = {"status": "unavailable" if problems else "ok", "database": found.database}
    if workers:
        body["clusters"] = found.clusters
    if problems:
        body["problems"] = problems
    return JsonResponse(body, status=503 if problems else 200)


def metrics_view(request):
    """Prometheus' text format; with INTEGRATIONS_METRICS_TOKEN set, only for `Authorization: Bearer <it>`."""
    token = settings.INTEGRATIONS_METRICS_TOKEN
    if token and not constant_time_compare(request.headers.get("Authorization", ""), f"Bearer {token}"):
        return HttpResponse("A bearer token is needed.\n", status=401, content_type="text/plain",
                            headers={"WWW-Authenticate": "Bearer"})
    return HttpResponse(monitoring.prometheus_text(), content_type=CONTENT_TYPE_LATEST)
