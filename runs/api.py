"""REST API of runs: start, list, read (with its chain), exchanges, refire, cancel, start a waiting step,
confirm or reject a success (viewsets registered on the site's router).

The views are thin: the engine's services start, refire and cancel runs, and
their domain errors become HTTP answers here (RunRefused and its kinds 409,
a ValidationError of the variables 400).
"""

import contextlib
import datetime as dt

import django_filters
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.utils import timezone
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.reverse import reverse

from integrations import api_errors, safejson
from integrations.api_errors import BadQuery, KeyReused
from integrations.filters import IdFilter, StrictFilterSet
from integrations.models import Action
from integrations.parsers import field_errors
from integrations.serializers import KnownFieldsOnly
from integrations.permissions import CanOperateRuns
from integrations_site import conditional
from integrations_site.idempotency import idempotent

from . import callback_urls, chains, services, waiting
from .downloads import file_response
from .models import Exchange, Run, RunFile, Status

# --- errors ---------------------------------------------------------------------------------------


class Conflict(api_errors.Conflict):
    default_detail = "The run cannot do that now."


# The machine-readable code of each refusal of the engine (README, "API conventions").
REFUSAL_CODES = [
    (services.RunNotFound, "run_not_found"),
    (services.RunFinished, "run_finished"),
    (services.NotCancelable, "not_cancelable"),
    (services.NotRefireable, "not_refireable"),
    (services.NotWaitingForCallback, "not_waiting_for_callback"),
    (services.NotWaiting, "not_waiting"),
    (services.RunRefused, "run_refused"),
]


def refusal_code(exc):
    return next(code for kind, code in REFUSAL_CODES if isinstance(exc, kind))


@contextlib.contextmanager
def refusals():
    """Turn the engine's refusals into API errors: bad variables 400, anything else it refuses 409."""
    try:
        yield
    except DjangoValidationError as exc:
        raise serializers.ValidationError({"variables": variable_errors(exc)}) from None
    except services.RunRefused as exc:
        raise Conflict(str(exc), code=refusal_code(exc)) from None


def variable_errors(exc):
    """The faults of a ValidationError raised for variables: by variable name, or a list for all of them."""
    faults = api_errors.django_faults(exc)
    if isinstance(faults, dict) and "variables" in faults:
        return faults["variables"]
    return faults


error = api_errors.error_response
NO_RUN = error("No run has this id.", ("Unknown run", "not_found", "No run 42."))

# --- documents ------------------------------------------------------------------------------------

RUN_EXAMPLE = {
    "id": 42,
    "url": "http://127.0.0.1:8000/api/runs/42/",
    "status": "polling",
    "reason": "Polling.",
    "action": 3,
    "action_url": "http://127.0.0.1:8000/api/actions/3/",
    "integration": 1,
    "rehearsal": False,
    "variables": {"job_name": "nightly", "seconds": "5"},
    "fields": {"job_id": "j-81f2", "job_status": "running"},
    "attempt": 3,
    "polls": 2,
    "created_at": "2026-11-23T18:40:00.120000Z",
    "started_at": "2026-11-23T18:40:00.180000Z",
    "finished_at": None,
    "next_poll_at": "2026-11-23T18:40:03.210000Z",
    "deadline_at": "2026-11-23T18:42:00.180000Z",
    "callback_url": "http://127.0.0.1:8000/api/callbacks/9Xq0V2cN3kq3W7yZ0fQn8h1m5tB4rD6sLw2eP0aJ-gU/",
    "exchanges_url": "http://127.0.0.1:8000/api/runs/42/exchanges/",
    "files_url": "http://127.0.0.1:8000/api/runs/42/files/",
    "refired_from": 40,
    "refires": [],
    "previous_run": None,
    "created_by": "alice",
    "can_cancel": True,
    "can_refire": False,
    "can_start": False,
    "can_confirm": False,
    "schedule": None,
    "tick_at": None,
}
RUN_DETAIL_EXAMPLE = {
    **RUN_EXAMPLE,
    "previous_run": 41,
    "chain": [
        {"step": 1, "run": 41, "url": "http://127.0.0.1:8000/api/runs/41/", "action": 2, "action_name": "Create order",
         "status": "succeeded", "attempts": 1},
        {"step": 2, "run": 42, "url": "http://127.0.0.1:8000/api/runs/42/", "action": 3, "action_name": "Pay order",
         "status": "polling", "attempts": 2},
    ],
    "chain_status": "running",
}


