"""Runs in the admin: the runs list, a run's page with its chain and Actions log, the Debug view, and the
operations: Refire, Cancel, Start (a chain's step that waits) and Confirm or Reject a success.

Runs are not edited here: a run's page is read-only, and what may be done to
a run is done by the engine's services, behind POST, CSRF and the
runs.change_run permission. "Run now" lives on the action's page
(integrations/admin.py) and uses the same variables form as Refire.
"""

import json

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import BooleanField, Prefetch, Q, Sum
from django.db.models.expressions import RawSQL
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from integrations import safejson
from integrations.models import Action

from . import bulk, callback_urls, causes, chains, clock, debug_view, services, tallies
from .downloads import file_response
from .forms import VariablesForm
from .models import WORKING, Exchange, ExchangeKind, Run, RunFile, Status, Tally
from .schedule_admin import ScheduleListFilter

LOG_PAGE_SIZE = 50
# The runs list shows this much of a run's reason; the whole of it on hover.
REASON_CHARS = 90
# Rows of the runs list one request of runs_list.js asks about (a page holds list_per_page of them).
LIVE_IDS = 200
# A search reads the variables of every run (no index helps with a substring of JSON text), then the
# list counts what it found and reads a page of it: two such scans. It scans once for the ids of the
# runs found, and when they are this many or fewer (an order number, a customer: the usual search),
# the count and the page read them by id.
SEARCH_BY_IDS = 1000
# What a row of the Actions log shows; the bodies and headers are read only by the Debug view.
LOG_COLUMNS = ["id", "run_id", "kind", "attempt", "last_attempt", "sent", "method", "url", "status_code",
               "duration_ms", "error", "failed_part", "decision", "repeat_count", "created_at", "last_at",
               "response_truncated", "pruned_count"]


def run_url(run_id):
    return reverse("admin:runs_run_change", args=[run_id])


def status_of(run):
    """(css class, label, title) of a run's status badge: a run due later than now is "Scheduled"."""
    if run.is_scheduled:
        starts = date_format(timezone.localtime(run.next_poll_at), "DATETIME_FORMAT")
        return "scheduled", "Scheduled", f"Starts at {starts}"
    return run.status, run.get_status_display(), ""


def status_badge(run, attrs=""):
    css, label, title = status_of(run)
    if title:
        return format_html('<span class="run-status run-status--{}" title="{}"{}>{}</span>', css, title, attrs, label)
    return format_html('<span class="run-status run-status--{}"{}>{}</span>', css, attrs, label)


def duration_text(seconds):
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 120:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def run_duration(run, now=None):
    """Seconds from the first request to the end (or to now while the run is active); None before it started."""
    if run.started_at is None:
        return None
    end = run.finished_at or (now or clock.now())
    return max((end - run.started_at).total_seconds(), 0)


class ActionListFilter(admin.RelatedFieldListFilter):
    """Actions by their integration and name, read in one query (an action's name shows its integration's)."""

    def field_choices(self, field, request, model_admin):
        actions = Action.objects.select_related("integration").order_by("integration__name", "name")
        return [(action.pk, str(action)) for action in actions]


# The statuses of the cause's partial indexes (run_cause_idx, run_cause_group_idx) written into the SQL: SQLite
# uses a partial index only when the query's text implies its condition, which a bound parameter does not
# (with `status IN (%s, %s)` it read every run of the action: 200 ms at 1,000,000 runs, 0.1 ms with this).
ENDED_BADLY_LITERALLY = RawSQL(
    f"{Run._meta.db_table}.status IN ('{Status.FAILED.value}', '{Status.TIMED_OUT.value}')", [],
    output_field=BooleanField())


