"""What the overview shows: what needs attention now, read from tallies and indexes, never a scan of the runs.

A fixed number of queries whatever the number of runs: failures and
integrations from the hourly tallies (runs.tallies), active runs from the
status index, due and overdue runs from the due-time index, workers from
their heartbeats.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.db.models import Count, Max, Min, Sum
from django.urls import reverse

from integrations.models import Action, Integration, OAuthConnection

from . import causes, clock, heartbeats, metrics, tallies
from .models import ACTIVE, FINISHED, WAITING, Run, Status, Tally

WITHIN = {"24h": "24 h", "7d": "7 days"}
OVERDUE = timedelta(minutes=1)
FAILED = (Status.FAILED, Status.TIMED_OUT)
DEMO = "sandbox"  # the demo integration's slug (sandbox/management/commands/load_demo.py)


@dataclass
class FailureGroup:
    action: Action
    cause: str
    count: int
    first_at: datetime
    last_at: datetime
    within: str

    @property
    def label(self):
        return causes.label(self.cause)

    @property
    def filters(self):
        """The runs list's filters that show this group's runs."""
        return {"cause": self.cause, "action__id__exact": self.action.pk, "finished": self.within}

    @property
    def runs_url(self):
        return f"{reverse('admin:runs_run_changelist')}?{urlencode(self.filters)}"


@dataclass
class ActiveStatus:
    status: str
    count: int
    oldest_at: datetime

    @property
    def label(self):
        return Status(self.status).label

    @property
    def runs_url(self):
        return f"{reverse('admin:runs_run_changelist')}?{urlencode({'status__exact': self.status})}"


@dataclass
class IntegrationFigures:
    integration: Integration
    runs: int = 0
    succeeded: int = 0
    ended_badly: int = 0
    durations: dict = field(default_factory=dict)  # {bucket: count}
    last_success: datetime | None = None
    last_failure: datetime | None = None
    needs_reconnect: bool = False  # OAuth sign-in: the provider refused the refresh token

    @property
    def success_rate(self):
        decided = self.succeeded + self.ended_badly
        return None if not decided else self.succeeded / decided

    @property
    def p50(self):
        return tallies.percentile(self.durations, 0.5)

    @property
    def p95(self):
        return tallies.percentile(self.durations, 0.95)

    @property
    def p50_text(self):
        return duration_text(self.p50)

    @property
    def p95_text(self):
        return duration_text(self.p95)

    @property
    def runs_url(self):
        return f"{reverse('admin:runs_run_changelist')}?{urlencode({'integration__id__exact': self.integration.pk})}"


def duration_text(bound):
    """A duration bucket's bound in words: "≤ 5 s", "≤ 4 h", "> 1 day"; "–" for none."""
    if bound is None:
        return "–"
    if bound == float("inf"):
        return "> 1 day"
    for unit, size in (("h", 3600), ("min", 60)):
        if bound >= size:
            return f"≤ {bound / size:g} {unit}"
    return f"≤ {bound:g} s"


@dataclass
class Overview:
    now: datetime
    within: str
    since: datetime
    any_runs: bool
    failures: list
    active: list
    oldest: Run | None
    overdue: int
    waiting: list
    integrations: list
    clusters: int
    due_unsent: int
    poll_lag: float | None  # mean seconds late of the runs claimed in the last minute; None: none claimed
    demo: Integration | None  # the demo integration (sandbox/load_demo), shown to a first-time admin

    @property
    def active_count(self):
        return sum(row.count for row in self.active)

    @property
    def failure_count(self):
        return sum(group.count for group in self.failures)

    @property
    def poll_lag_text(self):
        return "–" if self.poll_lag is None else f"{self.poll_lag:.2f} s"

    @property
    def overdue_url(self):
        return f"{reverse('admin:runs_run_changelist')}?{urlencode({'status__in': ','.join(sorted(ACTIVE))})}"


