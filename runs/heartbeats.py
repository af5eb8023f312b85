"""Which runworkers processes are alive: each beats every second; one silent for STALE seconds is dead.

A lease names its holder, so a run held by a dead process is taken again
within seconds of a live cluster being there, not when its lease lapses.
"""

import os
import secrets
import socket
from datetime import timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from .models import Heartbeat

EVERY = 1.0
STALE = 6.0
VARIABLE = "INTEGRATIONS_HOLDER"


def holder():
    """This process's runworkers identity (inherited by its worker processes), or "" outside a cluster."""
    return os.environ.get(VARIABLE, "")


def become_holder():
    """Give this runworkers process (and the workers it starts) an identity, and beat once."""
    os.environ[VARIABLE] = secrets.token_hex(16)
    Heartbeat.objects.create(holder=holder(), host=socket.gethostname()[:255], pid=os.getpid())
    return holder()


def beat():
    now = timezone.now()
    if not Heartbeat.objects.filter(holder=holder()).update(seen_at=now):
        Heartbeat.objects.create(holder=holder(), host=socket.gethostname()[:255], pid=os.getpid(), seen_at=now)
    # Forget processes gone for a day; their leases are long free.
    Heartbeat.objects.filter(seen_at__lt=now - timedelta(days=1)).delete()


def retire():
    """A clean stop: nothing of this process is in flight any more."""
    Heartbeat.objects.filter(holder=holder()).delete()


def lease_free(now):
    """A Q for runs whose lease may be taken: none, lapsed, or held by a process that stopped beating."""
    alive = Heartbeat.objects.filter(holder=OuterRef("lease_holder"), seen_at__gte=now - timedelta(seconds=STALE))
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now) | ~Q(lease_holder="") & ~Exists(alive)


def live_clusters(now=None):
    now = now or timezone.now()
    return Heartbeat.objects.filter(seen_at__gte=now - timedelta(seconds=STALE))
