"""Refire and Cancel of many runs at once: admin actions on the runs list, each behind a confirmation page.

Each run goes through the same services as the single-run buttons (services.refire, services.cancel), as the
person who asked, with the same permission (runs.change_run). Runs are read and worked on 200 at a time, so that
"select all" over thousands of runs holds no long transaction and no list of them all in memory. A run that
cannot be refired or cancelled is named with the reason, and the others go on.
"""

from dataclasses import dataclass, field

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse

from . import services
from .models import ACTIVE, REFIREABLE, WORKING, Run, Status

CHUNK = 200
# Past this many runs the confirmation page says what will happen in counts and a few examples, not run by run.
LISTED = 100
# Refusals named one by one in the message after the work; the rest are counted.
NAMED = 20
EXAMPLES = 5


@dataclass
class Plan:
    """What an action would do to each run: (run, what happens) in order, grouped by whether it will be done."""

    verb: str
    will: list = field(default_factory=list)
    wont: list = field(default_factory=list)
    count: int = 0

    def add(self, run, outcome):
        text, doable, kind = outcome
        self.count += 1
        (self.will if doable else self.wont).append((run, text, kind))


def chunks(queryset):
    """The runs of ``queryset`` by ascending id, CHUNK at a time, each with what the services read."""
    ids = list(queryset.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), CHUNK):
        part = ids[start:start + CHUNK]
        yield list(Run.objects.filter(pk__in=part).select_related("action", "integration", "previous_run")
                   .defer("fields").order_by("pk"))


def refired_already(runs):
    """{run id: id of its first refire} for those of ``runs`` refired before."""
    found = {}
    rows = Run.objects.filter(refired_from__in=[run.pk for run in runs]).order_by("pk")
    for run_id, refire_id in rows.values_list("refired_from_id", "pk"):
        found.setdefault(run_id, refire_id)
    return found


def refire_outcome(run, refired):
    """(What Refire would do to ``run``, whether it would be done, the same for every run it happens to)."""
    if run.pk in refired:
        return f"already refired as #{refired[run.pk]}: skipped", False, "already refired: skipped"
    if run.status not in REFIREABLE:
        text = f"cannot be refired: it is {run.get_status_display().lower()} (only failed, timed-out or " \
               f"cancelled runs can)"
        return text, False, text
    text = "refired as a new run with the same variables"
    return text, True, text


def cancel_outcome(run):
    if run.status not in ACTIVE:
        text = f"cannot be cancelled: it is already {run.get_status_display().lower()}"
        return text, False, text
    unsent = run.is_scheduled or run.status == Status.WAITING_START
    if not run.action.cancelable and not unsent:
        text = f"cannot be cancelled: {run.action.name} is not cancelable"
        return text, False, text
    call = run.status in WORKING and not unsent and run.action.cancel_webhook_url
    text = "cancelled, and its cancel webhook called" if call else "cancelled"
    return text, True, text


def plan_refire(queryset):
    plan = Plan("Refire")
    for runs in chunks(queryset):
        refired = refired_already(runs)
        for run in runs:
            plan.add(run, refire_outcome(run, refired))
    return plan


def plan_cancel(queryset):
    plan = Plan("Cancel")
    for runs in chunks(queryset):
        for run in runs:
            plan.add(run, cancel_outcome(run))
    return plan


@admin.action(description="Refire selected runs", permissions=["operate"])
def refire_selected(model_admin, request, queryset):
    """Refire each selected run that can be, with its variables; the page first says what will happen."""
    if request.POST.get("post") != "yes":
        return confirmation(model_admin, request, plan_refire(queryset), "refire_selected")
    done, refused = [], []
    for runs in chunks(queryset):
        refired = refired_already(runs)
        for run in runs:
            text, doable, _ = refire_outcome(run, refired)
            if not doable:
                refused.append(f"#{run.pk} {text}")
                continue
            try:
                new_run = services.refire(run, user=request.user)
            except services.RunRefused as exc:
                refused.append(f"#{run.pk} not refired: {exc}")
            except ValidationError as exc:
                refused.append(f"#{run.pk} not refired: its variables no longer fit: {' '.join(exc.messages)}")
            else:
                done.append((run.pk, new_run.pk))
    if done:
        shown = ", ".join(f"#{old} as #{new}" for old, new in done[:NAMED])
        more = f" and {len(done) - NAMED} more" if len(done) > NAMED else ""
        model_admin.message_user(request, f"{count(len(done))} refired: {shown}{more}.", messages.SUCCESS)
    report_refusals(model_admin, request, refused, "refired")
    return None


@admin.action(description="Cancel selected runs", permissions=["operate"])
def cancel_selected(model_admin, request, queryset):
    """Cancel each selected run that can be (calling its cancel webhook as Cancel does); confirmed first."""
    if request.POST.get("post") != "yes":
        return confirmation(model_admin, request, plan_cancel(queryset), "cancel_selected")
    done, refused = [], []
    for runs in chunks(queryset):
        for run in runs:
            text, doable, _ = cancel_outcome(run)
            if not doable:
                refused.append(f"#{run.pk} {text}")
                continue
            try:
                services.cancel(run, user=request.user)
            except services.RunRefused as exc:  # it ended or changed since it was read
                refused.append(f"#{run.pk} not cancelled: {exc}")
            else:
                done.append(run.pk)
    if done:
        model_admin.message_user(request, f"{count(len(done))} cancelled.", messages.SUCCESS)
    report_refusals(model_admin, request, refused, "cancelled")
    return None


def count(number):
    return f"{number} run" if number == 1 else f"{number} runs"


def report_refusals(model_admin, request, refused, done):
    if not refused:
        return
    shown = "; ".join(refused[:NAMED])
    more = f"; and {len(refused) - NAMED} more" if len(refused) > NAMED else ""
    model_admin.message_user(request, f"{count(len(refused))} not {done}: {shown}{more}.", messages.WARNING)


def confirmation(model_admin, request, plan, action_name):
    """The page that lists what ``action_name`` will do to each run (summarised past LISTED runs)."""
    select_across = request.POST.get("select_across") == "1"
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": f"{plan.verb} {count(plan.count)}?",
        "plan": plan,
        "action_name": action_name,
        "listed": plan.count <= LISTED,
        "will_summary": summary(plan.will),
        "wont_summary": summary(plan.wont),
        "select_across": select_across,
        # With select_across the changelist's filters (in this page's URL) say which runs; else their ids.
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME) if select_across
        else [run.pk for run, _, _ in plan.will + plan.wont],
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "changelist_url": request.get_full_path(),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/runs/run/bulk_confirmation.html", context)


def summary(items):
    """[(what happens, how many runs, the first few runs)] of runs grouped by what happens to them."""
    groups = {}
    for run, _, kind in items:
        groups.setdefault(kind, []).append(run)
    return [(text, len(runs), runs[:EXAMPLES]) for text, runs in sorted(groups.items(), key=lambda g: -len(g[1]))]
