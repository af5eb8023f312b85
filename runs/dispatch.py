"""The dispatcher: finds due runs in the database, leases them, and queues their work.

django-q2's scheduler looks at its schedules only every 30 s and async_task
cannot delay, so due times are kept on the runs and this loop, running a few
times a second beside the cluster, turns them into tasks. Several
dispatchers may run at once: a run is claimed by one lease only.
"""

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from django_q.tasks import async_task

from . import heartbeats
from .models import Run

log = logging.getLogger(__name__)


def claim_due(limit, *, now=None):
    """Lease up to ``limit`` due runs; returns (run ids, lease token).

    A run is due when its next_poll_at has come and its lease is free: it has
    none, it lapsed, or its holder stopped beating (heartbeats.lease_free).
    The claim lasts INTEGRATIONS_LEASE_SECONDS, the time its task may wait in
    the queue; the worker that takes it over leases it for its own timeouts.
    """
    now = now or timezone.now()
    token = secrets.token_hex(16)
    with transaction.atomic():
        due = Run.objects.filter(next_poll_at__lte=now).filter(heartbeats.lease_free(now)).order_by("next_poll_at")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        # On SQLite the IMMEDIATE transaction holds the write lock from here on,
        # so the read and the update below are one step for every other writer.
        ids = list(due.values_list("pk", flat=True)[:limit])
        if ids:
            Run.objects.filter(pk__in=ids).update(
                lease_token=token,
                lease_holder=heartbeats.holder(),
                lease_until=now + timedelta(seconds=settings.INTEGRATIONS_LEASE_SECONDS),
            )
    return ids, token


def dispatch_once():
    """Claim the due runs and queue a task per batch; returns how many runs were queued."""
    ids, token = claim_due(settings.INTEGRATIONS_DISPATCH_LIMIT)
    size = settings.INTEGRATIONS_BATCH_SIZE
    for start in range(0, len(ids), size):
        async_task("runs.tasks.process_batch", ids[start:start + size], token)
    return len(ids)


def dispatch_forever(stop):
    """Dispatch until the threading.Event ``stop`` is set."""
    tick = settings.INTEGRATIONS_DISPATCH_TICK
    while not stop.is_set():
        try:
            queued = dispatch_once()
        except Exception:  # the loop must outlive a lost database connection
            log.exception("Dispatching failed; trying again")
            close_old_connections()
            queued = 0
        if queued < settings.INTEGRATIONS_DISPATCH_LIMIT:
            stop.wait(tick)


def beat_forever(stop):
    """Write this process's heartbeat every second until ``stop`` is set (its own thread, so a slow claim
    never makes a live cluster look dead)."""
    while not stop.wait(heartbeats.EVERY):
        try:
            heartbeats.beat()
        except Exception:
            log.exception("Heartbeat failed; trying again")
            close_old_connections()
