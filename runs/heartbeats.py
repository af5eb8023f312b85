"""Which runworkers processes are alive: each beats every second; one silent for STALE seconds is dead.

A lease names its holder, so a run held by a dead process is taken again
within seconds of a live cluster being there, not when its lease lapses.

Every time is the database's (runs.clock), and silence is judged with care:
when the database blinks, every process falls silent at once, and the first
to see it back must not take the others' runs (nor its own) while their
answers are still on their way to the database. So a process judges others
only once its own beats have been steady for STALE seconds, never judges
itself dead, and a process whose beats resumed after a break keeps its runs
in flight for SETTLE seconds more, the time to write their answers back.
"""

import os
import secrets
import socket
import time
from datetime import timedelta

from django.db.models import Case, Exists, F, OuterRef, Q, Value, When

from . import clock, metrics
from .models import Heartbeat

EVERY = 1.0
STALE = 6.0
# A process stops taking runs this long before others may judge it dead (STALE after its last beat),
# so that the two never overlap.
FENCE_MARGIN = 2.0
# How long after its beats resume a process keeps the runs it had in flight, although their leases lapsed.
SETTLE = 10.0
VARIABLE = "INTEGRATIONS_HOLDER"
FORGET_EVERY = 60.0
_forgotten_at = -FORGET_EVERY


def holder():
    """This process's runworkers identity (inherited by its worker processes), or "" outside a cluster."""
    return os.environ.get(VARIABLE, "")


def become_holder():
    """Give this runworkers process (and the workers it starts) an identity, and beat once."""
    os.environ[VARIABLE] = secrets.token_hex(16)
    now = clock.sync()[0]
    Heartbeat.objects.create(holder=holder(), host=socket.gethostname()[:255], pid=os.getpid(),
                             started_at=now, seen_at=now, since=now)
    return holder()


def beat():
    """Say this process is alive, on the database's clock; a beat after a break starts a new ``since``."""
    clock.sync()
    now = clock.now()
    broke = now - timedelta(seconds=STALE)
    counters = metrics.snapshot()
    if not Heartbeat.objects.filter(holder=holder()).update(
        since=Case(When(seen_at__lt=broke, then=Value(now)), default=F("since")), seen_at=now, counters=counters,
    ):
        Heartbeat.objects.create(holder=holder(), host=socket.gethostname()[:255], pid=os.getpid(),
                                 started_at=now, seen_at=now, since=now, counters=counters)
    # Forget processes gone for a day (their leases are long free), once a minute: a query a second less.
    global _forgotten_at
    if time.monotonic() - _forgotten_at >= FORGET_EVERY:
        Heartbeat.objects.filter(seen_at__lt=now - timedelta(days=1)).delete()
        _forgotten_at = time.monotonic()


def retire():
    """A clean stop: nothing of this process is in flight any more."""
    Heartbeat.objects.filter(holder=holder()).delete()


def fenced(now):
    """True while this process may not start work: its own heartbeat is not fresh, so others may soon
    judge it dead (outside a cluster there is no heartbeat, and no fence)."""
    me = holder()
    return bool(me) and not Heartbeat.objects.filter(holder=me, seen_at__gte=_ago(now, STALE - FENCE_MARGIN)).exists()


def lease_free(now):
    """A Q for the runs whose lease this process may take now, or None while it may take none.

    Free: no lease; a holder that stopped cleanly (no heartbeat); a lapsed
    lease, unless the run is in flight for a holder whose beats resumed less
    than SETTLE seconds ago; and, once this process has beaten steadily for
    STALE seconds, any lease of another holder that stopped beating.
    """
    me = holder()
    judge_others = True
    if me:
        mine = Heartbeat.objects.filter(holder=me).values_list("seen_at", "since").first()
        if mine is None or mine[0] < _ago(now, STALE - FENCE_MARGIN):
            return None
        judge_others = mine[1] <= _ago(now, STALE)
    heartbeat = Heartbeat.objects.filter(holder=OuterRef("lease_holder"))
    fresh = heartbeat.filter(seen_at__gte=_ago(now, STALE))
    settled = fresh.filter(since__lte=_ago(now, SETTLE))
    free = Q(lease_until__isnull=True) | ~Q(lease_holder="") & ~Exists(heartbeat)
    free |= Q(lease_until__lt=now) & (Q(in_flight=False) | Q(lease_holder="") | Exists(settled))
    if judge_others:
        free |= ~Q(lease_holder="") & ~Q(lease_holder=me) & ~Exists(fresh)
    return free


def live_clusters(now=None):
    now = now or clock.now()
    return Heartbeat.objects.filter(seen_at__gte=_ago(now, STALE))


def _ago(now, seconds):
    return now - timedelta(seconds=seconds)