@extend_schema_serializer(examples=[OpenApiExample("A polling run", value=RUN_EXAMPLE, response_only=True)])
class RunSerializer(serializers.ModelSerializer):
    """A run: what it was given, where it stands, what it stored, and links to its log and action."""

    url = serializers.HyperlinkedIdentityField(view_name="run-detail")
    action_url = serializers.SerializerMethodField()
    variables = serializers.DictField(read_only=True)
    fields = serializers.DictField(read_only=True, help_text="Values stored from responses (secrets as ***).")
    callback_url = serializers.SerializerMethodField(
        help_text="Where the service posts callbacks. Its token is the only key a callback needs, so it decides "
                  "the run: null for those who may not change runs (runs.change_run), who also see the token "
                  "as *** wherever the run's reason, variables, fields or exchanges quote it."
    )
    exchanges_url = serializers.HyperlinkedIdentityField(view_name="run-exchanges")
    files_url = serializers.HyperlinkedIdentityField(
        view_name="run-files", help_text="The files the run kept (save_as_file), to download."
    )
    refires = serializers.PrimaryKeyRelatedField(many=True, read_only=True, help_text="Runs refired from this one.")
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="Who started it (null: a command)."
    )
    can_cancel = serializers.BooleanField(read_only=True)
    can_refire = serializers.BooleanField(read_only=True)
    can_start = serializers.BooleanField(read_only=True, help_text="A step of a chain that waits for a start.")
    can_confirm = serializers.BooleanField(read_only=True, help_text="A success that waits for confirmation.")
    previous_run = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True, help_text="The run of the previous step of its chain."
    )

    class Meta:
        model = Run
        fields = [
            "id", "url", "status", "reason", "action", "action_url", "integration", "rehearsal", "variables",
            "fields", "attempt", "polls", "created_at", "started_at", "finished_at", "next_poll_at", "deadline_at",
            "callback_url", "exchanges_url", "files_url", "refired_from", "refires", "previous_run", "created_by",
            "can_cancel", "can_refire", "can_start", "can_confirm", "schedule", "tick_at",
        ]
        read_only_fields = fields
        extra_kwargs = {"schedule": {"help_text": "The schedule that started it (null: none)."}}

    def get_action_url(self, run) -> str:
        # The definitions API serves actions at /api/actions/{id}/ (SPEC, "Interfaces").
        return reverse("api-root", request=self.context.get("request")) + f"actions/{run.action_id}/"

    def get_callback_url(self, run) -> str | None:
        return run.callback_url if may_see_callback_urls(self.context) else None

    def to_representation(self, run):
        data = super().to_representation(run)
        if not may_see_callback_urls(self.context):
            for name in callback_urls.RUN_TEXT:
                data[name] = callback_urls.hide(data[name], run.callback_token)
        return data


def may_see_callback_urls(context):
    """Whether the user the serializer answers (none: nobody) may see callback URLs (runs/callback_urls.py)."""
    return callback_urls.may_see(getattr(context.get("request"), "user", None))


class RunFileSerializer(serializers.ModelSerializer):
    """A file the run kept: a response body saved by the action's save_as_file."""

    download_url = serializers.SerializerMethodField()

    class Meta:
        model = RunFile
        fields = ["name", "content_type", "size", "created_at", "download_url"]
        read_only_fields = fields

    def get_download_url(self, run_file) -> str:
        return reverse("run-file", args=[run_file.run_id, run_file.name], request=self.context.get("request"))


class ChainStepSerializer(serializers.Serializer):
    """A step of a chain: its latest attempt (the one the chain went on from, if any)."""

    step = serializers.IntegerField(source="number", help_text="1 for the chain's first action.")
    run = serializers.IntegerField(source="run.pk", help_text="The step's latest attempt.")
    url = serializers.SerializerMethodField()
    action = serializers.IntegerField(source="run.action_id")
    action_name = serializers.CharField(source="run.action.name")
    status = serializers.ChoiceField(source="run.status", choices=Status.choices)
    attempts = serializers.IntegerField(help_text="Runs of this step: the first and its refires.")

    def get_url(self, step) -> str:
        return reverse("run-detail", args=[step.run.pk], request=self.context.get("request"))


