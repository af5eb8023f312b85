"""One clock for every process: the database's.

Leases, heartbeats and due times are written by one host and compared by
another, so they must be read off one clock. Each process samples the
database's time (at most every REFRESH seconds) and advances it between
samples by its own monotonic clock: a host whose wall clock is wrong, or
jumps, neither takes another's leases early nor stops polling; only the
database server's clock matters, and it is one clock for all.

On SQLite the database is a file on this host, so its clock is this host's.
"""

import threading
import time
from datetime import datetime, timedelta, timezone as dt_timezone

from django.db import connection
from django.utils import timezone

REFRESH = 5.0

_sample = None  # (database time, time.monotonic() when it was read)
_lock = threading.Lock()


def now():
    """The database's current time, sampled anew when the last sample is older than REFRESH seconds.

    May run a query: threads that have no database connection of their own use ``estimate()``.
    """
    sample = _sample
    if sample is None or time.monotonic() - sample[1] > REFRESH:
        sample = sync()
    return sample[0] + timedelta(seconds=time.monotonic() - sample[1])


def estimate():
    """The database's current time from the last sample, without a query (this host's time if none yet)."""
    sample = _sample
    if sample is None:
        return timezone.now()
    return sample[0] + timedelta(seconds=time.monotonic() - sample[1])


def sync():
    """Read the database's time now; returns the sample. A database that cannot be reached raises."""
    global _sample
    with _lock:
        before = time.monotonic()
        read = _database_time()
        after = time.monotonic()
        # The server read its clock somewhere in the round trip: take the middle.
        _sample = (read, (before + after) / 2)
        return _sample


def forget():
    """Drop the sample (a forked process starts afresh; tests that move the clock)."""
    global _sample
    _sample = None


def _database_time():
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # statement_timestamp(): now() would be the start of an enclosing transaction.
            cursor.execute("SELECT statement_timestamp()")
            value = cursor.fetchone()[0]
        return value.astimezone(dt_timezone.utc)
    return datetime.now(dt_timezone.utc)
