"""What an operator's tools ask: is the site healthy (for load balancers and supervisors), and the figures
Prometheus scrapes. Read from the database (indexed counts) and from the live clusters' heartbeats, which
carry their counters (runs/metrics.py)."""

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.db.models import Count, Min
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from . import clock, heartbeats, metrics
from .models import Run, Status

# A due run is "not yet sent" once it is this late: a healthy dispatcher claims within a tick.
DUE_GRACE = timedelta(seconds=1)


@dataclass
class Health:
    database: str
    clusters: int | None  # None: not asked

    @property
    def problems(self):
        found = []
        if self.database != "ok":
            found.append(f"The database cannot be reached: {self.database}")
        elif self.clusters == 0:
            found.append("No cluster has beaten in the last "
                         f"{heartbeats.STALE:g} s: runs will not progress (start manage.py runworkers).")
        return found


def health(*, workers=True):
    """The database answers, and (with ``workers``) at least one cluster's heartbeat is fresh."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        clusters = heartbeats.live_clusters().count() if workers else None
    except Exception as exc:
        return Health(database=exc.__class__.__name__, clusters=0 if workers else None)
    return Health(database="ok", clusters=clusters)


def due_not_sent(now):
    """(count, seconds the oldest has waited) of the runs due for more than DUE_GRACE and not out."""
    late = Run.objects.filter(next_poll_at__lte=now - DUE_GRACE, in_flight=False).aggregate(
        count=Count("pk"), oldest=Min("next_poll_at"))
    waited = (now - late["oldest"]).total_seconds() if late["oldest"] else 0.0
    return late["count"], waited


class _Collector:
    def collect(self):
        now = clock.now()
        runs = GaugeMetricFamily("integrations_runs", "Runs by status.", labels=["status"])
        counted = dict(Run.objects.values_list("status").annotate(n=Count("pk")).order_by())
        for status in Status.values:
            runs.add_metric([status], counted.get(status, 0))
        yield runs

        count, waited = due_not_sent(now)
        yield GaugeMetricFamily("integrations_due_runs_not_sent",
                                f"Runs due for more than {DUE_GRACE.total_seconds():g} s whose request is not out.",
                                value=count)
        yield GaugeMetricFamily("integrations_oldest_due_run_wait_seconds",
                                "How long the oldest due run that is not out has waited.", value=waited)

        live = list(heartbeats.live_clusters(now).values_list("host", "pid", "counters"))
        yield GaugeMetricFamily("integrations_clusters_alive", "runworkers processes whose heartbeat is fresh.",
                                value=len(live))
        sent = CounterMetricFamily("integrations_requests_sent", "Requests sent: first requests and polls.",
                                   labels=["cluster", "kind"])
        errors = CounterMetricFamily("integrations_request_errors",
                                     "Requests that got no answer (by the error's kind) or an error status.",
                                     labels=["cluster", "kind"])
        takeovers = CounterMetricFamily("integrations_lease_takeovers",
                                        "Runs taken over from a process that stopped (or whose worker died).",
                                        labels=["cluster"])
        lag = HistogramMetricFamily("integrations_poll_lag_seconds",
                                    "How late a due run was when it was claimed.", labels=["cluster"])
        for host, pid, counters in live:
            cluster = f"{host}:{pid}"
            for kind in metrics.REQUEST_KINDS:
                sent.add_metric([cluster, kind], counters.get(f"requests_sent:{kind}", 0))
            for kind in metrics.ERROR_KINDS:
                errors.add_metric([cluster, kind], counters.get(f"request_errors:{kind}", 0))
            takeovers.add_metric([cluster], counters.get("lease_takeovers", 0))
            buckets = [(f"{bound:g}", counters.get(f"poll_lag_bucket:{bound:g}", 0)) for bound in metrics.LAG_BUCKETS]
            buckets.append(("+Inf", counters.get("poll_lag_count", 0)))
            lag.add_metric([cluster], buckets, counters.get("poll_lag_sum", 0))
        yield from (sent, errors, takeovers, lag)


def prometheus_text():
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    return generate_latest(registry)