@extend_schema_serializer(examples=[OpenApiExample("A run in a chain", value=RUN_DETAIL_EXAMPLE,
                                                   response_only=True)])
class RunDetailSerializer(RunSerializer):
    """A run, with the chain it belongs to (a run outside any chain is a chain of one step)."""

    chain = serializers.SerializerMethodField()
    chain_status = serializers.SerializerMethodField()

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "chain", "chain_status"]
        read_only_fields = fields

    def steps(self, run):
        if getattr(self, "_steps_of", None) != run.pk:
            self._steps_of, self._steps = run.pk, chains.chain_of(run)
        return self._steps

    @extend_schema_field(ChainStepSerializer(many=True))
    def get_chain(self, run):
        return ChainStepSerializer(self.steps(run), many=True, context=self.context).data

    @extend_schema_field(serializers.ChoiceField(choices=chains.ChainStatus.CHOICES))
    def get_chain_status(self, run):
        """running while a step works, waiting while one waits for a person, failed when a step's latest
        attempt failed, timed out or was cancelled, succeeded when the last step succeeded."""
        return chains.chain_status(self.steps(run))


class ExchangeSerializer(serializers.ModelSerializer):
    """One logged HTTP call of a run, as sent and received, secrets as ***; the run's callback token as *** too
    for those who may not change runs (a request may carry {{ run.callback_url }})."""

    request_headers = serializers.DictField(child=serializers.CharField(), read_only=True)
    response_headers = serializers.DictField(child=serializers.CharField(), read_only=True)

    def to_representation(self, exchange):
        data = super().to_representation(exchange)
        if not may_see_callback_urls(self.context):
            for name in callback_urls.EXCHANGE_TEXT:
                data[name] = callback_urls.hide(data[name], exchange.run.callback_token)
        return data

    class Meta:
        model = Exchange
        fields = [
            "id", "run", "kind", "attempt", "sent", "method", "url", "request_headers", "request_body",
            "status_code", "response_headers", "response_body", "response_size", "response_truncated",
            "duration_ms", "error", "failed_part", "decision", "repeat_count", "last_attempt", "created_at",
            "last_at", "pruned_count",
        ]
        read_only_fields = fields


class VariablesField(serializers.DictField):
    """A run's variables: any JSON object that can be stored (no NUL, no lone surrogate, not too deep).

    JSON bodies are checked by the parser already; a form's values are checked here.
    """

    def to_internal_value(self, data):
        variables = super().to_internal_value(data)
        try:
            safejson.check(variables)
        except safejson.Fault as fault:
            raise serializers.ValidationError(field_errors(fault.path, fault.message)) from None
        return variables


class StartRunSerializer(KnownFieldsOnly, serializers.Serializer):
    variables = VariablesField(required=False, default=dict, help_text="Values of the action's inputs.")
    rehearsal = serializers.BooleanField(
        default=False, help_text="Send nothing for actions that do not execute in rehearsal; log what would be sent."
    )


class RefireSerializer(KnownFieldsOnly, serializers.Serializer):
    variables = VariablesField(required=False, help_text="Edited variables; the old run's when left out.")


class RejectSerializer(KnownFieldsOnly, serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000,
                                   help_text="Why the success is rejected, in words (kept in the run's reason).")


# --- pagination and filters -----------------------------------------------------------------------


# The types a download is served as (runs/downloads.py): the type the service declared, application/octet-stream
# when it declared none or one a browser would render; the schema names the common ones and */* for the others.
DOWNLOAD_TYPES = ("application/octet-stream", "application/pdf", "application/json", "application/zip", "text/csv",
                  "text/plain", "image/png", "*/*")


