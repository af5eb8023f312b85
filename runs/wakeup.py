"""Wake-ups: the cluster sleeps while nothing is due, and wakes within milliseconds when something may be.

An idle cluster asked the database for due runs 20 times a second (the
dispatcher's tick), and django-q2's ORM broker asked for tasks as often:
10% of a core for nothing. Now the dispatcher, when it found nothing to do,
sleeps until the next run is due (at most INTEGRATIONS_DISPATCH_IDLE), and a waiter wakes it
as soon as a run may have become due:

- on PostgreSQL, a NOTIFY on CHANNEL, which ``notify`` sends in the
  transaction that made a run due (a new run, a start, a callback's
  decision): delivered at its commit, never for a rollback;
- on SQLite, any commit to the database by another connection, which
  ``PRAGMA data_version`` tells for microseconds and no disk read.

A path that makes a run due without ``notify`` is still seen within
INTEGRATIONS_DISPATCH_IDLE seconds. The write-back needs none: the runs it leaves are due an
interval later, and the dispatcher's sleep ends at the first of them.
"""

import logging
import time

from django.db import connection, connections

log = logging.getLogger(__name__)

CHANNEL = "integrations_due"
# How often an SQLite waiter looks at data_version, by default: each look costs some 0.1 ms of CPU, so a
# waiter whose caller may answer later looks less often.
SQLITE_LOOK = 0.04
# How long a PostgreSQL waiter listens at a time before it looks at its stop event.
LISTEN_SLICE = 0.25


def notify(using=None):
    """Say that a run may be due now; call it in the transaction that made it so (PostgreSQL: NOTIFY, sent at
    its commit; SQLite: nothing to do, its waiters see every commit)."""
    db = connections[using] if using else connection
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [CHANNEL])


class Waiter:
    """Waits until a run may have become due, or a time has passed. Its own connection, made on first use
    (and made again after a fault)."""

    def __init__(self, look=SQLITE_LOOK):
        self.db = None
        self.version = None
        self.look = look

    def wait(self, seconds, stop):
        """Sleep up to ``seconds``; True when woken by a change, False on time out or ``stop`` (an Event)."""
        try:
            self._connect()
            if self.db.vendor == "postgresql":
                return self._listen(seconds, stop)
            if self.db.vendor == "sqlite":
                return self._look(seconds, stop)
        except Exception as exc:  # the database is away: the caller's next query says so
            log.debug("Waiting for wake-ups: %s", exc)
            self.close()
        stop.wait(seconds)
        return False

    def changed(self):
        """SQLite: whether another connection committed since the last call (True on the first call)."""
        self._connect()
        version = self.db.connection.execute("PRAGMA data_version").fetchone()[0]
        changed, self.version = version != self.version, version
        return changed

    def close(self):
        if self.db is not None:
            try:
                self.db.close()
            except Exception:
                pass
        self.db, self.version = None, None

    def _connect(self):
        if self.db is None:
            self.db = connections.create_connection("default")
            self.db.ensure_connection()
            if self.db.vendor == "postgresql":
                self.db.connection.autocommit = True
                self.db.connection.execute(f"LISTEN {CHANNEL}")
            elif self.db.vendor == "sqlite":
                self.changed()

    def _listen(self, seconds, stop):
        deadline = time.monotonic() + seconds
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if any(True for _ in self.db.connection.notifies(timeout=min(left, LISTEN_SLICE), stop_after=1)):
                return True
        return False

    def _look(self, seconds, stop):
        deadline = time.monotonic() + seconds
        while not stop.wait(min(self.look, max(deadline - time.monotonic(), 0))):
            if self.changed():
                return True
            if time.monotonic() >= deadline:
                return False
        return False


def sleep_while_idle(waiter, stop, seconds_left, longest, tick):
    """Sleep while nothing is due, at most ``longest`` seconds; returns whether it slept at all.

    ``seconds_left()``: how long until the next thing is due (None: nothing is). Woken by a change, it
    asks again, and sleeps on unless something is due within ``tick``: on SQLite every commit (a
    heartbeat's, each second) wakes the waiter, and asking costs a fraction of what looking for work does.
    """
    deadline = time.monotonic() + longest
    slept = False
    while not stop.is_set():
        left, remaining = seconds_left(), deadline - time.monotonic()
        if remaining <= 0 or left is not None and left <= tick:
            return slept
        waiter.wait(remaining if left is None else min(left, remaining), stop)
        slept = True
    return slept
