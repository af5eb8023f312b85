"""The dispatcher: finds due runs in the database, leases them, and queues their work.

django-q2's scheduler looks at its schedules only every 30 s and async_task
cannot delay, so due times are kept on the runs and this loop, running a few
times a second beside the cluster while there is work (and sleeping till the
next due time, or a wake-up, when there is none), turns them into tasks. Several
dispatchers may run at once: a run is claimed by one lease only.
"""

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Min
from django_q.brokers import get_broker
from django_q.tasks import async_task

from . import clock, heartbeats, metrics, schedules, wakeup
from .models import Run, Schedule
from .outages import Outage

log = logging.getLogger(__name__)


def claim_due(limit, *, now=None):
    """Lease up to ``limit`` due runs; returns (run ids, lease token).

    A run is due when its next_poll_at has come and its lease is free for
    this process (heartbeats.lease_free: none, lapsed, or its holder stopped
    beating). The claim lasts INTEGRATIONS_LEASE_SECONDS, the time its task
    may wait in the queue; the worker that takes it over leases it for its
    own timeouts. A process whose own heartbeat is not fresh claims nothing.
    """
    now = now or clock.now()
    token = secrets.token_hex(16)
    with transaction.atomic():
        free = heartbeats.lease_free(now)
        if free is None:
            return [], token
        due = Run.objects.filter(next_poll_at__lte=now).filter(free).order_by("next_poll_at")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        # On SQLite the IMMEDIATE transaction holds the write lock from here on,
        # so the read and the update below are one step for every other writer.
        claimed = list(due.values_list("pk", "next_poll_at", "lease_holder", "in_flight")[:limit])
        ids = [pk for pk, _, _, _ in claimed]
        if ids:
            Run.objects.filter(pk__in=ids).update(
                lease_token=token,
                lease_holder=heartbeats.holder(),
                lease_until=now + timedelta(seconds=settings.INTEGRATIONS_LEASE_SECONDS),
            )
    if claimed:
        me = heartbeats.holder()
        # A take-over: a lease of another process (it stopped), or a request of ours whose worker died.
        metrics.claimed([(now - due_at).total_seconds() for _, due_at, _, _ in claimed],
                        sum(1 for _, _, holder, in_flight in claimed if holder and (holder != me or in_flight)))
    return ids, token


def release(ids, token):
    """Give back claimed runs whose task could not be queued, so that they are claimed again at once."""
    Run.objects.filter(pk__in=ids, lease_token=token, in_flight=False).update(
        lease_token="", lease_holder="", lease_until=None)


def release_claims():
    """Give back every run this cluster claimed and has not taken over to send: after a broker outage its
    tasks may be lost (Redis keeps nothing on disk), and their runs must not wait for the claims to lapse.
    A task that did survive finds its claim gone and does nothing; the runs are claimed again at once."""
    return Run.objects.filter(next_poll_at__isnull=False, lease_holder=heartbeats.holder(), in_flight=False).exclude(
        lease_token="").update(lease_token="", lease_holder="", lease_until=None)


def dispatch_once(broker=None):
    """Claim the due runs and queue a task per batch; returns how many runs were queued.

    A task that cannot be queued (the broker is down) gives its runs back and raises.
    """
    ids, token = claim_due(settings.INTEGRATIONS_DISPATCH_LIMIT)
    size = settings.INTEGRATIONS_BATCH_SIZE
    queued = 0
    try:
        for start in range(0, len(ids), size):
            async_task("runs.tasks.process_batch", ids[start:start + size], token, broker=broker)
            queued = start + size
    except Exception:
        release(ids[queued:], token)
        raise
    return len(ids)


def dispatch_forever(stop):
    """Dispatch until the threading.Event ``stop`` is set.

    While the database or the broker is down, each tick tries again and the
    fault is logged once a minute (runs.outages), never once per tick. When a
    pass found nothing due, it sleeps until the next run is due (runs.wakeup:
    at most INTEGRATIONS_DISPATCH_IDLE seconds), woken at once when a run may have become due.
    """
    tick = settings.INTEGRATIONS_DISPATCH_TICK
    outage = Outage(log, "Dispatching")
    waiter = wakeup.Waiter()
    schedules_outage = Outage(log, "Starting scheduled runs")
    broker = None
    while not stop.is_set():
        try:
            # Before the runs: a run a tick starts is due at once, and claimed below in this same turn.
            schedules.tick_due()
            schedules_outage.ok()
        except Exception as exc:  # the database is down (or a schedule is broken): due runs still go out
            schedules_outage.failed(exc)
            close_old_connections()
        try:
            if broker is None:
                broker = get_broker()
            if outage.ongoing:
                broker.ping()
            queued = dispatch_once(broker)
            slept = queued == 0 and wakeup.sleep_while_idle(
                waiter, stop, next_due_in, settings.INTEGRATIONS_DISPATCH_IDLE, tick)
            outage.ok()
        except Exception as exc:  # the loop must outlive a lost database or broker connection
            outage.failed(exc)
            close_old_connections()
            waiter.close()
            queued, slept = 0, False
        if not slept and queued < settings.INTEGRATIONS_DISPATCH_LIMIT:
            stop.wait(tick)
    waiter.close()


def next_due_in(now=None):
    """Seconds until the next run is due by its next_poll_at or the next schedule ticks (negative: due
    already, e.g. leased to someone else), or None when nothing is due at all."""
    due = [Run.objects.filter(next_poll_at__isnull=False).aggregate(first=Min("next_poll_at"))["first"],
           Schedule.objects.filter(enabled=True).aggregate(first=Min("next_tick_at"))["first"]]
    due = [moment for moment in due if moment is not None]
    return None if not due else (min(due) - (now or clock.now())).total_seconds()


def beat_forever(stop):
    """Write this process's heartbeat every second until ``stop`` is set (its own thread, so a slow claim
    never makes a live cluster look dead)."""
    outage = Outage(log, "Heartbeat")
    while not stop.wait(heartbeats.EVERY):
        try:
            heartbeats.beat()
            outage.ok()
        except Exception as exc:
            outage.failed(exc)
            close_old_connections()
