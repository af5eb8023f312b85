"""django-q2's brokers, made to wait out an outage quietly.

django-q2's pusher stops for 10 s on a broker error and then dies, to be
started again: every blink of Redis (or of the database, with the ORM
broker) cost ten seconds of polling and a traceback. Here a failed dequeue
is logged once a minute while it lasts (runs.outages), and the pusher asks
again half a second later, so work resumes within a second of the broker;
and since the broker may have lost the tasks it held, the runs this cluster
had claimed are given back to be claimed again at once.
"""

import logging
import time

from django.db import close_old_connections, connection
from django_q.brokers import orm, redis_broker
from django_q.conf import Conf

from . import wakeup
from .outages import Outage, describe

log = logging.getLogger(__name__)

RETRY = 0.5
# An idle ORM broker on SQLite asks for tasks at least this often, changes or not.
RECHECK = 1.0


class _Patient:
    outage = None

    def dequeue(self):
        if self.outage is None:
            self.outage = Outage(log, "Taking tasks from the broker")
        try:
            tasks = super().dequeue()
        except Exception as exc:
            self.outage.failed(exc)
            close_old_connections()
            time.sleep(RETRY)
            return None
        if self.outage.ongoing:
            self.outage.ok()
            self._give_back_claims()
        return tasks

    def _give_back_claims(self):
        from .dispatch import release_claims

        try:
            release_claims()
        except Exception as exc:  # they are claimed again when their claims lapse
            log.warning("Could not give back the runs claimed before the outage: %s", describe(exc))


class Redis(_Patient, redis_broker.Redis):
    pass


class ORM(_Patient, orm.ORM):
    """On SQLite, an empty queue is asked again only once the database changed (runs.wakeup: PRAGMA
    data_version, microseconds a look), or a second later: django-q2 asks every Q_CLUSTER["poll"] seconds
    (0.05), which an idle cluster paid for 20 times a second."""

    acknowledged = None
    changes = None
    empty_until = 0.0

    def dequeue(self):
        if self.changes is None:
            self.changes = wakeup.Waiter() if connection.vendor == "sqlite" else False
        if self.changes:
            try:
                changed = self.changes.changed()  # read before the query: a commit after it is seen next time
            except Exception:
                self.changes.close()
                changed = True
            if not changed and time.monotonic() < self.empty_until:
                time.sleep(Conf.POLL)
                return None
        tasks = super().dequeue()
        self.empty_until = 0.0 if tasks else time.monotonic() + RECHECK
        return tasks

    def acknowledge(self, task_id):
        """django-q2's monitor dies on a database error here. A task not acknowledged is handed out again
        after Q_CLUSTER's retry, and then does nothing: its runs' claims are long gone."""
        if self.acknowledged is None:
            self.acknowledged = Outage(log, "Acknowledging tasks")
        try:
            super().acknowledge(task_id)
        except Exception as exc:
            self.acknowledged.failed(exc)
            close_old_connections()
        else:
            self.acknowledged.ok()