class AnyAccept(DefaultContentNegotiation):
    """A download answers whatever Accept says (application/octet-stream, a PDF's type): its errors in JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class Cursor(CursorPagination):
    """Cursor pagination; a cursor this API did not give (unreadable, or whose position is no value of the
    ordering field) is a 400 naming the parameter, code ``invalid_cursor``."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        """``page_size``: a whole number from 1 (more than ``max_page_size`` gives that many); anything else,
        an empty value or ``null`` too, is a 400 naming it, as for a filter's value."""
        if self.page_size_query_param not in request.query_params:
            return self.page_size
        given = request.query_params[self.page_size_query_param]
        try:
            size = int(given)
        except ValueError:
            size = 0
        if size < 1 or given.strip() != given:
            raise BadQuery(self.page_size_query_param, f"Give a whole number from 1 (at most {self.max_page_size} "
                                                        "are given).", code="invalid")
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {**parameter["schema"], "minimum": 1}
                parameter["description"] = f"How many per page, from 1; more than {self.max_page_size} gives " \
                                           f"{self.max_page_size}; {self.page_size} when left out."
        return parameters

    def paginate_queryset(self, queryset, request, view=None):
        self.position_field = queryset.model._meta.get_field(self.ordering.lstrip("-"))
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise self.bad_cursor() from None
        if cursor is None or cursor.position is None:
            return cursor
        try:
            position = self.position_field.to_python(cursor.position)
            if isinstance(position, dt.datetime):
                position = in_utc(position)
        except (DjangoValidationError, OverflowError, ValueError):
            raise self.bad_cursor() from None
        return cursor._replace(position=str(position))

    def bad_cursor(self):
        return BadQuery(self.cursor_query_param, self.invalid_cursor_message, code="invalid_cursor")


def in_utc(moment):
    """``moment`` in UTC; PostgreSQL refuses UTC offsets past 15:59, which Python allows."""
    if timezone.is_naive(moment):
        raise ValueError("A naive date and time.")
    return moment.astimezone(dt.timezone.utc)


class NewestFirst(Cursor):
    ordering = "-created_at"


class InOrder(Cursor):
    ordering = "id"


class UTCDateTimeField(IsoDateTimeField):
    """An ISO 8601 date and time, turned to UTC for the database; one that is not a time in UTC is invalid."""

    def to_python(self, value):
        try:
            moment = super().to_python(value)
            return None if moment is None else in_utc(moment)
        except OverflowError:
            raise DjangoValidationError(self.error_messages["invalid"], code="invalid") from None


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class RunFilter(StrictFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Status.choices, help_text="One or more statuses.")
    action = IdFilter(help_text="Action id.")
    integration = IdFilter(help_text="Integration id.")
    created_after = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte",
                                      help_text="Created at or after (ISO 8601).")
    created_before = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt",
                                       help_text="Created before (ISO 8601).")
    schedule = IdFilter(help_text="Schedule id: the runs it started.")

    class Meta:
        model = Run
        fields = ["status", "action", "integration", "created_after", "created_before", "schedule"]


# --- starting a run -------------------------------------------------------------------------------

