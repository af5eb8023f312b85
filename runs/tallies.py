"""Counts of ended runs by hour, action, status and cause: what the overview reads instead of the runs table.

Every place that ends a run calls ``record`` in the transaction of the
update that ended it (and only when that update took effect), so the counts
are exact whatever the number of runs. Durations (end minus start, or minus
creation for a run that never started) are counted in BUCKETS, which is
enough for a p50 and a p95 said as "at most 5 s".
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection

from .models import Tally

# Upper bounds of the duration buckets, in seconds; the last is open.
BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, None)


@dataclass(frozen=True)
class Ended:
    """A run as it ended."""

    action_id: int
    integration_id: int
    status: str
    cause: str
    started_at: datetime
    finished_at: datetime


def ended(run, status=None, cause=None, finished_at=None):
    """An Ended for ``run`` (a Run, or anything with its attributes), with what the ending changed."""
    return Ended(run.action_id, run.integration_id, status or run.status, run.cause if cause is None else cause,
                 run.started_at or run.created_at, finished_at or run.finished_at)


def hour_of(moment):
    return moment.replace(minute=0, second=0, microsecond=0)


def bucket_of(seconds):
    for position, bound in enumerate(BUCKETS):
        if bound is None or seconds <= bound:
            return position
    raise AssertionError("the last bucket is open")


def record(ends):
    """Add ``ends`` (Ended) to the tallies, in the caller's transaction: one statement for them all."""
    rows = {}
    for end in ends:
        seconds = max((end.finished_at - end.started_at).total_seconds(), 0.0)
        key = (hour_of(end.finished_at), end.action_id, end.status, end.cause, bucket_of(seconds))
        count, total, first, last, integration = rows.get(key, (0, 0.0, end.finished_at, end.finished_at,
                                                                  end.integration_id))
        rows[key] = (count + 1, total + seconds, min(first, end.finished_at), max(last, end.finished_at), integration)
    if not rows:
        return
    qn = connection.ops.quote_name
    table = qn(Tally._meta.db_table)
    least, greatest = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("MIN", "MAX")
    moment = Tally._meta.get_field("hour")
    # Always in the same order, so that two transactions never wait for each other's rows crosswise.
    values = [
        (moment.get_db_prep_save(hour, connection), action, integration, status, cause, bucket, count, total,
         moment.get_db_prep_save(first, connection), moment.get_db_prep_save(last, connection))
        for (hour, action, status, cause, bucket), (count, total, first, last, integration) in sorted(rows.items())
    ]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (hour, action_id, integration_id, status, cause, bucket, count, duration_sum, "
            f"first_at, last_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            f"ON CONFLICT (hour, action_id, status, cause, bucket) DO UPDATE SET "
            f"count = {table}.count + excluded.count, duration_sum = {table}.duration_sum + excluded.duration_sum, "
            f"first_at = {least}({table}.first_at, excluded.first_at), "
            f"last_at = {greatest}({table}.last_at, excluded.last_at)",
            values,
        )


def since(within, now):
    """The start of a window of the overview (``within``: "24h" or "7d"): a whole hour, as tallies are counted."""
    return hour_of(now) - (timedelta(days=7) if within == "7d" else timedelta(hours=24))


def percentile(buckets, share):
    """The upper bound (seconds; None: above the last) of the bucket holding ``share`` of {bucket: count}."""
    total = sum(buckets.values())
    if not total:
        return None
    seen = 0
    for position in sorted(buckets):
        seen += buckets[position]
        if seen >= share * total:
            return BUCKETS[position] if BUCKETS[position] is not None else float("inf")
    return float("inf")
