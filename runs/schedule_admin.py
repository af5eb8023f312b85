"""Schedules in the admin: the list (next start, last tick and what it did, a link to its runs), the edit form
(faults named on their fields: a cron expression, a time zone, variables the action does not take), and the runs
list's filter by schedule."""

from django import forms
from django.core.exceptions import ValidationError
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import Truncator

from integrations import safejson
from integrations.forms import JSONTextField
from integrations.models import Action

from . import schedules
from .models import Schedule, ScheduleKind


class ScheduleForm(forms.ModelForm):
    variables = JSONTextField(required=False, help_text="The variables of every run it starts, as a JSON object "
                                                        "(the action's inputs; blank: their defaults).")

    class Meta:
        model = Schedule
        fields = ["name", "action", "enabled", "kind", "cron", "every_seconds", "timezone", "missed", "variables"]
        widgets = {"cron": forms.TextInput(attrs={"class": "vTextField monospace", "placeholder": "0 9 * * mon-fri"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].queryset = Action.objects.select_related("integration").order_by(
            "integration__name", "name")

    def clean_variables(self):
        return self.cleaned_data.get("variables") or {}


def when(moment, schedule):
    """A tick as the schedule reads it (in its time zone, named), with the site's time on hover."""
    if moment is None:
        return "—"
    try:
        local = moment.astimezone(schedules.zone(schedule.timezone))
    except ValidationError:
        local = timezone.localtime(moment)
    return format_html('<time datetime="{}" title="{}">{}</time>', moment.isoformat(),
                       date_format(timezone.localtime(moment), "DATETIME_FORMAT"),
                       f"{local:%Y-%m-%d %H:%M:%S} {getattr(local.tzinfo, 'key', local.tzname())}")


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    form = ScheduleForm
    list_display = ["name", "action", "timing", "enabled", "next_start", "last_tick", "last_result_text",
                    "runs_link"]
    list_filter = ["enabled", "kind"]
    list_select_related = ["action__integration"]
    search_fields = ["name", "action__name"]
    readonly_fields = ["next_start", "last_tick", "last_result", "runs_link"]
    fieldsets = [
        (None, {"fields": ["name", "action", "enabled"]}),
        ("When", {"fields": ["kind", "cron", "every_seconds", "timezone", "missed"]}),
        ("Runs", {"fields": ["variables"]}),
        ("What it did", {"fields": ["next_start", "last_tick", "last_result", "runs_link"]}),
    ]

    @admin.display(description="when")
    def timing(self, schedule):
        if schedule.kind == ScheduleKind.INTERVAL:
            return f"every {schedule.every_seconds:,} s" if schedule.every_seconds else ""
        return format_html('<code>{}</code> ({})', schedule.cron, schedule.timezone)

    @admin.display(description="next start", ordering="next_tick_at")
    def next_start(self, schedule):
        if schedule.pk and not schedule.enabled:
            return "— (disabled)"
        return when(schedule.next_tick_at, schedule)

    @admin.display(description="last tick", ordering="last_tick_at")
    def last_tick(self, schedule):
        return when(schedule.last_tick_at, schedule)

    @admin.display(description="last result")
    def last_result_text(self, schedule):
        return format_html('<span title="{}">{}</span>', schedule.last_result,
                           Truncator(schedule.last_result).chars(90))

    @admin.display(description="runs")
    def runs_link(self, schedule):
        if schedule.pk is None:
            return "—"
        url = reverse("admin:runs_run_changelist") + f"?schedule={schedule.pk}"
        return format_html('<a href="{}" class="schedule-runs">Runs</a>', url)

    def get_fieldsets(self, request, obj=None):
        return self.fieldsets if obj is not None else self.fieldsets[:-1]  # nothing done yet

    def get_changelist_instance(self, request):
        # A search or filter holding NUL or a lone surrogate matches nothing stored, and PostgreSQL refuses even
        # the question: the admin's answer to a bad filter (back to the list with ?e=1), as on the runs list.
        if any(safejson.unstorable(value) for values in request.GET.lists() for value in values[1]):
            raise IncorrectLookupParameters("A search or filter holds a character that cannot be stored.")
        return super().get_changelist_instance(request)

    def changelist_view(self, request, extra_context=None):
        # As the runs list: the app navigation's width goes to the columns (the breadcrumbs lead back).
        return super().changelist_view(request, {"is_nav_sidebar_enabled": False, **(extra_context or {})})

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class ScheduleListFilter(admin.SimpleListFilter):
    """The runs a schedule started (?schedule=<id>): shown only when asked for, from a schedule's page."""

    title = "schedule"
    parameter_name = "schedule"

    def lookups(self, request, model_admin):
        # One choice, the schedule asked for (a filter with no choice would not be applied at all).
        value = self.value()
        if not value:
            return []
        found = Schedule.objects.filter(pk=int(value)).first() if value.isdigit() and len(value) < 19 else None
        return [(value, found.name if found else "No such schedule")]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not value.isdigit() or len(value) >= 19:
            return queryset.none()
        return queryset.filter(schedule_id=int(value))
