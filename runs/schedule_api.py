"""REST API of schedules (/api/schedules/): an action started on a cron expression or every N seconds, with its
next start, last tick and what it did; its runs are /api/runs/?schedule=<id>. Permissions follow the admin's:
reading needs runs.view_schedule, writing its add/change/delete permission."""

import copy

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.reverse import reverse

from integrations.filters import IdFilter, StrictFilterSet
from integrations.models import Action
from integrations.openapi import AutoSchema
from integrations.parsers import JSONParser
from integrations.serializers import (
    DefinitionSerializer,
    JSONObjectField,
    StrictCharField,
    model_errors,
)
from integrations_site.conditional import ConditionalMixin
from integrations_site.idempotency import idempotent

from .api import InOrder, variable_errors
from .models import Schedule

SCHEDULE_EXAMPLE = {
    "id": 7,
    "url": "http://127.0.0.1:8000/api/schedules/7/",
    "name": "Nightly sync",
    "action": 3,
    "kind": "cron",
    "cron": "0 2 * * *",
    "every_seconds": None,
    "timezone": "Europe/Paris",
    "variables": {"env": "prod"},
    "enabled": True,
    "missed": "skip",
    "next_tick_at": "2026-11-24T01:00:00Z",
    "last_tick_at": "2026-11-23T01:00:00Z",
    "last_run": 42,
    "last_result": "Started run 42 for the tick at 2026-11-23 01:00:00 UTC.",
    "runs_url": "http://127.0.0.1:8000/api/runs/?schedule=7",
    "created_by": "alice",
    "created_at": "2026-11-20T10:00:00Z",
    "updated_at": "2026-11-20T10:00:00Z",
}


@extend_schema_serializer(examples=[OpenApiExample("A nightly schedule", value=SCHEDULE_EXAMPLE, response_only=True)])
class ScheduleSerializer(DefinitionSerializer):
    """A schedule: which action it starts, when (a cron expression in a time zone, or every N seconds), with which
    variables, and what it did last."""

    url = serializers.HyperlinkedIdentityField(view_name="schedule-detail")
    action = serializers.PrimaryKeyRelatedField(queryset=Action.objects.select_related("integration"),
                                                help_text="The action it starts.")
    cron = StrictCharField(required=False, allow_blank=True, max_length=200,
                           help_text=Schedule._meta.get_field("cron").help_text)
    timezone = StrictCharField(required=False, max_length=64, help_text=Schedule._meta.get_field("timezone").help_text)
    variables = JSONObjectField(required=False, help_text="The variables of every run it starts (the action's "
                                                          "inputs; absent: their defaults).")
    runs_url = serializers.SerializerMethodField(help_text="The runs it started.")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Schedule
        fields = ["id", "url", "name", "action", "kind", "cron", "every_seconds", "timezone", "variables", "enabled",
                  "missed", "next_tick_at", "last_tick_at", "last_run", "last_result", "runs_url", "created_by",
                  "created_at", "updated_at"]
        read_only_fields = ["id", "next_tick_at", "last_tick_at", "last_run", "last_result", "created_by",
                            "created_at", "updated_at"]
        extra_kwargs = {"every_seconds": {"min_value": 1, "max_value": 366 * 86400}}

    def get_runs_url(self, schedule) -> str:
        return reverse("run-list", request=self.context.get("request")) + f"?schedule={schedule.pk}"

    def validate(self, attrs):
        schedule = copy.copy(self.instance) if self.instance else Schedule()
        for name, value in attrs.items():
            setattr(schedule, name, value)
        errors = model_errors(schedule)
        if "variables" in errors and schedule.action_id is not None and isinstance(schedule.variables, dict):
            try:  # by variable, as starting a run names them ("attr": "variables.env")
                schedule.action.validate_variables(schedule.variables)
            except DjangoValidationError as exc:
                errors["variables"] = variable_errors(exc)
        if errors:
            raise serializers.ValidationError(errors)
        attrs["variables"] = schedule.variables  # with the action's defaults filled in
        return attrs


class ScheduleFilter(StrictFilterSet):
    action = IdFilter(help_text="Action id.")

    class Meta:
        model = Schedule
        fields = ["action", "enabled"]


@extend_schema_view(
    list=extend_schema(summary="List schedules", description="Filtered by action and enabled.",
                       responses={200: ScheduleSerializer(many=True)}),
    create=extend_schema(summary="Start an action on a schedule",
                         description="A cron expression (five fields, read in `timezone`) or `every_seconds`; "
                                     "`variables` are checked against the action's inputs as starting a run "
                                     "checks them. The answer holds its first start, `next_tick_at`."),
    retrieve=extend_schema(summary="Read a schedule"),
    update=extend_schema(summary="Replace a schedule"),
    partial_update=extend_schema(summary="Change some of a schedule's fields",
                                 description="A change to its timing (kind, cron, every_seconds, timezone, enabled) "
                                             "starts its ticks afresh from now."),
    destroy=extend_schema(summary="Delete a schedule (its runs stay, without it)"),
)
class ScheduleViewSet(ConditionalMixin, viewsets.ModelViewSet):
    """Schedules."""

    queryset = Schedule.objects.select_related("created_by", "action__integration")
    serializer_class = ScheduleSerializer
    parser_classes = [JSONParser]
    pagination_class = InOrder
    filterset_class = ScheduleFilter
    schema = AutoSchema()
    operation_ids = {
        "list": "listSchedules", "create": "createSchedule", "retrieve": "getSchedule",
        "update": "replaceSchedule", "partial_update": "updateSchedule", "destroy": "deleteSchedule",
    }

    @idempotent
    def create(self, request, *args, **kwargs):
        given = self.get_serializer(data=request.data)
        given.is_valid(raise_exception=True)
        schedule = given.save(created_by=request.user)
        data = self.get_serializer(schedule).data
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": data["url"]})


def register(router):
    router.register("schedules", ScheduleViewSet, basename="schedule")