class CauseListFilter(admin.SimpleListFilter):
    """Failed and timed-out runs by cause (runs.causes): the causes of the last 7 days, read from the tallies."""

    title = "cause"
    parameter_name = "cause"
    ENDED_BADLY = [Status.FAILED, Status.TIMED_OUT]

    def lookups(self, request, model_admin):
        recent = set(Tally.objects.filter(status__in=self.ENDED_BADLY, hour__gte=tallies.since("7d", clock.now()))
                     .values_list("cause", flat=True).distinct())
        if self.value():
            recent.add(self.value())
        return sorted(((cause, causes.label(cause)) for cause in recent), key=lambda choice: choice[1])

    def queryset(self, request, queryset):
        if self.value():  # the status too, so that the cause's partial indexes serve
            return queryset.filter(ENDED_BADLY_LITERALLY, cause=self.value())
        return queryset


class FinishedWithinFilter(admin.SimpleListFilter):
    """Runs that ended in the last 24 h or 7 days, from the start of the hour as the overview counts them."""

    title = "finished"
    parameter_name = "finished"

    def lookups(self, request, model_admin):
        return [("24h", "In the last 24 h"), ("7d", "In the last 7 days")]

    def queryset(self, request, queryset):
        if self.value() in ("24h", "7d"):
            return queryset.filter(finished_at__gte=tallies.since(self.value(), clock.now()))
        return queryset


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["run_number", "status_badge", "reason_text", "action_link", "integration", "requests",
                    "duration", "created", "refire_links"]
    list_display_links = ["run_number"]
    list_filter = ["status", CauseListFilter, "integration", ("action", ActionListFilter),
                   ("created_at", admin.DateFieldListFilter), FinishedWithinFilter, "rehearsal", ScheduleListFilter]
    list_select_related = ["action", "integration"]
    search_fields = ["variables"]
    search_help_text = "A run's number, or a value among its variables."
    ordering = ["-created_at", "-id"]
    list_per_page = 50
    show_full_result_count = False
    actions = [bulk.refire_selected, bulk.cancel_selected]

    class Media:
        css = {"all": ["runs/runs.css"]}
        js = ["runs/runs_list.js"]

    # --- permissions: runs are started from actions, never added or edited as forms ---------------------------

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # nothing on a run is edited; may_operate() decides refire and cancel

    @staticmethod
    def may_operate(request):
        return request.user.has_perm("runs.change_run")

    def has_operate_permission(self, request):
        """Who may use the bulk actions: whoever may refire and cancel one run."""
        return self.may_operate(request)

    # --- the list --------------------------------------------------------------------------------------------

    def get_queryset(self, request):
        refires = Prefetch("refires", queryset=Run.objects.only("id", "refired_from_id").order_by("id"))
        return super().get_queryset(request).defer("fields").prefetch_related(refires)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        if safejson.unstorable(term):  # no stored text holds it, and PostgreSQL refuses even the question
            return queryset.none(), False
        query = Q(variables__icontains=term)
        number = term.removeprefix("#")
        if number.isdigit() and len(number) < 19:
            query |= Q(pk=int(number))
        found = queryset.filter(query)
        ids = list(found.order_by().values_list("pk", flat=True)[:SEARCH_BY_IDS + 1])
        if len(ids) > SEARCH_BY_IDS:
            return found, False
        return queryset.filter(pk__in=ids), False

    @admin.display(description="run", ordering="-id")
    def run_number(self, run):
        return f"#{run.pk}"

    @admin.display(description="status", ordering="status")
    def status_badge(self, run):
        # runs_list.js follows the rows of active runs: it asks live_view about them and updates them in place.
        if run.status in WORKING:
            return status_badge(run, format_html(' data-run-live="{}"', run.pk))
        return status_badge(run)

    @admin.display(description="reason")
    def reason_text(self, run):
        reason = run.reason or run.get_status_display()
        return format_html('<span class="run-list-reason" title="{}" data-run-reason="{}">{}</span>', reason, run.pk,
                           Truncator(reason).chars(REASON_CHARS))

    @admin.display(description="action", ordering="action__name")
    def action_link(self, run):
        return format_html('<a href="{}" class="run-list-action" title="{}">{}</a>',
                           reverse("admin:integrations_action_change", args=[run.action_id]), run.action.name,
                           run.action.name)

    @admin.display(description="requests", ordering="attempt")
    def requests(self, run):
        return format_html('<span data-run-requests="{}">{}</span>', run.pk, run.attempt)

    @admin.display(description="created", ordering="created_at")
    def created(self, run):
        # Today's runs by their time, older ones by date and minute (the list keeps one line a row).
        local = timezone.localtime(run.created_at)
        shown = local.strftime("%H:%M:%S" if local.date() == timezone.localdate() else "%Y-%m-%d %H:%M")
        return format_html('<time datetime="{}" title="{}">{}</time>', run.created_at.isoformat(),
                           date_format(local, "DATETIME_FORMAT"), shown)

    def changelist_view(self, request, extra_context=None):
        # The app navigation is hidden here (the breadcrumbs lead back): its width goes to the runs' columns.
        return super().changelist_view(request, {"title": "Runs", "is_nav_sidebar_enabled": False,
                                                 **(extra_context or {})})

    def get_changelist_instance(self, request):
        # A filter's value holding NUL matches nothing stored, and PostgreSQL refuses even the question: the
        # admin's answer to a bad filter (back to the list with ?e=1), not a server error.
        if any(safejson.unstorable(value) for values in request.GET.lists() for value in values[1]):
            raise IncorrectLookupParameters("A filter holds a NUL character.")
        return super().get_changelist_instance(request)

    @admin.display(description="duration")
    def duration(self, run):
        return format_html('<span data-run-duration="{}">{}</span>', run.pk, duration_text(run_duration(run)))

    def live_view(self, request):
        """JSON for runs_list.js: the status, requests and duration of the runs named by ``?id=``."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        ids = [int(value) for value in request.GET.getlist("id")[:LIVE_IDS] if value.isdigit() and len(value) < 19]
        now = clock.now()
        runs = {}
        for run in Run.objects.filter(pk__in=ids).only("id", "status", "reason", "attempt", "next_poll_at",
                                                         "started_at", "finished_at"):
            css, label, title = status_of(run)
            reason = run.reason or label
            runs[str(run.pk)] = {"status": run.status, "label": label, "css": f"run-status--{css}", "title": title,
                                 "active": run.status in WORKING, "requests": run.attempt,
                                 "duration": duration_text(run_duration(run, now)), "reason": reason,
                                 "reason_short": Truncator(reason).chars(REASON_CHARS)}
        return JsonResponse({"runs": runs})

    @admin.display(description="refired")
    def refire_links(self, run):
        links = []
        if run.refired_from_id:
            links.append(format_html('from <a href="{}">#{}</a>', run_url(run.refired_from_id), run.refired_from_id))
        refires = run.refires.all()
        if refires:
            links.append(format_html("as {}", format_html_join(", ", '<a href="{}">#{}</a>',
                                                                ((run_url(r.pk), r.pk) for r in refires))))
        return format_html_join(" · ", "{}", ((link,) for link in links))

    # --- a run's page, its Debug view, refire and cancel --------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("live/", view(self.live_view), name="runs_run_live"),
            path("<int:object_id>/refire/", view(self.refire_view), name="runs_run_refire"),
            path("<int:object_id>/cancel/", view(self.cancel_view), name="runs_run_cancel"),
            path("<int:object_id>/start/", view(self.start_view), name="runs_run_start"),
            path("<int:object_id>/confirm/", view(self.confirm_view), name="runs_run_confirm"),
            path("<int:object_id>/reject/", view(self.reject_view), name="runs_run_reject"),
            path("<int:object_id>/exchanges/<int:exchange_id>/", view(self.exchange_view), name="runs_run_exchange"),
            path("<int:object_id>/files/<str:name>/", view(self.file_view), name="runs_run_file"),
            *super().get_urls(),
        ]

    def get_run(self, request, object_id):
        run = Run.objects.select_related(
            "action", "integration", "refired_from", "previous_run", "created_by").filter(pk=object_id).first()
        if run is None:
            raise Http404(f"No run {object_id}.")
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        return run

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not str(object_id).isdigit():
            raise Http404(f"No run {object_id}.")
        run = self.get_run(request, object_id)
        exchanges = run.exchanges.only(*LOG_COLUMNS).order_by("-id")
        log = Paginator(exchanges, LOG_PAGE_SIZE).get_page(request.GET.get("log"))
        if not callback_urls.may_see(request.user):
            hide_callback_token(run)
            log.object_list = [hide_callback_token(run, exchange) for exchange in log.object_list]
        context = {
            **self.admin_site.each_context(request),
            **self.run_context(request, run),
            "title": f"Run #{run.pk} of {run.action.name}",
            "log": log,
            "exchange_count": exchange_count(run),
            "log_pages": log.paginator.get_elided_page_range(log.number, on_each_side=2, on_ends=1)
            if log.paginator.num_pages > 1 else [],
            "refires": list(run.refires.only("id", "status", "refired_from_id").order_by("id")),
            "next_runs": list(run.next_runs.select_related("action").only("id", "status", "action__name")),
            "files": list(run.files.all()),
            **self.chain_context(run),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/runs/run/run_page.html", context)

    @staticmethod
    def chain_context(run):
        """The run's chain, each step with its latest attempt; nothing for a run outside any chain."""
        if not run.previous_run_id and not run.action.next_action_id:
            return {}
        steps = chains.chain_of(run)
        status = chains.chain_status(steps)
        to_come = chains.steps_to_come(steps)
        return {
            "chain": steps,
            "chain_to_come": to_come,
            "chain_length": len(steps) + len(to_come),
            "chain_badge": format_html('<span class="run-status run-status--{}">{}</span>', status,
                                       chains.chain_status_label(status)),
        }

    def run_context(self, request, run):
        return {
            "opts": self.opts,
            "run": run,
            "original": run,
            "kept_per_run": settings.INTEGRATIONS_EXCHANGES_KEPT_PER_RUN,
            "has_view_permission": True,
            "may_operate": self.may_operate(request),
            "duration": duration_text(run_duration(run)),
            "status_badge": status_badge(run),
            # Followed live while the engine works on it; a run that waits for a person keeps still (its
            # reject form may be half filled in).
            "active": run.status in WORKING,
            "variables_json": json.dumps(run.variables, indent=2, ensure_ascii=False),
            "fields_json": json.dumps(run.fields, indent=2, ensure_ascii=False),
        }

    def exchange_view(self, request, object_id, exchange_id):
        run = self.get_run(request, object_id)
        exchange = get_object_or_404(Exchange, pk=exchange_id, run=run)
        if not callback_urls.may_see(request.user):
            hide_callback_token(run)
            hide_callback_token(run, exchange)  # its URL, headers and bodies, and so its cURL command
        neighbours = run.exchanges.values_list("id", flat=True)
        context = {
            **self.admin_site.each_context(request),
            **self.run_context(request, run),
            "title": f"Debug view: {exchange.get_kind_display().lower()}, attempt {exchange.attempt} of run #{run.pk}",
            "exchange": exchange,
            "debug": debug_view.describe(exchange, verify_tls=run.action.verify_tls),
            "previous_id": neighbours.filter(id__lt=exchange.pk).order_by("-id").first(),
            "next_id": neighbours.filter(id__gt=exchange.pk).order_by("id").first(),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/runs/run/exchange.html", context)

    def file_view(self, request, object_id, name):
        """Download a file the run kept: whoever may view the run may download its files."""
        run = self.get_run(request, object_id)
        if safejson.unstorable(name):  # no file's name; PostgreSQL would refuse even the question
            raise Http404(f"Run {run.pk} has no such file.")
        return file_response(get_object_or_404(RunFile, run=run, name=name))

    def refire_view(self, request, object_id):
        run = self.get_run(request, object_id)
        if not self.may_operate(request):
            raise PermissionDenied
        if not run.can_refire:
            self.message_user(request, f"Run #{run.pk} cannot be refired: only failed, timed-out or cancelled runs "
                                       f"can; it is {run.get_status_display().lower()}.", messages.ERROR)
            return HttpResponseRedirect(run_url(run.pk))
        form = VariablesForm(run.action, request.POST or None, initial_variables=run.variables)
        if request.method == "POST":
            try:
                new_run = form.start(user=request.user, refire_of=run)
            except services.RunRefused as exc:
                self.message_user(request, f"Not refired: {exc}", messages.ERROR)
                return HttpResponseRedirect(run_url(run.pk))
            if new_run is not None:
                self.message_user(request, f"Run #{run.pk} was refired as run #{new_run.pk}.", messages.SUCCESS)
                return HttpResponseRedirect(run_url(new_run.pk))
        return self.variables_page(request, form, run.action, run=run, title=f"Refire run #{run.pk}",
                                   submit="Refire")

    def cancel_view(self, request, object_id):
        return self.operate(request, object_id, services.cancel, "cancelled")

    def start_view(self, request, object_id):
        return self.operate(request, object_id, services.start, "started")

    def confirm_view(self, request, object_id):
        return self.operate(request, object_id, services.confirm, "confirmed as succeeded")

    def reject_view(self, request, object_id):
        # A reason is typed in one line of the run's page, with no form to show a fault on: what cannot be
        # stored (NUL) is replaced, as in an answer.
        reason = safejson.clean_text(request.POST.get("reason", ""))[:1000]
        return self.operate(request, object_id, lambda run, user: services.reject(run, user=user, reason=reason),
                            "rejected: it failed")

    def operate(self, request, object_id, service, done):
        """POST: do ``service`` to the run as the user, then back to its page with what happened."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        run = self.get_run(request, object_id)
        if not self.may_operate(request):
            raise PermissionDenied
        try:
            service(run, user=request.user)
        except services.RunRefused as exc:
            self.message_user(request, f"Not {done.split(':')[0]}: {exc}", messages.ERROR)
        else:
            self.message_user(request, f"Run #{run.pk} was {done}.", messages.SUCCESS)
        return HttpResponseRedirect(run_url(run.pk))

    def variables_page(self, request, form, action, *, title, submit, run=None):
        fieldsets = [(None, {"fields": list(form.fields)})]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "action": action,
            "run": run,
            "form": form,
            "adminform": helpers.AdminForm(form, fieldsets, {}),
            "errors": helpers.AdminErrorList(form, []),
            "submit": submit,
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/runs/run/variables_form.html", context)


def exchange_count(run):
    """The requests, callbacks and calls in a run's log: a row stands for its repeats, a pruned row for those
    it replaced."""
    counted = run.exchanges.aggregate(
        shown=Sum("repeat_count", filter=~Q(kind=ExchangeKind.PRUNED), default=0),
        pruned=Sum("pruned_count", filter=Q(kind=ExchangeKind.PRUNED), default=0))
    return counted["shown"] + counted["pruned"]


def hide_callback_token(run, exchange=None):
    """The run (or its exchange), loaded for a page, with the run's callback token as *** (runs/callback_urls.py)."""
    if exchange is None:
        return callback_urls.hide_in(run, run.callback_token, callback_urls.RUN_TEXT)
    return callback_urls.hide_in(exchange, run.callback_token, callback_urls.EXCHANGE_TEXT)


def run_now_view(model_admin, request, object_id):
    """Run now, on an action's page: its inputs as a form; on success the new run's page."""
    action = get_object_or_404(Action.objects.select_related("integration"), pk=object_id)
    run_admin = model_admin.admin_site._registry[Run]
    if not run_admin.may_operate(request):
        raise PermissionDenied
    form = VariablesForm(action, request.POST or None, rehearsal=False)
    if request.method == "POST":
        try:
            run = form.start(user=request.user)
        except services.RunRefused as exc:
            form.add_error(None, str(exc))
        else:
            if run is not None:
                model_admin.message_user(request, f"Run #{run.pk} of {action.name} started.", messages.SUCCESS)
                return HttpResponseRedirect(run_url(run.pk))
    return run_admin.variables_page(request, form, action, title=f"Run now: {action.name}", submit="Run now")