def overview(within="24h", now=None):
    """The overview as of ``now``: failures and integrations of the last ``within`` ("24h" or "7d")."""
    within = within if within in WITHIN else "24h"
    now = now or clock.now()
    since = tallies.since(within, now)
    counted = Tally.objects.filter(hour__gte=since)

    failed = list(counted.filter(status__in=FAILED).values("action_id", "cause").annotate(
        count=Sum("count"), first_at=Min("first_at"), last_at=Max("last_at")).order_by())
    by_integration = list(counted.values("integration_id", "status", "bucket").annotate(
        count=Sum("count"), last_at=Max("last_at")).order_by())
    actions = Action.objects.select_related("integration").in_bulk({row["action_id"] for row in failed})
    failures = sorted(
        (FailureGroup(actions[row["action_id"]], row["cause"], row["count"], row["first_at"], row["last_at"], within)
         for row in failed if row["action_id"] in actions),
        key=lambda group: (-group.count, -group.last_at.timestamp(), group.action.pk, group.cause),
    )

    active_rows = list(Run.objects.filter(status__in=ACTIVE).values("status").annotate(
        count=Count("id"), oldest_at=Min("created_at")).order_by())
    active = sorted((ActiveStatus(row["status"], row["count"], row["oldest_at"]) for row in active_rows),
                    key=lambda row: list(Status.values).index(row.status))
    # The oldest active run, found at the time the grouping above read (from the status index): ordering the
    # active runs by time instead walks the time index past every finished run (250 ms at 1,000,000 on PostgreSQL).
    oldest_at = min((row.oldest_at for row in active), default=None)
    oldest = (Run.objects.filter(status__in=ACTIVE, created_at=oldest_at).select_related("action").order_by("id")
              .first() if oldest_at else None)

    unsent = Run.objects.filter(next_poll_at__isnull=False, lease_token="")
    due_unsent = unsent.filter(next_poll_at__lte=now).count()
    overdue = unsent.filter(next_poll_at__lt=now - OVERDUE).count() if due_unsent else 0

    figures = {}
    for row in by_integration:
        figure = figures.setdefault(row["integration_id"], {"rows": []})
        figure["rows"].append(row)
    integrations = Integration.objects.filter(archived=False) | Integration.objects.filter(pk__in=list(figures))
    shown = [_figures(integration, figures.get(integration.pk, {}).get("rows", []))
             for integration in integrations.order_by("name")]
    reconnect = set(OAuthConnection.objects.filter(needs_reconnect=True).values_list("integration_id", flat=True))
    for row in shown:
        row.needs_reconnect = row.integration.pk in reconnect

    live = list(heartbeats.live_clusters(now).values_list("counters", flat=True))
    any_runs = bool(active) or bool(by_integration) or Run.objects.exists()
    return Overview(
        now=now, within=within, since=since, any_runs=any_runs,
        demo=None if any_runs else Integration.objects.filter(slug=DEMO, archived=False).first(),
        failures=failures, active=[row for row in active if row.status not in WAITING], oldest=oldest,
        overdue=overdue, waiting=[row for row in active if row.status in WAITING], integrations=shown,
        clusters=len(live), due_unsent=due_unsent, poll_lag=metrics.minute_lag(live),
    )


def _figures(integration, rows):
    figures = IntegrationFigures(integration)
    for row in rows:
        if row["status"] not in FINISHED:
            continue
        figures.runs += row["count"]
        figures.durations[row["bucket"]] = figures.durations.get(row["bucket"], 0) + row["count"]
        if row["status"] == Status.SUCCEEDED:
            figures.succeeded += row["count"]
            figures.last_success = max(filter(None, [figures.last_success, row["last_at"]]))
        elif row["status"] in FAILED:
            figures.ended_badly += row["count"]
            figures.last_failure = max(filter(None, [figures.last_failure, row["last_at"]]))
    return figures