@extend_schema_view(
    create=extend_schema(
        summary="Start a run of an action",
        description="Validates the variables against the action's inputs and answers 201 with the run, "
                    "pending; a worker sends its first request as soon as it is due. Nothing is sent when "
                    "the request is refused.",
        parameters=[OpenApiParameter("action_id", int, OpenApiParameter.PATH, description="The action's id.")],
        request=StartRunSerializer,
        responses={
            201: OpenApiResponse(RunSerializer, description="The run, pending: a worker sends its first request."),
            404: error("No action has this id.", ("Unknown action", "not_found", "No action 3.")),
            409: error("The action cannot run.",
                       ("Archived", "run_refused",
                        "The integration Sandbox jobs is archived: its actions cannot run.")),
            422: error("The Idempotency-Key was used for another request.", ("Key reused", KeyReused.default_code,
                                                                        KeyReused.default_detail)),
        },
    ),
)
class ActionRunsViewSet(viewsets.GenericViewSet):
    """Start runs of an action: POST /api/actions/{action_id}/runs/."""

    serializer_class = StartRunSerializer
    permission_classes = [CanOperateRuns]
    operation_ids = {"create": "startRun"}

    @idempotent
    def create(self, request, action_id):
        action = self.action_or_404(action_id)
        start = self.get_serializer(data=request.data)
        start.is_valid(raise_exception=True)
        with refusals():
            return self.started(start_run(action, start.validated_data, request.user))

    def started(self, run):
        data = RunSerializer(run_for_api(run.pk), context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": str(data["url"])})

    def action_or_404(self, action_id):
        try:
            return Action.objects.select_related("integration").get(pk=action_id)
        except (Action.DoesNotExist, ValueError, TypeError):
            raise NotFound(f"No action {action_id}.") from None


def start_run(action, data, user):
    return services.start_run(action, data["variables"], rehearsal=data["rehearsal"], user=user)


def run_for_api(pk):
    return runs_for_api().get(pk=pk)


def runs_for_api():
    return Run.objects.select_related("action", "created_by").prefetch_related(
        Prefetch("refires", queryset=Run.objects.order_by("id").only("id", "refired_from"))
    )


# --- reading, refiring, cancelling ----------------------------------------------------------------

RUN_ERRORS = {404: NO_RUN}


class WaitSerializer(serializers.Serializer):
    """The query of a run read that waits for a change: ?wait=SECONDS[&status=STATUS]."""

    SECONDS = "Give the seconds to wait: a number, 0 or more."

    wait = serializers.FloatField(required=False, min_value=0, error_messages={
        "invalid": SECONDS, "min_value": SECONDS, "max_string_length": SECONDS})
    status = serializers.ChoiceField(choices=Status.choices, required=False, error_messages={
        "invalid_choice": "\"{input}\" is no status; give one of " + ", ".join(Status.values) + "."})

    def validate_wait(self, seconds):
        return min(seconds, settings.INTEGRATIONS_API_MAX_WAIT)



WAIT_PARAMETERS = [
    OpenApiParameter(
        "wait", {"type": "number", "minimum": 0}, required=False,
        description="Seconds to wait for the run's status to change before answering (at most "
                    "INTEGRATIONS_API_MAX_WAIT, 60 by default; more waits that long). The answer says why it "
                    "came in its `Wait-Outcome` header.",
    ),
    OpenApiParameter(
        "status", str, enum=Status.values, required=False,
        description="With `wait`: the status you last saw; the answer comes once the run's status is another "
                    "(at once if it is already). Without it, the status the run has when the request comes in. Without "
                    "`wait` nothing is waited for: the answer comes at once, whatever the status.",
    ),
    OpenApiParameter(
        "Wait-Outcome", str, OpenApiParameter.HEADER, response=[200],
        enum=[waiting.Outcome.CHANGED, waiting.Outcome.TIMEOUT, waiting.Outcome.ENDED],
        description="Only when `wait` was given: `changed`, the status is no longer the one seen; `timeout`, "
                    "the time was up first (the run as it stands); `ended`, the run had already finished.",
    ),
]


@extend_schema_view(
    list=extend_schema(
        summary="List runs, newest first",
        description="Filtered by status (repeatable), action, integration and creation time; one page at a "
                    "time, `next` and `previous` link the pages around it.",
        responses={200: RunSerializer(many=True)},
    ),
    retrieve=extend_schema(
        summary="Read a run",
        description="With `?wait=SECONDS` the answer comes as soon as the run's status changes (from the one it "
                    "had when the request came in, or from `status`), or when the time is up; repeat until "
                    "`status` is no longer pending, running, polling or waiting_callback (waiting_start and "
                    "waiting_confirmation wait for a person: start, confirm or reject). `chain` lists the "
                    "steps of its chain, each step's latest attempt.",
        parameters=WAIT_PARAMETERS,
        responses={200: RunDetailSerializer, **RUN_ERRORS, 400: error(
            "A `wait` or `status` that cannot be read.",
            ("Bad wait", "invalid", "Give the seconds to wait: a number, 0 or more.", "wait"))},
    ),
)
class RunViewSet(viewsets.ReadOnlyModelViewSet):
    """Runs: list and read them, read their exchanges, refire and cancel them."""

    serializer_class = RunSerializer
    permission_classes = [CanOperateRuns]
    operation_ids = {
        "list": "listRuns", "retrieve": "getRun", "exchanges": "listRunExchanges", "files": "listRunFiles",
        "file": "downloadRunFile", "refire": "refireRun", "cancel": "cancelRun", "start": "startWaitingRun",
        "confirm": "confirmRun", "reject": "rejectRun",
    }
    pagination_class = NewestFirst
    filterset_class = RunFilter
    etags = True  # on the run read alone (integrations_site/conditional.py)

    def get_queryset(self):
        return runs_for_api()

    def get_serializer_class(self):
        return RunDetailSerializer if self.action == "retrieve" else super().get_serializer_class()

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            raise NotFound(f"No run {self.kwargs['pk']}.") from None

    def filter_queryset(self, queryset):
        # The list's filters are not the read's: its `status` is the one a waiter saw.
        return queryset if self.action == "retrieve" else super().filter_queryset(queryset)

    def retrieve(self, request, *args, **kwargs):
        query = WaitSerializer(data=request.query_params.dict())  # a plain dict: "?wait=" is a bad value, not none
        query.is_valid(raise_exception=True)
        if "wait" not in query.validated_data:
            return conditional.tagged(request, super().retrieve(request, *args, **kwargs))
        run = self.get_object()
        waiting.let_go_of_connection()
        outcome = waiting.wait_for_change(run, query.validated_data["wait"], seen=query.validated_data.get("status"))
        response = super().retrieve(request, *args, **kwargs)
        response["Wait-Outcome"] = outcome
        waiting.let_go_of_connection()
        return conditional.tagged(request, response)

    @extend_schema(
        summary="The run's exchanges (its log of HTTP calls), in order",
        description="Every request, poll, callback, cancel webhook and OAuth token call, as sent and "
                    "received, secrets as ***. A poll answered as the one before adds to that exchange's "
                    "`repeat_count`. A long log keeps its first and last exchanges (the setting "
                    "INTEGRATIONS_EXCHANGES_KEPT_PER_RUN); one row of kind `pruned` stands in the place of "
                    "those between: `pruned_count` of them, attempts `attempt` to `last_attempt`, "
                    "from `created_at` to `last_at`.",
        responses={200: ExchangeSerializer(many=True), **RUN_ERRORS},
    )
    @action(detail=True, serializer_class=ExchangeSerializer, pagination_class=InOrder, filter_backends=[])
    def exchanges(self, request, pk=None):
        run = self.get_object()
        page = self.paginate_queryset(run.exchanges.all())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="The files the run kept, by name",
        description="Response bodies kept by the action's `save_as_file`; a later action of the chain can "
                    "upload them (`files`). Removed with the run's exchanges when they are pruned.",
        responses={200: RunFileSerializer(many=True), **RUN_ERRORS},
    )
    @action(detail=True, serializer_class=RunFileSerializer, pagination_class=InOrder, filter_backends=[])
    def files(self, request, pk=None):
        run = self.get_object()
        page = self.paginate_queryset(run.files.all())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="Download a file the run kept",
        description="Always an attachment (Content-Disposition), with `X-Content-Type-Options: nosniff`; a "
                    "type a browser would render (HTML, XML, SVG, scripts) is served as "
                    "application/octet-stream.",
        parameters=[OpenApiParameter("name", str, OpenApiParameter.PATH, description="The file's name.")],
        responses={
            **{(200, kind): OpenApiResponse(OpenApiTypes.BINARY, description="The file.") for kind in DOWNLOAD_TYPES},
            404: error("No run has this id, or it has no file of this name.",
                       ("Unknown file", "not_found", "Run 42 has no file 'report.pdf'.")),
        },
    )
    @action(detail=True, url_path=r"files/(?P<name>[^/]+)", url_name="file", filter_backends=[],
            content_negotiation_class=AnyAccept)
    def file(self, request, pk=None, name=None):
        run = self.get_object()
        # A name holding NUL is no file's name (PostgreSQL would refuse even the question).
        run_file = None if safejson.unstorable(name) else run.files.filter(name=name).first()
        if run_file is None:
            raise NotFound(f"Run {run.pk} has no file {name!r}.")
        return file_response(run_file)

    @extend_schema(
        summary="Refire a failed, timed-out or cancelled run",
        description="Starts a new run of the same action with the same variables (or the ones given), "
                    "linked to this one by `refired_from`.",
        request=RefireSerializer,
        responses={
            201: OpenApiResponse(RunSerializer, description="The new run, linked to this one by refired_from."),
            **RUN_ERRORS,
            409: error("The run cannot be refired (it has not failed, timed out or been cancelled), or its "
                       "action cannot run.",
                       ("Not refireable", "not_refireable",
                        "Only failed, timed-out or cancelled runs can be refired; this one is succeeded.")),
        },
    )
    @action(detail=True, methods=["post"], serializer_class=RefireSerializer, filter_backends=[])
    @idempotent
    def refire(self, request, pk=None):
        run = self.get_object()
        edit = self.get_serializer(data=request.data)
        edit.is_valid(raise_exception=True)
        with refusals():
            new = services.refire(run, edit.validated_data.get("variables"), user=request.user)
        data = RunSerializer(run_for_api(new.pk), context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": str(data["url"])})

    @extend_schema(
        summary="Cancel an active run",
        description="Stops polling or waiting at once and calls the action's cancel webhook, if it has one "
                    "(the call is in the run's exchanges).",
        request=None,
        responses={
            200: OpenApiResponse(RunSerializer, description="The run, cancelled; its cancel webhook (if any) called."),
            **RUN_ERRORS,
            409: error("The run is finished already, or its action is not cancelable.",
                       ("Finished", "run_finished", "The run is already succeeded."),
                       ("Not cancelable", "not_cancelable",
                        "Runs of Deploy cannot be cancelled (the action is not cancelable).")),
        },
    )
    @action(detail=True, methods=["post"], serializer_class=RunSerializer, filter_backends=[])
    @idempotent
    def cancel(self, request, pk=None):
        run = self.get_object()
        with refusals():
            services.cancel(run, user=request.user)
        return Response(self.get_serializer(run_for_api(run.pk)).data)


    @extend_schema(
        summary="Start a step of a chain that waits for a start",
        description="A next action without auto start waits (`waiting_start`) for a person or this call; "
                    "the run is then pending and a worker sends its first request as soon as it is due.",
        request=None,
        responses={
            200: OpenApiResponse(RunSerializer, description="The run, pending."),
            **RUN_ERRORS,
            409: error("The run does not wait for a start.",
                       ("Not waiting", "not_waiting", "The run does not wait for a start: it is polling.")),
        },
    )
    @action(detail=True, methods=["post"], serializer_class=RunSerializer, filter_backends=[])
    @idempotent
    def start(self, request, pk=None):
        run = self.get_object()
        with refusals():
            services.start(run, user=request.user)
        return Response(self.get_serializer(run_for_api(run.pk)).data)

    @extend_schema(
        summary="Confirm the success of a run that waits for confirmation",
        description="An action that does not finish on success waits (`waiting_confirmation`) once its "
                    "conditions say success; confirmed, the run succeeds and its chain goes on.",
        request=None,
        responses={
            200: OpenApiResponse(RunSerializer, description="The run, succeeded."),
            **RUN_ERRORS,
            409: error("The run does not wait for confirmation.",
                       ("Not waiting", "not_waiting", "The run does not wait for confirmation: it is succeeded.")),
        },
    )
    @action(detail=True, methods=["post"], serializer_class=RunSerializer, filter_backends=[])
    @idempotent
    def confirm(self, request, pk=None):
        run = self.get_object()
        with refusals():
            services.confirm(run, user=request.user)
        return Response(self.get_serializer(run_for_api(run.pk)).data)

    @extend_schema(
        summary="Reject the success of a run that waits for confirmation",
        description="The run fails with the reason given (it can be refired); its chain does not go on.",
        request=RejectSerializer,
        responses={
            200: OpenApiResponse(RunSerializer, description="The run, failed."),
            **RUN_ERRORS,
            409: error("The run does not wait for confirmation.",
                       ("Not waiting", "not_waiting", "The run does not wait for confirmation: it is succeeded.")),
        },
    )
    @action(detail=True, methods=["post"], serializer_class=RejectSerializer, filter_backends=[])
    @idempotent
    def reject(self, request, pk=None):
        run = self.get_object()
        rejection = self.get_serializer(data=request.data)
        rejection.is_valid(raise_exception=True)
        with refusals():
            services.reject(run, user=request.user, reason=rejection.validated_data.get("reason", ""))
        return Response(RunSerializer(run_for_api(run.pk), context=self.get_serializer_context()).data)


def register(router):
    router.register(r"actions/(?P<action_id>[^/.]+)/runs", ActionRunsViewSet, basename="action-runs")
    router.register(r"runs", RunViewSet, basename="run")
    from . import schedule_api  # it reads this module's pagination and variable faults

    schedule_api.register(router)
