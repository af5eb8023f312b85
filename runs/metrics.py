"""What a cluster counts for Prometheus: requests sent, errors by kind, lease take-overs, poll lag.

The counts live in shared memory that the runworkers parent makes before
its cluster forks, so that every worker adds to the same numbers without a
query; the parent's heartbeat carries them to the database once a second,
and the site's /metrics (runs/views.py) serves every live cluster's counts,
labelled by cluster, beside gauges read from the database. Outside a cluster
nothing is counted.
"""

import collections
import multiprocessing
import time

REQUEST_KINDS = ("request", "poll")
# SendError kinds (runs/http.py), then answers by status.
ERROR_KINDS = ("connection", "timeout", "tls", "blocked", "too_slow", "auth", "status_429", "status_5xx",
               "status_4xx")
# Seconds between the time a run was due and the time it was claimed.
LAG_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

SLOTS = (
    [f"requests_sent:{kind}" for kind in REQUEST_KINDS]
    + [f"request_errors:{kind}" for kind in ERROR_KINDS]
    + ["lease_takeovers", "poll_lag_count", "poll_lag_sum"]
    + [f"poll_lag_bucket:{bound:g}" for bound in LAG_BUCKETS]
)
_INDEX = {name: position for position, name in enumerate(SLOTS)}

_counts = None
# The poll lag counts of the last minute's snapshots (monotonic time, count, sum), oldest first: the
# overview shows how late runs were claimed lately, not since the cluster started.
MINUTE = 60.0
_ring = collections.deque()


def prepare():
    """In the runworkers parent, before the cluster forks."""
    global _counts
    _counts = multiprocessing.get_context("fork").Array("d", len(SLOTS))
    _ring.clear()
    _ring.append((time.monotonic(), 0.0, 0.0))


def add(name, amount=1.0):
    if _counts is not None:
        with _counts.get_lock():
            _counts[_INDEX[name]] += amount


def request_sent(kind, result):
    """Count a request of ``kind`` (request or poll) and, if it failed or was refused, its error's kind."""
    if _counts is None or kind not in REQUEST_KINDS:
        return
    error = error_kind(result)
    with _counts.get_lock():
        _counts[_INDEX[f"requests_sent:{kind}"]] += 1
        if error:
            _counts[_INDEX[f"request_errors:{error}"]] += 1


def error_kind(result):
    """The kind of error a send's result is (a SendError or an answer), or "" for an answer below 400."""
    kind = getattr(result, "kind", None)
    if kind is not None:
        return kind if kind in ERROR_KINDS else "connection"
    status = getattr(result, "status", 0)
    if status == 429:
        return "status_429"
    if status >= 500:
        return "status_5xx"
    if status >= 400:
        return "status_4xx"
    return ""


def claimed(lags, takeovers):
    """Count the poll lag of each claimed run (seconds late) and the leases taken from another holder."""
    if _counts is None:
        return
    with _counts.get_lock():
        _counts[_INDEX["lease_takeovers"]] += takeovers
        for lag in lags:
            _counts[_INDEX["poll_lag_count"]] += 1
            _counts[_INDEX["poll_lag_sum"]] += lag
            for bound in LAG_BUCKETS:
                if lag <= bound:
                    _counts[_INDEX[f"poll_lag_bucket:{bound:g}"]] += 1


def snapshot():
    """{slot: count} of this cluster, or {} outside one; with the poll lag of the last minute
    (``poll_lag_minute_count`` and ``_sum``)."""
    if _counts is None:
        return {}
    with _counts.get_lock():
        counts = {name: _counts[position] for position, name in enumerate(SLOTS)}
    now = time.monotonic()
    _ring.append((now, counts["poll_lag_count"], counts["poll_lag_sum"]))
    while len(_ring) > 1 and _ring[1][0] <= now - MINUTE:
        _ring.popleft()
    _, count, total = _ring[0]
    counts["poll_lag_minute_count"] = counts["poll_lag_count"] - count
    counts["poll_lag_minute_sum"] = counts["poll_lag_sum"] - total
    return counts


def minute_lag(counters):
    """The mean poll lag (seconds) of the last minute over clusters' ``counters``; None when none was claimed."""
    count = sum(each.get("poll_lag_minute_count", 0) for each in counters)
    return sum(each.get("poll_lag_minute_sum", 0) for each in counters) / count if count else None
