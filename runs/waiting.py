"""Waiting for a run's status to change without each waiter polling the database.

One watcher thread per process serves every waiter: a waiter registers the
run and the status it saw, and the watcher reads the statuses of all watched
runs in one query (by primary key) every POLL_EVERY seconds, waking those
whose run moved on. 200 waiters cost one small query every quarter second,
not 200, and a waiter needs no database connection of its own while it waits.

The watcher starts with the first waiter (in the process that serves it: a
gunicorn worker, not the master that forked it), closes its connection when
nobody waits, and outlives the database going away: the fault is logged once
(runs.outages) and the waiters wait on, up to their own time limits.
"""

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field

from django.db import connection

from .models import FINISHED, Run
from .outages import Outage

log = logging.getLogger(__name__)

POLL_EVERY = 0.25
# Ids per query: far below any database's limit on query parameters.
CHUNK = 500


class Outcome:
    """How a wait ended (the API's Wait-Outcome header)."""

    CHANGED = "changed"  # the status is no longer the one seen
    TIMEOUT = "timeout"  # the time was up first
    ENDED = "ended"  # the run was already finished: nothing to wait for


@dataclass(eq=False)
class Waiter:
    run_id: int
    seen: str
    woken: threading.Event = field(default_factory=threading.Event)


class Watcher:
    """The one thread of this process that reads watched runs' statuses and wakes their waiters."""

    def __init__(self, every=POLL_EVERY):
        self.every = every
        self.lock = threading.Lock()
        self.waiters = set()
        self.thread = None
        self.pid = None
        self.someone_waits = threading.Event()
        # Set while nobody waits and the watcher holds no database connection.
        self.idle = threading.Event()
        self.idle.set()

    def register(self, run_id, seen):
        """Watch ``run_id`` for a status other than ``seen``; the Waiter's ``woken`` is set when it has one."""
        waiter = Waiter(run_id, seen)
        with self.lock:
            self.waiters.add(waiter)
            self.idle.clear()
            self.someone_waits.set()
            self._start()
        return waiter

    def unregister(self, waiter):
        with self.lock:
            self.waiters.discard(waiter)

    @contextlib.contextmanager
    def watching(self, run_id, seen):
        waiter = self.register(run_id, seen)
        try:
            yield waiter
        finally:
            self.unregister(waiter)

    def _start(self):
        # A forked process (a gunicorn worker) inherits the object but not the thread: start its own.
        if self.thread is None or self.pid != os.getpid() or not self.thread.is_alive():
            self.pid = os.getpid()
            self.thread = threading.Thread(target=self._run, name="run-status-watcher", daemon=True)
            self.thread.start()

    def _run(self):
        outage = Outage(log, "Watching runs for their waiters")
        while True:
            with self.lock:
                waiters = list(self.waiters)
                if not waiters:
                    self.someone_waits.clear()
            if not waiters:
                connection.close()
                with self.lock:
                    if not self.waiters:  # nobody came meanwhile
                        self.idle.set()
                self.someone_waits.wait()
                continue
            try:
                statuses = self._statuses({waiter.run_id for waiter in waiters})
                outage.ok()
            except Exception as exc:  # the thread must outlive the database going away
                outage.failed(exc)
                connection.close()
            else:
                for waiter in waiters:
                    # A run that is gone (deleted) has changed too.
                    if statuses.get(waiter.run_id) != waiter.seen:
                        waiter.woken.set()
            time.sleep(self.every)

    def _statuses(self, run_ids):
        ids = sorted(run_ids)
        statuses = {}
        for start in range(0, len(ids), CHUNK):
            statuses.update(Run.objects.filter(pk__in=ids[start:start + CHUNK]).values_list("pk", "status"))
        return statuses


watcher = Watcher()


def wait_for_change(run, seconds, *, seen=None):
    """Wait up to ``seconds`` for ``run`` to have a status other than ``seen`` (its own by default); the Outcome.

    A run whose status is already another answers CHANGED at once, one already
    finished in the status seen ENDED.
    """
    seen = run.status if seen is None else seen
    if run.status != seen:
        return Outcome.CHANGED
    if seen in FINISHED:
        return Outcome.ENDED
    with watcher.watching(run.pk, seen) as waiter:
        return Outcome.CHANGED if waiter.woken.wait(seconds) else Outcome.TIMEOUT


def let_go_of_connection():
    """Close this thread's database connection: a web thread holds none while it waits, nor keeps one after.

    Hundreds of threads each keeping one (DB_CONN_MAX_AGE) would exhaust PostgreSQL's connections.
    Outside a transaction only: inside one (a test's, an atomic block) it is not ours to drop.
    """
    if not connection.in_atomic_block:
        connection.close()
